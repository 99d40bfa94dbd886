"""The command-line contract: help for every command, exit codes, and the three output formats."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scan.pickles import BENIGN, evil

COMMANDS = ("install", "scan", "verify", "policy")


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or dict(os.environ, NO_COLOR="1"),
        timeout=120,
    )


@pytest.fixture()
def samples(tmp_path: Path) -> tuple[Path, Path]:
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(evil())
    good = tmp_path / "good.pkl"
    good.write_bytes(BENIGN)
    return bad, good


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
    doc = json.loads(proc.stdout)
    assert doc == json.loads(report.read_text())
    assert doc["schema_version"] == "1"
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


def _run_on_tty(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with stdout on a pseudo-terminal and return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safe_pip", *args], stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


# SGR sequences set colour and weight; the progress bar's cursor moves are not colour.
_COLOUR = re.compile("\x1b\\[[0-9;]*m")


def test_colour_on_a_terminal_unless_no_color(samples: tuple[Path, Path]) -> None:
    bad, _ = samples
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert _COLOUR.search(_run_on_tty(["scan", str(bad)], env))
    assert not _COLOUR.search(_run_on_tty(["scan", str(bad)], dict(env, NO_COLOR="1")))
    piped = run("scan", str(bad), env=env)
    assert "\x1b[" not in piped.stdout + piped.stderr  # no colour, no progress bar


def test_progress_bar_only_on_a_terminal(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "scanning" in _run_on_tty(["scan", str(good), str(bad)], env)
    piped = run("scan", str(good), str(bad), env=env)
    assert "scanning" not in piped.stdout + piped.stderr


def test_text_report_explains_the_block(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    out = run("scan", str(bad), str(good)).stdout
    assert "BLOCKED" in out and "PICKLE-GLOBAL-DANGEROUS" in out
    assert "imports os.system" in out
    assert "2 targets scanned: 1 blocked, 1 allowed" in out
