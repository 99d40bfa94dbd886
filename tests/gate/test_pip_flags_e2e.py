"""Through the shims pip's own flags keep pip's meaning: ``--report FILE`` is pip's
installation report and ``--python PATH`` the interpreter to install into, never safe-pip's
options of the same name (which only exist before ``--``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate.conftest import Dists, Runner
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def test_pips_report_and_python_after_the_separator(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    report = tmp_path / "pip-report.json"
    r = safe_pip(
        "--format", "json", "--",
        "--python", venv, "-i", index.simple_url, "cleanpkg", "--report", report,
    )  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    assert dists(venv)["cleanpkg"] == "1.0"  # pip's --python chose the target
    doc = json.loads(report.read_text())
    assert doc["version"] == "1"
    [item] = doc["install"]
    assert item["metadata"] == {"name": "cleanpkg", "version": "1.0"}
    assert item["requested"] is True and item["download_info"]["archive_info"]["hashes"]["sha256"]
    assert r.json()["outcome"] == "installed"  # safe-pip's own report still on stdout
