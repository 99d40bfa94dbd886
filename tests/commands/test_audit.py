"""``safe-pip audit`` on real virtual environments built by real pip.

A wheel carrying a raw-opcode malicious pickle (under a harmless name) is
installed with plain pip, the way it would have arrived before safe-pip was
deployed; then a test edits an installed file.  The audit must report both,
attribute the model to its package, execute nothing it inspects, and emit a
CycloneDX document that validates against the 1.6 schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.scan import pickles as P
from tests.support.report_schema import load_report
from tests.support.venvs import copy_venv, isolated_env, venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _kind(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The report's targets of one kind (``model``, ``distribution``...)."""
    return [t for t in doc["targets"] if t["kind"] == kind]


def _audit(home: Path, tmp: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        cwd=tmp,
        timeout=300,
    )


@pytest.fixture
def dirty_venv(venv_template: Path, home: Path, tmp_path: Path) -> Path:
    venv = copy_venv(venv_template, tmp_path / "venv")
    wheel = build_wheel(
        tmp_path / "wheels",
        "modelpkg",
        "1.0",
        {
            "modelpkg/__init__.py": b'"""modelpkg"""\n',
            "modelpkg/weights.bin": P.evil("os", "system", "touch /tmp/safe-pip-audit-pwned"),
        },
    )
    subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "install", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        env=isolated_env(home),
    )
    target = _site(venv) / "modelpkg" / "__init__.py"
    target.write_text(target.read_text() + "import os  # added after install\n")
    return venv


def test_audit_reports_modified_file_and_malicious_model(
    dirty_venv: Path, home: Path, tmp_path: Path
) -> None:
    r = _audit(home, tmp_path, "--python", venv_python(dirty_venv), "--format", "json")
    assert r.returncode == 1, r.stderr
    doc = load_report(r.stdout)
    findings = {
        (f["rule_id"], Path(f["location"].split("@")[0]).name)
        for t in doc["targets"]
        for f in t["findings"]
    }
    assert ("AUDIT-RECORD-MISMATCH", "__init__.py") in findings
    assert any(rule.startswith("PICKLE-GLOBAL") and loc == "weights.bin" for rule, loc in findings)
    models = {Path(m["target"]).name: m for m in _kind(doc, "model")}
    assert models["weights.bin"]["distribution"]["name"] == "modelpkg"
    assert models["weights.bin"]["properties"]["format"] == "pickle"
    assert models["weights.bin"]["decision"] == "block"
    names = {d["distribution"]["name"] for d in _kind(doc, "distribution")}
    assert {"modelpkg", "pip"} <= names
    assert not Path("/tmp/safe-pip-audit-pwned").exists()


def test_cyclonedx_validates_and_ties_the_model_to_its_package(
    dirty_venv: Path,
    home: Path,
    tmp_path: Path,
) -> None:
    r = _audit(home, tmp_path, "--path", _site(dirty_venv), "--format", "cyclonedx")
    assert r.returncode == 1, r.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(r.stdout) is None
    bom = json.loads(r.stdout)
    assert bom["specVersion"] == "1.6"
    comps = {c["bom-ref"]: c for c in bom["components"]}
    pkg = comps["pkg:pypi/modelpkg@1.0"]
    assert pkg["purl"] == "pkg:pypi/modelpkg@1.0" and pkg["hashes"][0]["alg"] == "SHA-256"
    model = next(c for c in bom["components"] if c["type"] == "machine-learning-model")
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert model["name"] == "weights.bin"
    assert props["safe-pip:shipped-by"] == "pkg:pypi/modelpkg@1.0"
    assert props["safe-pip:format"] == "pickle"
    assert len(model["hashes"][0]["content"]) == 64
    affected = {(v["id"], v["affects"][0]["ref"]) for v in bom["vulnerabilities"]}
    assert ("AUDIT-RECORD-MISMATCH", "pkg:pypi/modelpkg@1.0") in affected
    assert any(i.startswith("PICKLE-GLOBAL") and ref == model["bom-ref"] for i, ref in affected)
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert model["bom-ref"] in deps["pkg:pypi/modelpkg@1.0"]


def test_clean_environment_passes(venv_template: Path, home: Path, tmp_path: Path) -> None:
    venv = copy_venv(venv_template, tmp_path / "venv")
    r = _audit(home, tmp_path, "--python", venv_python(venv))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 blocked" in r.stdout


def test_unowned_pth_is_reported_and_never_run(
    venv_template: Path,
    home: Path,
    tmp_path: Path,
) -> None:
    venv = copy_venv(venv_template, tmp_path / "venv")
    marker = tmp_path / "pth-ran"
    (_site(venv) / "zz-evil.pth").write_text(
        f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n"
    )
    r = _audit(home, tmp_path, "--python", venv_python(venv), "--format", "json")
    assert r.returncode == 1
    rules = {f["rule_id"] for t in load_report(r.stdout)["targets"] for f in t["findings"]}
    assert "AUDIT-UNOWNED-STARTUP" in rules
    assert not marker.exists()


def test_models_folder_found_by_content(
    venv_template: Path,
    home: Path,
    tmp_path: Path,
) -> None:
    venv = copy_venv(venv_template, tmp_path / "venv")
    cache = tmp_path / "hf-cache" / "models--x--y" / "snapshots" / "abc"
    cache.mkdir(parents=True)
    (cache / "config.json").write_bytes(P.evil("builtins", "exec", "print(1)"))
    (cache / "README.md").write_text("# a model\n")
    r = _audit(
        home,
        tmp_path,
        "--python",
        venv_python(venv),
        "--models",
        tmp_path / "hf-cache",
        "--format",
        "json",
    )
    assert r.returncode == 1
    models = _kind(load_report(r.stdout), "model")
    assert [Path(m["target"]).name for m in models] == ["config.json"]
    assert models[0]["distribution"] is None


def test_exception_in_policy_allows_a_reviewed_change(
    dirty_venv: Path, home: Path, tmp_path: Path
) -> None:
    policy = home / "config" / "safe-pip" / "policy.toml"  # the user's own: it may except
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        "version = 1\n"
        '[[exception]]\npackage = "modelpkg"\nrule = "*"\n'
        'reason = "vendored test data, reviewed"\nexpires = 2999-01-01\n'
    )
    r = _audit(home, tmp_path, "--python", venv_python(dirty_venv))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "vendored test data, reviewed" in r.stdout
