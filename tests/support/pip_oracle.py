"""The real pip as an oracle for safe-pip's reading of pip's inputs (tests only).

A subprocess of the interpreter that owns the pip under test imports pip's own
parsers - ``parse_command``, each command's ``ConfigOptionParser``, pip's
requirement-file parser - and prints, as JSON, what pip made of a command line or
a requirements file. Nothing is installed, resolved or built: the parse is all
that runs, with pip's configuration switched off (``PIP_CONFIG_FILE`` is the null
device) unless a test hands in its own.

This is the "real loader in a subprocess" of the project's differential tests;
safe-pip itself never imports pip.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.venvs import isolated_env

_TABLES = r"""
import json, sys
from pip._internal.cli.main_parser import create_main_parser
from pip._internal.commands import commands_dict, create_command
from pip._internal.req import req_file

def table(options):
    return sorted(
        [sorted(o._short_opts + o._long_opts), o.dest, o.takes_value()]
        for o in options
    )

out = {"main": table(create_main_parser().option_list_all), "commands": {}}
for name in commands_dict:
    out["commands"][name] = table(create_command(name).parser.option_list_all)
out["req_file"] = table(o() for o in req_file.SUPPORTED_OPTIONS + req_file.SUPPORTED_OPTIONS_REQ)
print(json.dumps(out))
"""

_PARSE = r"""
import contextlib, io, json, os, sys
from pip._internal.cli.main_parser import parse_command
from pip._internal.commands import create_command

def one(args):
  result = {"kind": "command"}
  try:
    name, cmd_args = parse_command(args)
    result["command"] = name
    cmd = create_command(name, isolated=("--isolated" in cmd_args))
    options, positional = cmd.parse_args(cmd_args)
    result["positionals"] = positional
    values = {}
    for opt in cmd.parser.option_list_all:
        if opt.action in ("store", "append", "store_true", "store_false", "count"):
            values[opt.dest] = getattr(options, opt.dest, None)
    result["values"] = values
  except SystemExit as exc:
    result["kind"] = "exit"
    result["code"] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
  except Exception as exc:
    result["kind"] = "error"
    result["error"] = f"{type(exc).__name__}: {exc}"
  return result

results = []
for args in json.loads(sys.stdin.read()):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        results.append(one(args))
print("\n@@ORACLE@@" + json.dumps(results, default=repr))
"""


def _run(
    python: Path, code: str, *args: str, env: Mapping[str, str] | None = None, stdin: str = ""
) -> str:
    home = Path(os.environ.get("TMPDIR", "/tmp"))
    proc = subprocess.run(
        [str(python), "-I", "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else isolated_env(home),
        cwd=str(home),
        timeout=120,
    )
    if proc.returncode not in (0, 1, 2) and "@@ORACLE@@" not in proc.stdout:
        raise RuntimeError(f"pip oracle failed: {proc.stderr[-2000:]}")
    return proc.stdout


@functools.lru_cache(maxsize=8)
def option_tables(python: Path) -> dict[str, Any]:
    """pip's own option tables: ``[[names...], dest, takes_value]`` per parser."""
    result: dict[str, Any] = json.loads(_run(python, _TABLES))
    return result


def parse_many(
    python: Path, lines: Sequence[Sequence[str]], *, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """What pip's ``parse_command`` and the command's parser make of each line."""
    out = _run(python, _PARSE, env=env, stdin=json.dumps([list(a) for a in lines]))
    marker = out.rfind("@@ORACLE@@")
    if marker < 0:
        raise RuntimeError(f"pip oracle printed no result: {out[-2000:]}")
    result: list[dict[str, Any]] = json.loads(out[marker + len("@@ORACLE@@") :])
    return result


def parse(
    python: Path, args: Sequence[str], *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return parse_many(python, [args], env=env)[0]


def pip_dir(python: Path) -> Path:
    """Where ``python``'s pip package lives (found without importing it)."""
    out = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            "import importlib.util as u; print(u.find_spec('pip').submodule_search_locations[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


if __name__ == "__main__":  # pragma: no cover - manual use
    print(json.dumps(parse(Path(sys.argv[1]), sys.argv[2:]), indent=2))
