"""The escape hatch: only where the org policy allows it, and always in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safe_pip.enforce import shims
from tests.enforce.conftest import BLOCKED, EnvMaker, run_shell
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, venv_python

pytestmark = pytest.mark.slow


def _records(home: Path) -> list[dict[str, object]]:
    log = home / "state" / "safe-pip" / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _org(tmp_path: Path, allowed: bool) -> Path:
    org = tmp_path / "org.toml"
    org.write_text(f"version = 1\n[enforcement]\nescape_hatch = {str(allowed).lower()}\n")
    return org


def test_bypass_allowed_by_org_policy_runs_pip_and_is_logged(
    blocked_index: IndexServer, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir, names=("pip",))
    env = shell_env(
        shim_dir,
        SAFE_PIP_ORG_POLICY=str(_org(tmp_path, True)),
        SAFE_PIP_BYPASS="INC-42 gate outage",
    )
    r = run_shell(
        ["sh", "-c", f"pip install -q --index-url {blocked_index.simple_url} {BLOCKED}"],
        env,
        tmp_path,
    )
    assert r.code == 0, r.stderr
    assert BLOCKED in installed(venv_python(venv_dir))
    (rec,) = _records(home)
    assert rec["outcome"] == "bypassed" and rec["bypass_reason"] == "INC-42 gate outage"


def test_bypass_refused_by_policy_still_goes_through_the_gate(
    blocked_index: IndexServer, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir, names=("pip",))
    env = shell_env(
        shim_dir, SAFE_PIP_ORG_POLICY=str(_org(tmp_path, False)), SAFE_PIP_BYPASS="please"
    )
    r = run_shell(
        ["sh", "-c", f"pip install --index-url {blocked_index.simple_url} {BLOCKED}"],
        env,
        tmp_path,
    )
    assert r.code == 1
    assert "does not permit an escape hatch" in r.stderr
    assert BLOCKED not in installed(venv_python(venv_dir))
    assert [rec["outcome"] for rec in _records(home)] == ["bypass-refused", "blocked"]
