"""The completion scripts, loaded into the real bash, zsh and fish.

Each script is printed by the real ``safe-pip completion SHELL`` and driven the way the
shell drives it on a tab press: bash through its ``COMP_WORDS`` protocol, fish through
``complete -C`` (fish's own completion engine), zsh interactively on a pseudo-terminal
(its completion system only runs inside the line editor).  A second set generates the
scripts from a small parser made here, so a test fails if the scripts stop following
the parser they are given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from safe_pip.cli import COMMANDS, build_parser
from safe_pip.completion import SHELLS, Command, read_parser, script
from safe_pip.policy import PROFILES

SHELL_BINARIES = {"bash": "bash", "zsh": "zsh", "fish": "fish"}


def _real(*path: str) -> Command:
    """The command at ``path`` in the real parser: what the scripts must offer comes from
    there (and from the code behind it), never from a list kept by hand in this file."""
    return next(c for c in read_parser(build_parser()).walk() if c.path == path)


def _choices(command: Command, flag: str) -> tuple[str, ...]:
    return next(o.choices for o in command.options if flag in o.flags)


POLICY_ACTIONS = [sub.path[-1] for sub in _real("policy").subcommands]
PROFILE_NAMES = sorted(_choices(_real("policy", "init"), "--profile"))


def test_the_expectations_come_from_the_code() -> None:
    """The profiles offered are the shipped ones, and the lists below are not empty."""
    assert set(PROFILE_NAMES) == set(PROFILES)
    assert {"init", "explain"} <= set(POLICY_ACTIONS)
    assert list(_real("completion").choices) == list(SHELLS)


def _needs(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each shell's script as the real command prints it."""
    out = tmp_path_factory.mktemp("completion")
    paths = {}
    for shell in SHELL_BINARIES:
        proc = subprocess.run(
            [sys.executable, "-m", "safe_pip", "completion", shell],
            capture_output=True,
            text=True,
            check=True,
        )
        assert proc.stderr == ""
        paths[shell] = out / f"safe-pip.{shell}"
        paths[shell].write_text(proc.stdout)
    return paths


# -- bash -------------------------------------------------------------------------------------
_BASH_DRIVER = """
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
_safe_pip
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(script_path: Path, line: list[str], cwd: Path | None = None) -> list[str]:
    """What bash offers for ``line`` (the last word is the one being completed)."""
    proc = subprocess.run(
        ["bash", "--norc", "-c", _BASH_DRIVER, "bash", str(script_path), *line],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    assert proc.stderr == ""
    return [w for w in proc.stdout.splitlines() if w]


def fish_complete(script_path: Path, line: str, cwd: Path | None = None) -> list[str]:
    """What fish offers for ``line`` (descriptions dropped)."""
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script_path}; complete -C {line!r}"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    assert proc.stderr == ""
    return [w.split("\t")[0] for w in proc.stdout.splitlines() if w]


def test_scripts_parse_in_their_shells(scripts: dict[str, Path]) -> None:
    for shell, path in scripts.items():
        _needs(shell)
        subprocess.run([shell, "-n", str(path)], check=True)


def test_bash_offers_every_command_then_follows_the_path(scripts: dict[str, Path]) -> None:
    _needs("bash")
    bash = scripts["bash"]
    assert set(bash_complete(bash, ["safe-pip", ""])) == {name for name, _, _ in COMMANDS}
    assert bash_complete(bash, ["safe-pip", "po"]) == ["policy"]
    assert bash_complete(bash, ["safe-pip", "policy", ""]) == POLICY_ACTIONS
    for profile in PROFILE_NAMES:  # each one's first letters complete to it (or to its peers)
        offered = bash_complete(bash, ["safe-pip", "policy", "init", "--profile", profile[:2]])
        assert sorted(offered) == [p for p in PROFILE_NAMES if p.startswith(profile[:2])]
    assert bash_complete(bash, ["safe-pip", "policy", "init", "--profile", ""]) == list(
        _choices(_real("policy", "init"), "--profile")
    )
    assert bash_complete(bash, ["safe-pip", "install", "--format", "=", "j"]) == ["json"]
    assert "--dry-run" in bash_complete(bash, ["safe-pip", "install", "--d"])
    assert bash_complete(bash, ["safe-pip", "completion", ""]) == list(SHELLS)


def test_bash_completes_files_where_a_path_goes(scripts: dict[str, Path], tmp_path: Path) -> None:
    _needs("bash")
    (tmp_path / "policy-a.toml").write_text("")
    (tmp_path / "install").mkdir()
    bash = scripts["bash"]
    assert bash_complete(bash, ["safe-pip", "scan", "--policy", "pol"], tmp_path) == [
        "policy-a.toml"
    ]
    # The value of --policy is a file named like a command, not the command.
    assert bash_complete(bash, ["safe-pip", "scan", "--policy", "install", "p"], tmp_path) == [
        "policy-a.toml"
    ]
    # A flag without a path value completes nothing (not file names).
    assert bash_complete(bash, ["safe-pip", "install", "--min-age", ""], tmp_path) == []


def test_fish_offers_commands_with_their_help(scripts: dict[str, Path], tmp_path: Path) -> None:
    _needs("fish")
    fish = scripts["fish"]
    assert set(fish_complete(fish, "safe-pip ")) == {name for name, _, _ in COMMANDS}
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {fish}; complete -C 'safe-pip pol'"],
        capture_output=True,
        text=True,
        check=True,
    )
    help_text = next(text for name, _, text in COMMANDS if name == "policy")
    assert proc.stdout.strip() == f"policy\t{help_text}"
    assert set(fish_complete(fish, "safe-pip policy ")) == set(POLICY_ACTIONS)
    assert fish_complete(fish, "safe-pip policy init --profile ") == PROFILE_NAMES
    assert fish_complete(fish, "safe-pip install --format=s") == ["--format=sarif"]
    (tmp_path / "reqs.txt").write_text("")
    assert fish_complete(fish, "safe-pip install --policy install re", tmp_path) == ["reqs.txt"]


def _zsh(script_path: Path, home: Path) -> pexpect.spawn[str]:
    """An interactive zsh with compinit and the script loaded, at a known prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDOTDIR")}
    env.update(HOME=str(home), TERM="dumb", PS1="ZPROMPT> ")
    shell = pexpect.spawn(
        "zsh", ["-f", "-i"], env=env, encoding="utf-8", timeout=20, dimensions=(50, 200)
    )
    shell.sendline(
        "autoload -U compinit && compinit -u -d $HOME/.zcompdump; "
        f"source {script_path}; LISTMAX=0; echo READY"
    )
    shell.expect("READY")
    shell.expect("ZPROMPT> ")
    return shell


