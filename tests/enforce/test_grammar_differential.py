"""The dispatcher's reading of a pip command line agrees with the real pip's (23.2 and 26.3).

For environments without the hook, the shell functions and PATH shims decide with the
shared grammar whether pip would run a command that resolves requirements. The oracle is
the real pip in a subprocess (``tests/support/pip_oracle.py``): its ``parse_command`` and
the command's own parser, with nothing run. Every attack spelling from issue 18 and the
variants found while fixing it are here; a disagreement is a bypass (or a false block).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from safe_pip.gate.pip_options import load_grammar, parse_pip_command
from tests.support import pip_oracle

ATTACKS: list[list[str]] = [
    ["install", "x"],
    ["install", "-V", "x"],  # pip 23.2 accepts the general -V inside install and installs
    ["install", "--version", "x"],
    ["install", "--log", "--help", "x"],  # --help is the log file's name
    ["--time", "5", "install", "x"],  # --time abbreviates --timeout
    ["--timeout=5", "install", "x"],
    ["--tim", "5", "install", "x"],
    ["-qqq", "install", "x"],
    ["--log", "install", "install", "x"],  # the first "install" is the log file
    ["--isolated", "install", "--upgrade", "x"],
    ["install", "-qU", "x"],
    ["install", "--dry-run", "x"],  # pip resolves (and may build) even in a dry run
    ["install", "--no-ind", "x"],
    ["download", "x"],
    ["download", "-d", "--help", "x"],
    ["wheel", "--wheel-dir", "w", "x"],
    ["install", "-r", "--version"],
    ["-v", "--", "install", "x"],
    ["instal", "x"],  # no such command: pip refuses, nothing to gate
    ["install", "--help", "x"],  # help: pip prints and exits
    ["--version", "install", "x"],  # version before the command: pip prints and exits
    ["help", "install"],
    ["list"],
    ["show", "install"],
    ["uninstall", "-y", "x"],
    ["install", "--no-such-option", "x"],  # a usage error: pip exits before installing
]


def _grammar_says(python: Path, args: list[str]) -> str:
    grammar = load_grammar(pip_oracle.pip_dir(python), cache=False)
    line = parse_pip_command(args, grammar)
    if line.kind != "command":
        return "no-run"
    return "gate" if line.command in grammar.requirement_commands else "pass"


def _pip_says(result: dict[str, object], resolving: set[str]) -> str:
    if result["kind"] != "command":
        return "no-run"
    return "gate" if result["command"] in resolving else "pass"


_RESOLVING = r"""
import json
from pip._internal.cli.req_command import RequirementCommand
from pip._internal.commands import commands_dict, create_command
print(json.dumps(sorted(n for n in commands_dict
                        if isinstance(create_command(n), RequirementCommand))))
"""


def _resolving(python: Path) -> set[str]:
    out = subprocess.run(
        [str(python), "-I", "-c", _RESOLVING], capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


@pytest.mark.slow
def test_requirement_commands_are_pips_own(any_pip: Path) -> None:
    grammar = load_grammar(pip_oracle.pip_dir(any_pip), cache=False)
    assert set(grammar.requirement_commands) == _resolving(any_pip)


@pytest.mark.slow
def test_attack_lines_gated_exactly_where_pip_would_run_them(any_pip: Path) -> None:
    resolving = _resolving(any_pip)
    results = pip_oracle.parse_many(any_pip, ATTACKS)
    wrong = []
    for args, result in zip(ATTACKS, results, strict=True):
        ours, theirs = _grammar_says(any_pip, args), _pip_says(result, resolving)
        if ours != theirs:
            wrong.append((args, ours, theirs))
    assert not wrong, wrong
    # the attacks that every pip runs are gated (-V/--version inside install run
    # the install on pip 23.2 and print the version on 26.3; the differential covers both)
    for args in (ATTACKS[0], ATTACKS[3], ATTACKS[4], ATTACKS[8]):
        assert _grammar_says(any_pip, args) == "gate", args
