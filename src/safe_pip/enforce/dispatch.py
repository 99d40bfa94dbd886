"""The runtime behind every PATH shim and shell function: find the environment, then route.

Invoked as ``<python> -m safe_pip.enforce.dispatch --as NAME [--shim-dir DIR] -- ARGS``
where NAME is what the user typed (``pip``, ``pip3.11``, ``python3``).

1. The target is the environment the replaced command belongs to: the interpreter in the
   shebang of the next real ``pip*`` on ``PATH``, or the next real ``python*``; pip's own
   ``--python`` is honoured by the shared grammar below.
2. A ``python`` call that does not run pip (:mod:`.argv`) goes to the real interpreter.
3. In an environment protected by safe-pip's hook (:mod:`.hook`), the real command runs
   unchanged: the hook decides inside pip, with pip's own parser, however pip was started.
   Except under ``python -S``: no ``site``, no hook, so the decision is made here.
4. Elsewhere the command line is read with the target pip's own grammar
   (:func:`safe_pip.gate.pip_options.parse_pip_command`): a command that pip would run and
   that resolves requirements (``install``, ``download``, ``wheel``, ``lock``: pip's
   ``RequirementCommand`` family) goes to :mod:`.gatekeep`; help, version, errors and every
   other command go to the real pip, which then installs nothing.

Fail closed: no environment, or a pip whose grammar cannot be read, means pip is not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from safe_pip.enforce import argv as python_argv
from safe_pip.enforce import discover
from safe_pip.errors import EXIT_ERROR, SafePipError


@dataclass(frozen=True)
class Invocation:
    name: str
    shim_dirs: tuple[Path, ...]
    args: tuple[str, ...]


def parse(argv: Sequence[str]) -> Invocation:
    """``--as NAME [--shim-dir DIR]... -- ARGS``; anything else is a usage error."""
    name: str | None = None
    dirs: list[Path] = []
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            i += 1
            break
        if arg in ("--as", "--shim-dir") and i + 1 < len(items):
            if arg == "--as":
                name = items[i + 1]
            else:
                dirs.append(Path(items[i + 1]))
            i += 2
            continue
        raise SafePipError(f"dispatch: unexpected argument {arg!r}")
    if not name:
        raise SafePipError("dispatch: --as NAME is required")
    return Invocation(name, tuple(dirs), tuple(items[i:]))


def _say(msg: str) -> None:
    print(f"safe-pip: {msg}", file=sys.stderr)


def _exec(cmd: list[str]) -> int:
    """Replace this process with ``cmd`` (POSIX); run it and return its code elsewhere."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "nt":
        os.execv(cmd[0], cmd)
    return subprocess.run(cmd).returncode


@dataclass(frozen=True)
class Target:
    """The command the user would have run, and the interpreter whose pip it runs."""

    real: list[str] | None
    python: Path | None
    pip_args: tuple[str, ...] | None
    """pip's arguments, or ``None`` when the command does not run pip."""
    no_site: bool = False


def find_target(inv: Invocation) -> Target:
    real = discover.find_real(inv.name, skip_dirs=inv.shim_dirs)
    if not inv.name.startswith("pip"):
        call = python_argv.parse_python(inv.args)
        cmd = [str(real), *inv.args] if real is not None else None
        if not call.runs_pip:
            return Target(cmd, real, None)
        return Target(cmd, real, call.rest, call.no_site)
    python = discover.interpreter_of(real) if real is not None else None
    if python is None:
        suffix = discover.pip_version_suffix(inv.name) or ""
        python = discover.find_real(f"python{suffix}", skip_dirs=inv.shim_dirs)
        if python is None and not suffix:
            python = discover.find_real("python3", skip_dirs=inv.shim_dirs)
    if real is not None:
        return Target([str(real), *inv.args], python, inv.args)
    if python is not None:
        return Target([str(python), "-m", "pip", *inv.args], python, inv.args)
    return Target(None, None, inv.args)


def run(inv: Invocation) -> int:
    from safe_pip.enforce import gatekeep, hook

    target = find_target(inv)
    if target.pip_args is None:
        if target.real is None:
            _say(f"no {inv.name} found on PATH after the safe-pip shims")
            return EXIT_ERROR
        return _exec(target.real)
    if target.python is None or target.real is None:
        _say(
            f"cannot tell which Python environment '{inv.name}' belongs to (no real pip or "
            "python on PATH); refusing to run pip (fail closed)"
        )
        return EXIT_ERROR
    if not target.no_site and hook.is_protected(target.python):
        return _exec(target.real)  # the environment's own hook decides, with pip's parser
    line = _read(target.python, target.pip_args)
    if line.kind != "command" or line.command not in line.resolving:
        return _exec(target.real)  # help, version, errors and list/show/...: nothing installs
    python = _interpreter(Path(line.python)) if line.python else target.python
    if target.no_site:
        _say("python -S runs pip without site, so no environment hook can see it; gating here")
    request = gatekeep.Request(
        python, str(line.command), line.command_args, via="shim", dry_run=line.dry_run
    )
    return gatekeep.route(request, real=target.real)


def _interpreter(path: Path) -> Path:
    """pip's ``--python`` takes an interpreter or an environment folder (as pip does)."""
    if path.is_dir():
        for exe in ("bin/python", "Scripts/python.exe"):
            if (path / exe).exists():
                return path / exe
    return path


@dataclass(frozen=True)
class _Line:
    kind: str
    command: str | None
    command_args: tuple[str, ...]
    python: str | None
    resolving: frozenset[str]
    dry_run: bool


def _read(python: Path, args: Sequence[str]) -> _Line:
    """The pip command line as the target's pip reads it."""
    from safe_pip.gate import inputs
    from safe_pip.gate.pip_options import parse_pip_command

    try:
        grammar = inputs.grammar_for(inputs.probe_target(python))
    except SafePipError as exc:
        raise SafePipError(f"cannot read the options of {python}'s pip ({exc})") from exc
    line = parse_pip_command(
        args, grammar, in_subprocess="_PIP_RUNNING_IN_SUBPROCESS" in os.environ
    )
    dry_run = line.args is not None and bool(line.args.of("dry_run"))
    resolving = grammar.requirement_commands
    return _Line(line.kind, line.command, line.command_args, line.python, resolving, dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    from safe_pip.enforce.gatekeep import guarded

    items = sys.argv[1:] if argv is None else argv
    return guarded(lambda: run(parse(items)), "pip was not run")


if __name__ == "__main__":
    sys.exit(main())
