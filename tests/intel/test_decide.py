"""How [intel] turns intel findings into verdicts (decide.py's one table)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.decide import decide
from safe_pip.models import Finding, Severity
from safe_pip.policy.layering import merge
from safe_pip.policy.model import Policy
from safe_pip.policy.parse import parse_text


def _policy(text: str, tmp_path: Path) -> Policy:
    layer, problems = parse_text("version = 1\n" + text, tmp_path / "user.toml", "user")
    assert problems == [] and layer is not None, problems
    return merge([layer]).policy


def _vuln(severity: Severity, rid: str = "GHSA-q2q7-5pp4-w6pg") -> Finding:
    return Finding(
        "INTEL-VULNERABLE",
        severity,
        "urllib3 1.26.4 is affected",
        "urllib3-1.26.4-py2.py3-none-any.whl",
        {"id": rid, "aliases": ["PYSEC-2021-59", "CVE-2021-33503"]},
    )


@pytest.mark.parametrize(
    ("setting", "blocked"),
    [
        ("off", set()),
        ("warn", set()),
        ("block-critical", {Severity.CRITICAL}),
        ("block-high", {Severity.CRITICAL, Severity.HIGH}),
        ("block-medium", {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}),
        ("block-all", {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW}),
    ],
)
def test_vulnerabilities_block_by_the_advisory_severity(
    tmp_path: Path, setting: str, blocked: set[Severity]
) -> None:
    policy = _policy(f'[intel]\nvulnerabilities = "{setting}"\n', tmp_path)
    for severity in (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL):
        verdict = decide([_vuln(severity)], target="t", policy=policy, package="urllib3")
        assert (not verdict.allowed) == (severity in blocked), (setting, severity)
        if setting == "off":
            assert verdict.warnings == ()
        elif severity not in blocked:
            assert [w.rule_id for w in verdict.warnings] == ["INTEL-VULNERABLE"]


def test_malicious_always_blocks_whatever_the_vulnerability_setting(tmp_path: Path) -> None:
    policy = _policy('[intel]\nvulnerabilities = "off"\non_stale = "warn"\n', tmp_path)
    mal = Finding("INTEL-MALICIOUS", Severity.CRITICAL, "reported", "x.whl", {"id": "MAL-1"})
    assert not decide([mal], target="t", policy=policy, package="x").allowed


def test_an_exception_names_one_advisory_by_id_or_alias(tmp_path: Path) -> None:
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    text = (
        '[intel]\nvulnerabilities = "block-all"\n'
        '[[exception]]\npackage = "urllib3"\nrule = "INTEL-VULNERABLE"\n'
        f'advisory = "CVE-2021-33503"\nreason = "not reachable here"\nexpires = {later}\n'
    )
    policy = _policy(text, tmp_path)
    covered = decide([_vuln(Severity.HIGH)], target="t", policy=policy, package="urllib3")
    assert covered.allowed and len(covered.excepted) == 1
    other = decide(
        [Finding("INTEL-VULNERABLE", Severity.HIGH, "m", "l", {"id": "GHSA-other"})],
        target="t",
        policy=policy,
        package="urllib3",
    )
    assert not other.allowed


@pytest.mark.parametrize("rule", ["INTEL-STALE", "INTEL-UNAVAILABLE"])
def test_stale_or_missing_data_warns_or_blocks_by_on_stale(tmp_path: Path, rule: str) -> None:
    finding = Finding(rule, Severity.MEDIUM, "too old", "threat-intelligence database", {})
    warn = decide([finding], target="t", policy=_policy("", tmp_path))
    assert warn.allowed and [w.rule_id for w in warn.warnings] == [rule]
    block = _policy('[intel]\non_stale = "block"\n', tmp_path)
    assert not decide([finding], target="t", policy=block).allowed
