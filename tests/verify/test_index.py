"""Index rules (verify/index.py): allowlist, yanked, cooldown, PEP 691 pages. A yanked release
is reported at one fixed severity; the policy's ``[install] yanked`` setting is applied by
decide, end to end from a real policy file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from safe_pip.decide import decide
from safe_pip.models import Severity
from safe_pip.policy.model import IndexPolicy, InstallPolicy, Policy
from safe_pip.verify.index import artifact_findings
from tests.policy.policy_machine import Machine

NOW = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class _Artifact:
    name: str = "alpha"
    version: str = "1.0"
    url: str = "https://idx.test/files/alpha-1.0-py3-none-any.whl"
    page_url: str | None = "https://idx.test/simple/alpha/"
    yanked: str | None = "broken build"
    upload_time: dt.datetime | None = NOW - dt.timedelta(days=90)


@pytest.mark.parametrize(
    "setting, blocks, warns",
    [("block", True, False), ("warn", False, True), ("allow", False, False)],
)
def test_yanked_is_high_whatever_the_setting_and_decide_applies_it(
    machine: Machine, setting: str, blocks: bool, warns: bool
) -> None:
    machine.write(machine.user, f'version = 1\n[install]\nyanked = "{setting}"\n')
    policy = machine.load()
    findings = artifact_findings(_Artifact(), policy=policy, now=NOW, location="alpha.whl")
    (yanked,) = [f for f in findings if f.rule_id == "INDEX-YANKED"]
    assert yanked.severity is Severity.HIGH and "broken build" in yanked.message
    verdict = decide(findings, target="alpha.whl", policy=policy)
    assert any(f.rule_id == "INDEX-YANKED" for f in verdict.blocking) is blocks
    assert any(f.rule_id == "INDEX-YANKED" for f in verdict.warnings) is warns


def test_index_findings() -> None:
    """Cooldown, yanked, unknown age and the index allowlist, each from the artifact."""
    policy = Policy(install=InstallPolicy(min_age=dt.timedelta(days=7), yanked="block"))
    young = _Artifact(yanked=None, upload_time=NOW - dt.timedelta(days=1))
    old = _Artifact(yanked="broken", upload_time=NOW - dt.timedelta(days=30))
    unknown = _Artifact(yanked=None, upload_time=None)

    def rules(artifact: _Artifact, policy: Policy = policy) -> list[str]:
        found = artifact_findings(artifact, policy=policy, now=NOW, location="x")
        return [f.rule_id for f in found]

    assert rules(young) == ["INDEX-TOO-NEW"]
    assert rules(old) == ["INDEX-YANKED"]
    assert rules(unknown) == ["INDEX-AGE-UNKNOWN"]
    strict = Policy(index=IndexPolicy(allowed=("https://internal/simple",)))
    assert rules(unknown, strict) == ["INDEX-NOT-ALLOWED"]
