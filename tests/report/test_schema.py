"""One JSON shape for every command: each one's real output validates against the committed
``schema.json``, with the one ``schema_version`` the model declares."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from safe_pip.report import SCHEMA_VERSION
from tests.report.conftest import PA_PUBLISHER, PA_SDIST
from tests.support.cli import safe_pip
from tests.support.report_schema import load_report
from tests.support.venvs import isolated_env


def test_schema_declares_the_models_version() -> None:
    text = resources.files("safe_pip.report").joinpath("schema.json").read_text("utf-8")
    assert json.loads(text)["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_scan_report(samples: tuple[Path, Path]) -> None:
    bad, good = samples
    proc = safe_pip("scan", "--format", "json", bad, good)
    doc = load_report(proc.stdout)
    assert (proc.returncode, doc["command"], doc["outcome"]) == (1, "scan", "blocked")
    assert {t["kind"] for t in doc["targets"]} == {"file"}
    assert doc["exit_code"] == 1 and doc["error"] is None


def test_verify_reports_verified_and_not(tmp_path: Path) -> None:
    ok = safe_pip("verify", PA_SDIST, "--publisher", PA_PUBLISHER, "--format", "json")
    doc = load_report(ok.stdout)
    assert (ok.returncode, doc["command"], doc["outcome"]) == (0, "verify", "verified")
    (target,) = doc["targets"]
    assert target["signatures"] and all(s["verified"] for s in target["signatures"])
    assert target["findings"] == []

    wrong = "github:attacker/pypi-attestations@release.yml"
    bad = safe_pip("verify", PA_SDIST, "--publisher", wrong, "--format", "json")
    doc = load_report(bad.stdout)
    assert (bad.returncode, doc["outcome"], doc["decision"]) == (1, "not-verified", "block")
    (target,) = doc["targets"]
    assert {s["reason"] for s in target["signatures"]} == {"wrong-repository"}
    assert {f["rule_id"] for f in target["findings"]} == {"SIG-WRONG-PUBLISHER"}
    assert all(f["blocking"] for f in target["findings"])


def test_audit_report(site_packages: Path) -> None:
    proc = safe_pip("audit", "--path", site_packages, "--format", "json")
    doc = load_report(proc.stdout)
    assert (proc.returncode, doc["command"], doc["outcome"]) == (1, "audit", "blocked")
    kinds = {t["kind"]: t for t in doc["targets"]}
    assert kinds["distribution"]["distribution"]["name"] == "modelpkg"
    assert kinds["distribution"]["properties"]["hash-source"] == "RECORD"
    assert kinds["model"]["distribution"]["name"] == "modelpkg"
    assert doc["environment"]["site_packages"] == [str(site_packages)]
    assert "other_files_scanned" in doc["summary"]


def test_install_error_report(tmp_path: Path) -> None:
    """An install that cannot start still prints a valid report, with the error in it."""
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(home, NO_COLOR="1")
    proc = safe_pip("install", "--python", tmp_path / "no-python", "--format", "json", "x", env=env)
    doc = load_report(proc.stdout)
    assert (proc.returncode, doc["command"], doc["outcome"]) == (2, "install", "error")
    assert doc["error"] and doc["error"] in proc.stderr
    assert doc["environment"]["python"] == str(tmp_path / "no-python")
    assert doc["run"]["dry_run"] is False


def test_every_command_renders_a_valid_cyclonedx_bom(
    samples: tuple[Path, Path], site_packages: Path
) -> None:
    bad, _ = samples
    runs = [
        safe_pip("scan", "--format", "cyclonedx", bad),
        safe_pip("verify", PA_SDIST, "--publisher", PA_PUBLISHER, "--format", "cyclonedx"),
        safe_pip("audit", "--path", site_packages, "--format", "cyclonedx"),
    ]
    for proc in runs:
        assert proc.returncode in (0, 1), proc.stderr
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(proc.stdout) is None
    scan_bom = json.loads(runs[0].stdout)
    (vuln,) = scan_bom["vulnerabilities"]
    assert vuln["id"] == "PICKLE-GLOBAL-DANGEROUS"
    assert vuln["affects"][0]["ref"] == f"file:{bad}"
