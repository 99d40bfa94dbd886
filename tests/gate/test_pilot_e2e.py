"""Pilot mode end to end: the seed attack installs, and the audit log says it would not have.

The warn-only roll-out exists to size the impact of enforcing before anyone is blocked, so
the audit record must name every artifact and rule enforcing would have stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate.conftest import Dists, Runner
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_pilot_installs_the_attack_and_logs_that_enforcing_would_block_it(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path, home: Path
) -> None:
    marker = tmp_path / "PWNED"
    index.add(evil_wheel(tmp_path / "w", marker))
    pilot = {"SAFE_PIP_ORG_POLICY": str(REPO / "policies" / "pilot.toml")}
    r = safe_pip("--python", venv, "-i", index.simple_url, "modelzoo", env=pilot)
    assert r.code == 0, r.stdout + r.stderr
    assert "PILOT PICKLE-GLOBAL-DANGEROUS (critical)" in r.stdout
    assert "1 would be blocked when enforced" in r.stdout
    assert "safe-pip: installed: modelzoo 1.0" in r.stdout
    assert dists(venv)["modelzoo"] == "1.0"
    assert not marker.exists()  # installing a pickle runs nothing
    log = home / "state" / "safe-pip" / "audit.jsonl"
    (outcome,) = [
        r for r in map(json.loads, log.read_text().splitlines()) if r["kind"] == "outcome"
    ]
    assert outcome["outcome"] == "installed"
    (artifact,) = outcome["artifacts"]
    assert artifact["verdict"] == "allow"
    assert "PICKLE-GLOBAL-DANGEROUS" in artifact["would_block"]
    assert artifact["blocking"] == []
