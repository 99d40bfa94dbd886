"""The command-line contract: help for every command, exit codes, and the three output formats."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import safe_pip as run
from tests.support.report_schema import load_report
from tests.support.terminal import run_on_tty, run_piped_on_tty

COMMANDS = ("install", "scan", "verify", "policy")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    proc = run(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: safe-pip " + command in proc.stdout


def test_no_command_and_bad_arguments_exit_2() -> None:
    assert run().returncode == 2
    assert run("scan").returncode == 2
    assert run("scan", "--format", "xml", "x").returncode == 2
    proc = run("scan", "/no/such/file")
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exit_codes_follow_the_verdict(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    assert run("scan", str(good)).returncode == 0
    assert run("scan", str(bad)).returncode == 1
    assert run("scan", str(good), str(bad)).returncode == 1


def test_json_report(samples: tuple[Path, Path], tmp_path: Path) -> None:
    bad, good = samples
    report = tmp_path / "out.json"
    proc = run("scan", "--format", "json", "--report", str(report), str(bad), str(good))
    doc = load_report(proc.stdout)
    assert doc == load_report(report.read_text())
    assert doc["schema_version"] == "2"
    assert doc["decision"] == "block"
    assert doc["summary"] == {"targets": 2, "blocked": 1, "findings": 1, "skipped": 0}
    by_target = {Path(t["target"]).name: t for t in doc["targets"]}
    finding = by_target["bad.pkl"]["findings"][0]
    assert finding["rule_id"] == "PICKLE-GLOBAL-DANGEROUS"
    assert finding["severity"] == "critical"
    assert finding["blocking"] is True
    assert finding["location"].endswith("bad.pkl@2")
    assert finding["detail"]["module"] == "os" and finding["detail"]["name"] == "system"
    assert by_target["good.pkl"]["decision"] == "allow"
    assert by_target["good.pkl"]["inventory"] == {"pickle": 1}


def test_sarif_report_has_what_code_scanning_needs(samples: tuple[Path, Path]) -> None:
    bad, _ = samples
    proc = run("scan", "--format", "sarif", "bad.pkl", cwd=bad.parent)
    doc = json.loads(proc.stdout)
    assert doc["version"] == "2.1.0"
    (run_,) = doc["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "safe-pip"
    rule_ids = {r["id"] for r in driver["rules"]}
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    (result,) = run_["results"]
    assert result["ruleId"] in rule_ids
    assert result["level"] == "error"
    assert result["message"]["text"]
    loc = result["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "bad.pkl"
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == "bad.pkl@2"


# SGR sequences set colour and weight; the progress bar's cursor moves are not colour.
_COLOUR = re.compile("\x1b\\[[0-9;]*m")


def test_colour_on_a_terminal_unless_no_color(samples: tuple[Path, Path]) -> None:
    bad, _ = samples
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert _COLOUR.search(run_on_tty(["scan", str(bad)], env))
    assert not _COLOUR.search(run_on_tty(["scan", str(bad)], dict(env, NO_COLOR="1")))
    piped = run("scan", str(bad), env=env)
    assert "\x1b[" not in piped.stdout + piped.stderr  # no colour, no progress bar


def test_progress_bar_only_on_a_terminal(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "scanning" in run_on_tty(["scan", str(good), str(bad)], env)
    piped = run("scan", str(good), str(bad), env=env)
    assert "scanning" not in piped.stdout + piped.stderr


def test_progress_stays_on_the_terminal_when_the_report_is_piped(
    samples: tuple[Path, Path],
) -> None:
    """``safe-pip scan ... | tail``: the bar is drawn on stderr (the terminal), and the pipe
    gets the report exactly as it does with no terminal at all, not a byte more."""
    bad, good = samples
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    shown, piped = run_piped_on_tty(["scan", str(good), str(bad)], env)
    assert "scanning" in shown
    assert piped == run("scan", str(good), str(bad), env=env).stdout


def test_text_report_explains_the_block(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    out = run("scan", str(bad), str(good)).stdout
    assert "BLOCKED" in out and "PICKLE-GLOBAL-DANGEROUS" in out
    assert "imports os.system" in out
    assert "2 targets scanned: 1 blocked, 1 allowed" in out


def test_unwritable_report_is_a_usage_error_not_a_block(samples: tuple[Path, Path]) -> None:
    """The issue's example: this used to exit 1 ("blocked") with a traceback."""
    _, good = samples
    proc = run("scan", "--report", "/no/such/folder/report.json", str(good))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "safe-pip: error: --report /no/such/folder/report.json: no such folder /no/such/folder"
    ]