def test_zsh_completes_in_the_line_editor(scripts: dict[str, Path], tmp_path: Path) -> None:
    _needs("zsh")
    shell = _zsh(scripts["zsh"], tmp_path)
    try:
        shell.send("safe-pip pol\t")
        shell.expect("safe-pip policy ")  # the word was completed in place
        shell.send("\t")
        # The listing names each action with its help.
        shell.expect(r"explain\s+-- what a rule id means")
        shell.sendcontrol("u")
        shell.send("safe-pip policy init --profile \t")
        shell.expect(r"\s+".join(PROFILE_NAMES))  # zsh lists them sorted
        shell.sendcontrol("u")
        shell.send("safe-pip install --format=sa\t")
        shell.expect("--format=sarif")
    finally:
        shell.close(force=True)


# -- generated from the parser it is given ----------------------------------------------------
def _toy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--colour", choices=("red", "blue"), help="the colour")
    sub = parser.add_subparsers(dest="cmd")
    grow = sub.add_parser("grow", help="grow a plant")
    grow.add_argument("--soil", type=Path, help="soil file")
    grow.add_argument("--fast", action="store_true")
    grow_sub = grow.add_subparsers(dest="what")
    tree = grow_sub.add_parser("tree", help="a tree")
    tree.add_argument("species", choices=("oak", "ash"))
    return parser


def test_scripts_follow_the_parser_they_are_given(tmp_path: Path) -> None:
    parser = _toy_parser()
    (tmp_path / "loam.txt").write_text("")
    for shell in SHELL_BINARIES:
        if shutil.which(shell):
            (tmp_path / f"toy.{shell}").write_text(script(shell, parser, prog="toy"))
    if shutil.which("bash"):
        bash = tmp_path / "toy.bash"
        assert bash_complete(bash, ["toy", ""]) == ["grow"]
        assert bash_complete(bash, ["toy", "--colour", "b"]) == ["blue"]
        assert bash_complete(bash, ["toy", "grow", "--soil", "lo"], tmp_path) == ["loam.txt"]
        assert bash_complete(bash, ["toy", "grow", "tree", ""]) == ["oak", "ash"]
        assert bash_complete(bash, ["toy", "grow", "--f"]) == ["--fast"]
    if shutil.which("fish"):
        fish = tmp_path / "toy.fish"
        assert fish_complete(fish, "toy grow tree ") == ["ash", "oak"]
        assert fish_complete(fish, "toy grow --soil lo", tmp_path) == ["loam.txt"]


def test_the_real_parser_is_what_the_scripts_carry() -> None:
    """Every option of every command reaches every script (none is hand-written)."""
    parser = build_parser()
    texts = {shell: script(shell, parser) for shell in SHELL_BINARIES}
    commands = list(read_parser(parser).walk())
    assert {c.path for c in commands} >= {("install",), ("policy", "init"), ("completion",)}
    for command in commands:
        for option in command.options:
            for flag in option.flags:
                for shell in ("bash", "zsh"):
                    assert flag in texts[shell]
                    if option.takes_value:  # its value is skipped when finding the command
                        assert f"'{command.key} {flag}'" in texts[shell]
                assert flag.lstrip("-") in texts["fish"]
