"""The install gate checks every artifact against the synced OSV data (issue 16).

Real pip, a real venv, the real local index; the database is synced with the real
``safe-pip intel sync`` from a zip of the fixture records (facts of real OSV records).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gate.conftest import Dists, Result, Runner
from tests.intel.conftest import load_records, write_zip
from tests.support.index_server import IndexServer
from tests.support.venvs import isolated_env
from tests.support.wheels import build_wheel, sha256_file

pytestmark = pytest.mark.slow


def _sync(home: Path, tmp_path: Path, records: dict[str, dict[str, Any]]) -> None:
    archive = write_zip(tmp_path / "osv.zip", records)
    proc = subprocess.run(
        [sys.executable, "-m", "safe_pip", "intel", "sync", "--from", str(archive)],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def _gate(
    safe_pip: Runner, venv: Path, index: IndexServer, *args: str, policy: str | None = None
) -> Result:
    """``safe-pip install --format json`` into ``venv`` from the test index."""
    return safe_pip(
        "--python", venv, "--format", "json", "-i", index.simple_url, *args, policy=policy
    )


def _findings(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for t in doc["targets"] for f in t["findings"] if f["rule_id"] == rule]


def test_reported_malicious_release_and_renamed_reupload_are_blocked(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path, home: Path
) -> None:
    reported = build_wheel(tmp_path / "w", "a-oder", "8.0.0")
    reupload = build_wheel(tmp_path / "w", "fresh-helpers", "1.0")
    records = load_records()
    mal = copy.deepcopy(records["MAL-2026-15859"])
    integrity = mal["affected"][0]["database_specific"]["indicators"]["package_integrity"]
    integrity[0]["hashes"]["sha256"] = sha256_file(reupload)
    records["MAL-2026-15859"] = mal
    _sync(home, tmp_path, records)
    index.add(reported)
    index.add(reupload)

    by_name = _gate(safe_pip, venv, index, "a-oder")
    assert by_name.code == 1, by_name.stderr
    (hit,) = _findings(by_name.json(), "INTEL-MALICIOUS")
    assert "MAL-2024-12186" in hit["message"]

    renamed = _gate(safe_pip, venv, index, "fresh-helpers")
    assert renamed.code == 1, renamed.stderr
    (hit,) = _findings(renamed.json(), "INTEL-MALICIOUS")
    assert hit["detail"]["match"] == "sha256" and "0requests" in hit["message"]
    assert "a-oder" not in dists(venv) and "fresh-helpers" not in dists(venv)


def test_known_vulnerability_warns_by_default_and_blocks_by_policy(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path, home: Path
) -> None:
    _sync(home, tmp_path, load_records())
    index.add(build_wheel(tmp_path / "w", "jinja2", "2.11.2"))

    warned = _gate(safe_pip, venv, index, "--yes", "jinja2==2.11.2")
    assert warned.code == 0, warned.stderr
    (vuln,) = _findings(warned.json(), "INTEL-VULNERABLE")
    assert "fixed in 2.11.3" in vuln["message"]
    assert dists(venv)["jinja2"] == "2.11.2"

    subprocess.run(
        [str(venv), "-m", "pip", "uninstall", "-y", "-q", "jinja2"],
        check=True,
        env=isolated_env(home),
    )
    blocked = _gate(
        safe_pip,
        venv,
        index,
        "jinja2==2.11.2",
        policy='[intel]\nvulnerabilities = "block-medium"\n',
    )
    assert blocked.code == 1, blocked.stderr
    assert "jinja2" not in dists(venv)


def test_missing_database_warns_or_blocks_by_on_stale(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    warned = _gate(safe_pip, venv, index, "--dry-run", "cleanpkg")
    assert warned.code == 0, warned.stderr
    # said once for the run, not repeated on every artifact
    assert not _findings(warned.json(), "INTEL-UNAVAILABLE")
    assert [n for n in warned.json()["notes"] if n.startswith("INTEL-UNAVAILABLE")]
    blocked = _gate(safe_pip, venv, index, "cleanpkg", policy='[intel]\non_stale = "block"\n')
    assert blocked.code == 1
    assert _findings(blocked.json(), "INTEL-UNAVAILABLE")
    assert json.dumps(blocked.json()).count("intel sync") >= 1
    assert "cleanpkg" not in dists(venv)