def _explode(args: object) -> int:
    raise RuntimeError("a bug")


def test_any_exception_is_exit_2_in_one_line_and_debug_adds_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], samples: tuple[Path, Path]
) -> None:
    from safe_pip import cli
    from safe_pip.commands import scan

    monkeypatch.setattr(scan, "run", _explode)
    assert cli.main(["scan", str(samples[1])]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "safe-pip: internal error: RuntimeError: a bug (run with --debug for the traceback)"
    ]
    assert cli.main(["--debug", "scan", str(samples[1])]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "_explode" in err
    assert err.splitlines()[-1] == "safe-pip: internal error: RuntimeError: a bug"


def test_interrupt_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], samples: tuple[Path, Path]
) -> None:
    from safe_pip import cli
    from safe_pip.commands import scan

    def interrupt(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(scan, "run", interrupt)
    assert cli.main(["scan", str(samples[1])]) == 2
    assert "interrupted" in capsys.readouterr().err


_REST = re.compile(r"``|:[a-z]+:`")


def _every_parser() -> list[tuple[str, argparse.ArgumentParser]]:
    """The top parser and every sub-command's, however deep (policy show, intel sync...)."""
    from safe_pip.cli import build_parser

    found: list[tuple[str, argparse.ArgumentParser]] = []
    todo = [("safe-pip", build_parser())]
    while todo:
        name, parser = todo.pop()
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend((f"{name} {n}", p) for n, p in action.choices.items())
    return found


def test_a_named_command_parses_and_explains_itself_as_in_the_whole_tree() -> None:
    """``build_parser(only)`` builds that command's parser alone: its help, usage and
    errors are the same as in the whole tree (the only place the others would show)."""
    from safe_pip.cli import COMMANDS, build_parser

    whole = dict(_subparsers(build_parser()))
    for name, _, _ in COMMANDS:
        alone = dict(_subparsers(build_parser(name)))
        assert list(alone) == [name]
        assert alone[name].format_help() == whole[name].format_help()
        assert alone[name].format_usage() == whole[name].format_usage()


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, sub)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    ]


def test_help_is_plain_text() -> None:
    """Every command's and action's help, now and for commands added later: no reST."""
    parsers = _every_parser()
    assert {"safe-pip scan", "safe-pip policy show"} <= {name for name, _ in parsers}
    for name, parser in parsers:
        text = parser.format_help()
        assert not _REST.search(text), f"{name}:\n{text}"


