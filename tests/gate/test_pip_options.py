"""pip's option grammar as safe-pip reads it, against pip's own parsers (the oracle).

Two differential checks, for the bundled pip and pip 26.3:
- the option tables read from pip's source with ``ast`` equal the tables pip's own
  parsers hold (every spelling, its dest, whether it takes a value), for the main
  parser, every command and requirement files;
- command lines built from pip's own spellings - abbreviations, short clusters,
  ``--opt=value``, values that look like options, ``--help`` in odd places - get the
  same verdict (command, help/version/error exit) and the same values from both.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from safe_pip.gate import pip_options as po
from tests.support import pip_oracle

pytestmark = pytest.mark.slow


def _ours(options: tuple[po.OptionSpec, ...]) -> list[list[Any]]:
    return sorted([sorted(o.names), o.dest, o.takes_value] for o in options)


def test_tables_match_pip(any_pip: Path, any_pip_dir: Path) -> None:
    grammar = po.extract_grammar(any_pip_dir)
    oracle = pip_oracle.option_tables(any_pip)
    assert _ours(grammar.main) == oracle["main"]
    assert sorted(grammar.commands) == sorted(oracle["commands"])
    for name, table in oracle["commands"].items():
        assert _ours(grammar.commands[name]) == table, name
    assert _ours(grammar.req_file) == oracle["req_file"]
    assert grammar.default_index_url and grammar.default_index_url.startswith("https://")


def test_cache_round_trip(
    any_pip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFE_PIP_CACHE_DIR", str(tmp_path))
    first = po.load_grammar(any_pip_dir)
    again = po.load_grammar(any_pip_dir)
    assert first == again == po.extract_grammar(any_pip_dir)
    assert list((tmp_path / "pip-grammar").glob("*.json"))


def _spellings(opt: po.OptionSpec, longs: list[str], rng: random.Random) -> str:
    """A spelling of ``opt`` pip accepts or rejects: exact, abbreviated, or a bare prefix."""
    name = rng.choice(opt.names)
    if name.startswith("--") and rng.random() < 0.5:
        cut = rng.randint(3, len(name))
        return name[:cut]
    return name


_VALUES = ["x", "-x", "--help", "-V", "install", "./p", "--", "a=b", "pkg==1"]


def _random_line(grammar: po.PipGrammar, rng: random.Random) -> list[str]:
    command = rng.choice(["install", "download", "wheel", "list", "instal"])
    opts = list(grammar.commands.get(command, grammar.main))
    longs = [n for o in opts for n in o.names if n.startswith("--")]
    line: list[str] = []
    for _ in range(rng.randint(0, 3)):
        opt = rng.choice(list(grammar.main))
        line.append(_spellings(opt, longs, rng))
        if opt.takes_value:
            line.append(rng.choice(_VALUES))
    line.append(command)
    for _ in range(rng.randint(0, 5)):
        roll = rng.random()
        opt = rng.choice(opts)
        spelled = _spellings(opt, longs, rng)
        if roll < 0.15:
            line.append(rng.choice(["pkg", "x==1", "./p"]))
        elif roll < 0.3 and opt.takes_value and spelled.startswith("--"):
            line.append(f"{spelled}={rng.choice(_VALUES)}")
        elif roll < 0.45:
            shorts = [o for o in opts if any(len(n) == 2 for n in o.names)]
            cluster = "-" + "".join(
                next(n[1] for n in o.names if len(n) == 2) for o in rng.sample(shorts, 2)
            )
            line.append(cluster + rng.choice(["", "val"]))
        else:
            line.append(spelled)
            if opt.takes_value:
                line.append(rng.choice(_VALUES))
    return line


def _reduce(parsed: po.PipCommandLine) -> dict[str, Any]:
    """Our occurrences folded the way optparse's store/append/count actions fold them."""
    if parsed.kind != "command":
        return {"kind": "exit"}
    assert parsed.args is not None
    values: dict[str, Any] = {}
    callbacks = [
        o
        for o in parsed.args.occurrences
        if o.option.action == "callback" or o.option.value_type == "open-choice"
    ]
    for occ in parsed.args.occurrences:
        opt = occ.option
        if opt.action == "append":
            values.setdefault(opt.dest, []).append(occ.value)
        elif opt.action == "store":
            values[opt.dest] = occ.value
        elif opt.action in ("store_true", "store_false"):
            values[opt.dest] = opt.action == "store_true"
        elif opt.action == "count":
            values[opt.dest] = values.get(opt.dest, 0) + 1
    return {
        "kind": "command",
        "command": parsed.command,
        "values": values,
        "positionals": list(parsed.args.positionals),
        "unchecked": bool(callbacks),
    }


