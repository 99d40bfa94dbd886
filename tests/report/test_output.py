"""``--format`` and ``--report FILE`` mean the same on every command: the report on stdout,
diagnostics on stderr, the file in a machine format and never coloured, an unwritable
``--report`` an error (exit 2, one line); and SARIF URIs do not change between runs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from safe_pip.models import Artifact, Decision, Finding, ScanResult, Severity, Verdict
from safe_pip.report import Report, Subject, emit, render
from tests.report.conftest import PA_PUBLISHER, PA_SDIST
from tests.support.cli import safe_pip
from tests.support.report_schema import load_report
from tests.support.terminal import run_on_tty

_COLOUR = re.compile("\x1b\\[[0-9;]*m")


def test_text_on_a_terminal_json_in_the_file_and_no_colour_in_it(
    samples: tuple[Path, Path], tmp_path: Path
) -> None:
    bad, _ = samples
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    shown = run_on_tty(["scan", str(bad), "--report", str(report)], env)
    assert _COLOUR.search(shown)  # the person sees colour...
    text = report.read_text()
    assert "\x1b" not in text  # ...the file never has it
    assert load_report(text)["outcome"] == "blocked"


@pytest.mark.parametrize("fmt", ["json", "sarif", "cyclonedx"])
def test_report_file_holds_the_format_asked_for(
    samples: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    bad, _ = samples
    report = tmp_path / "out"
    proc = safe_pip("scan", "--format", fmt, "--report", report, bad)
    assert proc.returncode == 1
    on_stdout, in_file = json.loads(proc.stdout), json.loads(report.read_text())
    for volatile in ("serialNumber", "metadata"):  # a BOM is stamped per rendering
        on_stdout.pop(volatile, None)
        in_file.pop(volatile, None)
    assert on_stdout == in_file


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "{good}"),
        ("audit", "--path", "{site}"),
        ("verify", str(PA_SDIST), "--publisher", PA_PUBLISHER),
    ],
    ids=["scan", "audit", "verify"],
)
def test_unwritable_report_is_exit_2_with_one_line(
    args: tuple[str, ...], samples: tuple[Path, Path], site_packages: Path, tmp_path: Path
) -> None:
    argv = [a.format(good=samples[1], site=site_packages) for a in args]
    proc = safe_pip(*argv, "--report", tmp_path / "no" / "such" / "dir" / "r.json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("safe-pip: error: --report") and "no such folder" in line
    assert proc.stdout == ""  # nothing was judged, so nothing is reported


def test_json_on_stdout_diagnostics_on_stderr(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    proc = safe_pip("scan", "--format", "json", bad, good)
    load_report(proc.stdout)  # stdout is the report and nothing else
    assert proc.stderr == ""


def _cached_artifact() -> Report:
    finding = Finding("PICKLE-GLOBAL-DANGEROUS", Severity.CRITICAL, "imports os.system", "x@2")
    name = "pkg-1.0-py3-none-any.whl"
    verdict = Verdict(name, Decision.BLOCK, (finding,), ())
    return Report(
        command="install",
        subjects=(
            Subject(
                "artifact",
                name,
                verdict,
                scan=ScanResult(name, (finding,), (), {"pickle": 1}),
                distribution=Artifact("pkg", "/quarantine/ab/cd", version="1.0"),
                cached=True,
            ),
        ),
        outcome="blocked",
        exit_code=1,
    )


def test_sarif_uri_is_the_stable_target_not_the_display_label() -> None:
    report = _cached_artifact()
    sarif = json.loads(render(report, "sarif"))
    (result,) = sarif["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "pkg-1.0-py3-none-any.whl"
    # People still see where the verdict came from.
    assert "pkg 1.0 (pkg-1.0-py3-none-any.whl) [scan cache]" in render(report, "text")
    assert load_report(render(report, "json"))["targets"][0]["cached"] is True


def test_undecided_subject_counts_as_blocked() -> None:
    """A run that stopped before a verdict never reports the subject as allowed."""
    pending = Finding("INSTALL-HASH-MISMATCH", Severity.CRITICAL, "hash differs", "f.whl")
    report = Report(
        command="install",
        subjects=(Subject("artifact", "f.whl", None, pending=(pending,)),),
        outcome="error",
        exit_code=2,
        error="interrupted",
    )
    doc = load_report(render(report, "json"))
    (target,) = doc["targets"]
    assert (doc["decision"], target["decision"]) == ("block", "block")
    assert target["findings"][0]["blocking"] is True
    assert target["notes"] and "not decided" in target["notes"][0]
    sarif = json.loads(render(report, "sarif"))
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_verify_text_shows_each_failed_check_once() -> None:
    wrong = "github:attacker/pypi-attestations@release.yml"
    proc = safe_pip("verify", PA_SDIST, "--publisher", wrong)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if "wrong-repository" in ln]
    assert len(lines) == len(set(lines)) >= 1
    assert proc.stdout.rstrip().endswith("NOT verified")


@pytest.mark.parametrize("command", ["install", "scan"])
def test_an_error_is_said_once_per_place_the_output_goes(command: str, tmp_path: Path) -> None:
    """The text report carries the error with its outcome; stderr says it again only when it
    goes somewhere else (``| tail`` must not lose the reason, ``2>&1`` must not repeat it)."""
    report = Report(
        command="install" if command == "install" else "scan",
        subjects=(),
        outcome="error",
        exit_code=2,
        error="cannot fetch x: connection refused",
    )
    apart_out, apart_err, together = (tmp_path / n for n in ("out", "err", "both"))
    with apart_out.open("w") as out, apart_err.open("w") as err:
        assert emit(report, "text", stdout=out, stderr=err) == 2
    assert apart_out.read_text().count("connection refused") == 1
    assert apart_err.read_text() == "safe-pip: error: cannot fetch x: connection refused\n"
    with together.open("w") as out, together.open("a") as err:  # one file, like 2>&1
        emit(report, "text", stdout=out, stderr=err)
    assert together.read_text().count("connection refused") == 1
    with together.open("w") as out, together.open("a") as err:  # JSON: the error on stderr too
        emit(report, "json", stdout=out, stderr=err)
    assert together.read_text().count("connection refused") == 2