def test_scan_imports_neither_the_gate_nor_other_commands(tmp_path: Path) -> None:
    """``safe-pip scan`` of a small file pays for the scan, not for the install gate's HTTP
    stack, the other commands or the scanner's cache digest (bench/wheels measures it)."""
    target = tmp_path / "notes.txt"
    target.write_text("hello\n")
    code = (
        "import sys\n"
        "from safe_pip.cli import main\n"
        f"assert main(['scan', {str(target)!r}]) == 0\n"
        "loaded = [m for m in ('safe_pip.gate.fetch', 'safe_pip.commands.install',\n"
        "          'safe_pip.commands.serve', 'http.client') if m in sys.modules]\n"
        "import safe_pip.scan as scan\n"
        "print(loaded, '_version' in vars(scan) and scan._version is not None)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip().splitlines()[-1] == "[] False"


# What a scan of one small file, with no policy file anywhere, must not import: each is
# either another command's (the TOML reader and schema only read files and flags; the
# remote org policy and the signer pins, the shipped profiles), needed only on first use
# (packaging.utils pulls packaging.tags, logging, platform and subprocess in; versions are
# compared only for [[package]] rules and exceptions; a thread pool only for a big
# artifact) or only on an error (difflib's "did you mean", traceback for --debug, the next
# steps written for a block).
NOT_FOR_A_SMALL_SCAN = (
    "safe_pip.policy.parse",
    "safe_pip.policy._toml",
    "safe_pip.policy.remote",
    "safe_pip.policy.remote_model",
    "safe_pip.policy.pins",
    "safe_pip.policy.shipped",
    "tomllib",
    "packaging.utils",
    "packaging.tags",
    "packaging.specifiers",
    "packaging.version",
    "concurrent.futures",
    "importlib.resources",
    "difflib",
    "traceback",
    "logging",
    "subprocess",
    "safe_pip.next_steps",
)

_SCAN_AND_LIST = (
    "import sys\n"
    "before = set(sys.modules)  # what the interpreter's own start-up (site) imported\n"
    "from safe_pip.cli import main\n"
    "code = main(['scan', sys.argv[1]])\n"
    "import json\n"
    "print(json.dumps([code, sorted(set(sys.modules) - before)]))\n"
)


def _scan_in_fresh_process(target: Path, home: Path) -> tuple[int, set[str]]:
    """Exit code and every module ``safe-pip scan target`` imported (beyond the interpreter's
    own start-up) in a fresh process whose only policy file is the one under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFE_PIP_", "PIP_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
    proc = subprocess.run(
        [sys.executable, "-c", _SCAN_AND_LIST, str(target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=target.parent,
        env=env,
    )
    code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(code), set(modules)


def test_a_small_scan_imports_only_what_it_uses(tmp_path: Path) -> None:
    """The start-up a short ``safe-pip scan`` pays is the scan's own (bench/wheels measures
    the time; this pins which modules, so a new top-level import cannot creep back)."""
    target = tmp_path / "notes.txt"
    target.write_text("hello\n")
    code, modules = _scan_in_fresh_process(target, tmp_path / "home")
    assert code == 0
    assert "safe_pip.policy.model" in modules  # the policy is still loaded and applied
    assert sorted(m for m in NOT_FOR_A_SMALL_SCAN if m in modules) == []


def test_data_no_unpickler_reads_does_not_import_the_pickle_reader(tmp_path: Path) -> None:
    """Text whose first byte is no pickle opcode (``sniff.may_be_pickle``) is neither probed
    nor tried as a pickle, so the reader is not even imported; text starting with an opcode
    ('h' is BINGET) still is (the test would pass vacuously otherwise)."""
    reader = ("safe_pip.scan.formats.pickle", "safe_pip.scan.formats.pickle_reader")
    target = tmp_path / "notes.txt"
    target.write_text("# hello\n")
    code, modules = _scan_in_fresh_process(target, tmp_path / "home")
    assert code == 0
    assert [m for m in reader if m in modules] == []
    target.write_text("hello\n")
    code, modules = _scan_in_fresh_process(target, tmp_path / "home")
    assert code == 0
    assert [m for m in reader if m in modules] == list(reader)


def test_a_blocked_scan_still_says_what_to_do(tmp_path: Path) -> None:
    """Next steps are imported only for a block (a clean scan has none to write), and a
    block still gets them: the rule in plain words and how to report a malicious file."""
    target = tmp_path / "model.pkl"
    target.write_bytes(b"\x80\x02cos\nsystem\n.")
    home = tmp_path / "home"
    code, modules = _scan_in_fresh_process(target, home)
    assert code == 1
    assert "safe_pip.next_steps" in modules
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFE_PIP_", "PIP_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
    proc = subprocess.run(
        [sys.executable, "-m", "safe_pip", "scan", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 1
    steps = json.loads(proc.stdout)["targets"][0]["next_steps"]
    assert any(step.startswith("PICKLE-GLOBAL-DANGEROUS: ") for step in steps), steps
    assert any("may be malicious: do not install it" in step for step in steps), steps


def test_a_policy_file_is_still_read_when_the_reader_is_imported_lazily(tmp_path: Path) -> None:
    """With a user policy present the TOML reader is imported and the file decides: an
    unknown pickle global blocks by default and only warns under ``unknown_globals``."""
    target = tmp_path / "model.pkl"
    target.write_bytes(b"\x80\x02cfoo\nbar\n.")
    home = tmp_path / "home"
    code, modules = _scan_in_fresh_process(target, home)
    assert code == 1
    policy = home / "config" / "safe-pip" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('version = 1\n\n[scan]\nunknown_globals = "warn"\n')
    code, modules = _scan_in_fresh_process(target, home)
    assert code == 0
    assert "safe_pip.policy.parse" in modules
    policy.write_text('version = 1\n\n[scan]\nunknown_globalz = "warn"\n')  # a typo: exit 2
    code, modules = _scan_in_fresh_process(target, home)
    assert code == 2
    assert "difflib" in modules  # "did you mean" was computed