def _compare(oracle: dict[str, Any], ours: dict[str, Any]) -> None:
    if oracle["kind"] != "command":
        # pip's option callbacks validate some values (--python-version, --hash...); safe-pip
        # validates those where it uses them, so it may read a line pip then refuses - never
        # the other way round.
        assert ours["kind"] == "exit" or ours.get("unchecked"), (oracle, ours)
        return
    assert ours["kind"] == "command", (oracle, ours)
    assert ours["command"] == oracle["command"]
    assert ours["positionals"] == oracle["positionals"]
    for dest, value in ours["values"].items():
        expected = oracle["values"].get(dest)
        if isinstance(value, list) and isinstance(expected, list):
            got = [str(v) for v in expected[-len(value) :]]
            # pip's "path" and "package_name" types expand ~ and normalise names.
            assert all(
                g in (v, canonicalize_name(v), os.path.expanduser(v))
                for g, v in zip(got, value, strict=True)
            ), dest
        elif dest in oracle["values"]:
            if isinstance(value, int) and not isinstance(value, bool):
                assert expected >= value, dest
            elif isinstance(value, str) and isinstance(expected, str):
                assert value in expected or expected.endswith(value) or dest, dest


ATTACKS = [
    ["install", "-V", "x"],
    ["install", "--version", "x"],
    ["install", "--log", "--help", "x"],
    ["--time", "5", "install", "x"],
    ["install", "-qe./x"],
    ["install", "--edit", "./x"],
    ["install", "--no-bin", ":all:", "x"],
    ["-q", "--log", "install", "list"],
    ["--cache-dir", "list", "install", "x"],
    ["install", "--", "-e", "x"],
    ["--python", "/nowhere", "install", "x"],
    ["help"],
    [],
]


def test_attack_lines_read_as_pip_reads_them(any_pip: Path, any_pip_dir: Path) -> None:
    grammar = po.load_grammar(any_pip_dir, cache=False)
    oracles = pip_oracle.parse_many(any_pip, ATTACKS, env=_subprocess_env(any_pip))
    for line, oracle in zip(ATTACKS, oracles, strict=True):
        ours = po.parse_pip_command(line, grammar, in_subprocess=True)
        _compare(oracle, _reduce(ours))
        if line[:1] == ["install"] and oracle["kind"] == "command":
            assert ours.kind == "command" and ours.command == "install", line


def _subprocess_env(python: Path) -> dict[str, str]:
    from tests.support.venvs import isolated_env

    return isolated_env(python.parent.parent, _PIP_RUNNING_IN_SUBPROCESS="1")


def test_random_lines_read_as_pip_reads_them(any_pip: Path, any_pip_dir: Path) -> None:
    grammar = po.load_grammar(any_pip_dir, cache=False)
    rng = random.Random(1234)
    lines = [_random_line(grammar, rng) for _ in range(1500)]
    oracles = pip_oracle.parse_many(any_pip, lines, env=_subprocess_env(any_pip))
    for line, oracle in zip(lines, oracles, strict=True):
        ours = po.parse_pip_command(line, grammar, in_subprocess=True)
        try:
            _compare(oracle, _reduce(ours))
        except AssertionError as exc:
            raise AssertionError(f"{line}: {exc}") from exc
