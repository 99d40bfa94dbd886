"""decide's settings table: the only place a policy setting softens a rule.

Verifiers and scanners report typosquats, yanked releases and unknown pickle globals at fixed
severities; the policy's ``typosquat``, ``yanked`` and ``unknown_globals`` settings are
applied here, from a real policy file, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.decide import SETTINGS, decide
from safe_pip.models import Finding, Severity
from safe_pip.policy import Policy, load_policy

FINDINGS = {
    "NAME-TYPOSQUAT": Finding("NAME-TYPOSQUAT", Severity.HIGH, "looks like requests", "x"),
    "INDEX-YANKED": Finding("INDEX-YANKED", Severity.HIGH, "yanked", "x"),
    "PICKLE-GLOBAL-UNKNOWN": Finding(
        "PICKLE-GLOBAL-UNKNOWN", Severity.HIGH, "a.B", "x@1", {"module": "a", "name": "B"}
    ),
}


def _policy(tmp_path: Path, section: str, key: str, value: str) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(f'version = 1\n[{section}]\n{key} = "{value}"\n')
    return load_policy(path, cwd=tmp_path, env={"HOME": str(tmp_path)})


@pytest.mark.parametrize(
    "rule, section, key, value, outcome",
    [
        ("NAME-TYPOSQUAT", "names", "typosquat", "block", "block"),
        ("NAME-TYPOSQUAT", "names", "typosquat", "warn", "warn"),
        ("NAME-TYPOSQUAT", "names", "typosquat", "off", "off"),
        ("INDEX-YANKED", "install", "yanked", "block", "block"),
        ("INDEX-YANKED", "install", "yanked", "warn", "warn"),
        ("INDEX-YANKED", "install", "yanked", "allow", "off"),
        ("PICKLE-GLOBAL-UNKNOWN", "scan", "unknown_globals", "block", "block"),
        ("PICKLE-GLOBAL-UNKNOWN", "scan", "unknown_globals", "warn", "warn"),
    ],
)
def test_each_setting(
    tmp_path: Path, rule: str, section: str, key: str, value: str, outcome: str
) -> None:
    policy = _policy(tmp_path, section, key, value)
    verdict = decide([FINDINGS[rule]], target="t", policy=policy)
    if outcome == "block":
        assert [f.rule_id for f in verdict.blocking] == [rule]
        assert verdict.blocking[0].severity is Severity.HIGH
    elif outcome == "warn":
        assert verdict.allowed and [f.rule_id for f in verdict.warnings] == [rule]
        assert verdict.warnings[0].severity is Severity.LOW  # what the policy made of it
    else:
        assert verdict.allowed and verdict.blocking == verdict.warnings == ()


def test_a_dependencys_typosquat_stays_a_warning_under_block(tmp_path: Path) -> None:
    """The verifier's own fact (pulled in as a dependency: low) is kept, not raised."""
    low = Finding("NAME-TYPOSQUAT", Severity.LOW, "dependency", "x", {"requested": False})
    verdict = decide([low], target="t", policy=_policy(tmp_path, "names", "typosquat", "block"))
    assert verdict.allowed and verdict.warnings == (low,)


def test_the_table_names_real_rules_and_policy_keys() -> None:
    from functools import reduce

    from safe_pip.rules import get_rule

    for rule, (key, treatments) in SETTINGS.items():
        assert get_rule(rule) is not None, rule
        assert isinstance(reduce(getattr, key.split("."), Policy()), str), key
        assert treatments
