"""Pilot mode (``[enforcement] mode = "pilot"``): decide blocks nothing and says what it would.

From real policy files through the real loader: the shipped pilot profile as the org
layer, a user layer that may switch a machine to enforcing but never back to pilot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safe_pip.decide import decide
from safe_pip.errors import PolicyError
from safe_pip.models import Decision, Finding, Severity
from safe_pip.policy import Policy, load_policy
from safe_pip.report import Report, Subject, render

REPO = Path(__file__).resolve().parents[1]
GADGET = Finding(
    "PICKLE-GLOBAL-DANGEROUS", Severity.CRITICAL, "GLOBAL imports os.system", "m.whl!m/model.pt@2"
)
LOW = Finding("PY-UNPARSEABLE", Severity.LOW, "cannot parse", "m.whl!m/x.py")


def _load(tmp_path: Path, user: str | None = None) -> Policy:
    env = {"HOME": str(tmp_path), "SAFE_PIP_ORG_POLICY": str(REPO / "policies" / "pilot.toml")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if user is not None:
        path = tmp_path / "config" / "safe-pip" / "policy.toml"
        path.parent.mkdir(parents=True)
        path.write_text("version = 1\n" + user)
    return load_policy(cwd=tmp_path, env=env)


def test_the_pilot_profile_allows_and_keeps_what_would_block(tmp_path: Path) -> None:
    policy = _load(tmp_path)
    assert policy.enforcement.mode == "pilot"
    verdict = decide([GADGET, LOW], target="m.whl", policy=policy, package="m", version="1")
    assert verdict.decision is Decision.ALLOW
    assert verdict.blocking == ()
    assert verdict.would_block == (GADGET,)
    assert verdict.warnings == (LOW,)  # warnings stay warnings
    assert any("pilot mode" in n and "PICKLE-GLOBAL-DANGEROUS" in n for n in verdict.notes)


def test_enforcing_blocks_the_same_findings(tmp_path: Path) -> None:
    verdict = decide([GADGET, LOW], target="m.whl", policy=Policy())
    assert verdict.decision is Decision.BLOCK and verdict.would_block == ()
    clean = decide([LOW], target="m.whl", policy=_load(tmp_path))
    assert clean.would_block == () and not any("pilot" in n for n in clean.notes)


def test_a_user_may_enforce_under_an_org_pilot(tmp_path: Path) -> None:
    assert _load(tmp_path, '[enforcement]\nmode = "enforce"\n').enforcement.mode == "enforce"


def test_a_user_may_not_pilot_under_an_enforcing_org(tmp_path: Path) -> None:
    org = tmp_path / "org.toml"
    org.write_text('version = 1\n[enforcement]\nmode = "enforce"\n')
    user = tmp_path / "config" / "safe-pip" / "policy.toml"
    user.parent.mkdir(parents=True)
    user.write_text('version = 1\n[enforcement]\nmode = "pilot"\n')
    env = {"HOME": str(tmp_path), "SAFE_PIP_ORG_POLICY": str(org)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    with pytest.raises(PolicyError, match="mode"):
        load_policy(cwd=tmp_path, env=env)


def test_every_report_format_names_what_would_block(tmp_path: Path) -> None:
    verdict = decide([GADGET], target="m.whl", policy=_load(tmp_path))
    report = Report.judged("scan", (Subject("file", "m.whl", verdict),))
    assert report.exit_code == 0 and report.would_block == 1
    text = render(report, "text")
    assert "PILOT PICKLE-GLOBAL-DANGEROUS (critical)" in text
    assert "enforcing would block it" in text and "1 would be blocked when enforced" in text
    doc = json.loads(render(report, "json"))
    (finding,) = doc["targets"][0]["findings"]
    assert finding["rule_id"] == "PICKLE-GLOBAL-DANGEROUS"
    assert finding["blocking"] is False and finding["would_block"] is True
    sarif = json.loads(render(report, "sarif"))
    (result,) = sarif["runs"][0]["results"]
    assert result["properties"]["would_block"] is True
    assert result["properties"]["blocking"] is False
