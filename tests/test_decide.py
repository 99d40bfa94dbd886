"""decide(): the one place findings meet policy.

Allow-listed globals, exceptions (scoped, expiring, hash-bound) and the settings table —
the only place a policy setting softens a rule: verifiers and scanners report typosquats,
yanked releases and unknown pickle globals at fixed severities, and the policy's
``typosquat``, ``yanked`` and ``unknown_globals`` settings are applied here, from a real
policy file (the user's, the layer that may loosen the defaults), and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.decide import SETTINGS, decide
from safe_pip.models import Decision, Finding, Severity
from safe_pip.policy import Policy
from tests.policy.policy_machine import Machine

TODAY = dt.date(2025, 6, 1)
SHA = "ab" * 32
OTHER = "cd" * 32


def unknown(module: str, name: str) -> Finding:
    return Finding(
        "PICKLE-GLOBAL-UNKNOWN",
        Severity.MEDIUM,
        f"{module}.{name}",
        "x.whl!m.pt!data.pkl@10",
        {"module": module, "name": name},
    )


def dangerous(module: str, name: str) -> Finding:
    return Finding(
        "PICKLE-GLOBAL-DANGEROUS",
        Severity.CRITICAL,
        f"{module}.{name}",
        "x.whl!m.pt!data.pkl@20",
        {"module": module, "name": name},
    )


def policy_from(machine: Machine, text: str) -> Policy:
    machine.write(machine.user, "version = 1\n" + text)
    return machine.load()


def test_default_blocks_medium_and_warns_low() -> None:
    low = Finding("ZIP-INFO", Severity.LOW, "m", "loc")
    verdict = decide([unknown("a", "B"), low], target="t")
    assert verdict.decision is Decision.BLOCK
    assert [f.rule_id for f in verdict.blocking] == ["PICKLE-GLOBAL-UNKNOWN"]
    assert verdict.warnings == (low,)
    assert decide([low], target="t").allowed


def test_allow_globals_exact_and_module_glob(machine: Machine) -> None:
    policy = policy_from(
        machine,
        '[scan]\nallow_globals = ["sklearn.linear_model._logistic.'
        'LogisticRegression", "mypkg.*"]\n',
    )
    findings = [
        unknown("sklearn.linear_model._logistic", "LogisticRegression"),
        unknown("mypkg.sub", "Net"),
        unknown("mypkg", "Net"),
    ]
    verdict = decide(findings, target="t", policy=policy)
    assert verdict.allowed and not verdict.warnings
    assert "allow_globals" in verdict.notes[0]
    # near misses stay blocked
    misses = [unknown("mypkg_evil", "X"), unknown("sklearn.linear_model._logistic", "Other")]
    assert len(decide(misses, target="t", policy=policy).blocking) == 2


def test_dangerous_globals_cannot_be_allowlisted(machine: Machine) -> None:
    policy = policy_from(machine, '[scan]\nallow_globals = ["os.*", "builtins.eval"]\n')
    verdict = decide(
        [dangerous("os", "system"), dangerous("builtins", "eval")], target="t", policy=policy
    )
    assert verdict.decision is Decision.BLOCK and len(verdict.blocking) == 2


def test_package_allow_globals_only_for_that_package(machine: Machine) -> None:
    policy = policy_from(
        machine,
        '[[package]]\nname = "my-models"\nversions = ">=1"\nallow_globals = ["mymodels.*"]\n',
    )
    finding = [unknown("mymodels.nets", "ResNet")]
    assert decide(finding, target="t", policy=policy, package="My_Models", version="1.2").allowed
    assert not decide(finding, target="t", policy=policy, package="other", version="1.2").allowed
    assert not decide(
        finding, target="t", policy=policy, package="my-models", version="0.9"
    ).allowed


def test_unknown_globals_warn(machine: Machine) -> None:
    policy = policy_from(machine, '[scan]\nunknown_globals = "warn"\n')
    verdict = decide([unknown("a", "B"), dangerous("os", "system")], target="t", policy=policy)
    assert [f.rule_id for f in verdict.warnings] == ["PICKLE-GLOBAL-UNKNOWN"]
    assert [f.rule_id for f in verdict.blocking] == ["PICKLE-GLOBAL-DANGEROUS"]


def test_unknown_global_without_detail_stays_blocked(machine: Machine) -> None:
    policy = policy_from(machine, '[scan]\nallow_globals = ["a.*"]\n')
    bare = Finding("PICKLE-GLOBAL-UNKNOWN", Severity.MEDIUM, "?", "loc")
    assert not decide([bare], target="t", policy=policy).allowed


EXC = """[[exception]]
package = "legacy-model"
version = "1.0"
sha256 = "{sha}"
rule = "{rule}"
reason = "reviewed in TICKET-1"
expires = {expires}
"""


@pytest.mark.parametrize("rule", ["PICKLE-GLOBAL-DANGEROUS", "*"])
def test_exception_applies_to_matching_file(machine: Machine, rule: str) -> None:
    policy = policy_from(machine, EXC.format(sha=SHA, rule=rule, expires="2025-06-01"))
    verdict = decide(
        [dangerous("os", "system")],
        target="t",
        policy=policy,
        package="Legacy_Model",
        version="1.0",
        sha256=SHA.upper(),
        today=TODAY,
    )
    assert verdict.allowed
    (applied,) = verdict.excepted
    assert applied.rule_id == "PICKLE-GLOBAL-DANGEROUS"
    assert applied.reason == "reviewed in TICKET-1" and applied.expires == "2025-06-01"


def test_expired_exception_is_ignored_and_reported(machine: Machine) -> None:
    policy = policy_from(machine, EXC.format(sha=SHA, rule="*", expires="2025-05-31"))
    verdict = decide(
        [dangerous("os", "system"), unknown("a", "B")],
        target="t",
        policy=policy,
        package="legacy-model",
        version="1.0",
        sha256=SHA,
        today=TODAY,
    )
    assert verdict.decision is Decision.BLOCK and len(verdict.blocking) == 2
    assert not verdict.excepted
    assert len(verdict.notes) == 1 and "expired on 2025-05-31" in verdict.notes[0]
    assert str(machine.user) in verdict.notes[0]
    assert [f.rule_id for f in verdict.warnings] == ["POLICY-EXCEPTION-EXPIRED"]


def test_sha256_bound_exception_does_not_apply_to_another_file(machine: Machine) -> None:
    policy = policy_from(machine, EXC.format(sha=SHA, rule="*", expires="2099-01-01"))
    verdict = decide(
        [dangerous("os", "system")],
        target="t",
        policy=policy,
        package="legacy-model",
        version="1.0",
        sha256=OTHER,
        today=TODAY,
    )
    assert verdict.decision is Decision.BLOCK and not verdict.excepted
    assert "bound to sha256" in verdict.notes[0]
    unknown_hash = decide(
        [dangerous("os", "system")],
        target="t",
        policy=policy,
        package="legacy-model",
        version="1.0",
        today=TODAY,
    )
    assert not unknown_hash.allowed


def test_exception_scoped_by_version_package_and_rule(machine: Machine) -> None:
    text = EXC.format(sha=SHA, rule="PICKLE-GLOBAL-UNKNOWN", expires="2099-01-01")
    policy = policy_from(machine, text)
    finding = [unknown("a", "B")]

    def allowed(findings: list[Finding], package: str, version: str) -> bool:
        return decide(
            findings,
            target="t",
            policy=policy,
            package=package,
            version=version,
            sha256=SHA,
            today=TODAY,
        ).allowed

    assert allowed(finding, "legacy-model", "1.0.0")
    assert not allowed(finding, "legacy-model", "1.1")
    assert not allowed(finding, "other", "1.0")
    assert not allowed([dangerous("os", "system")], "legacy-model", "1.0")


def test_local_file_matched_by_hash_only(machine: Machine) -> None:
    text = EXC.format(sha=SHA, rule="*", expires="2099-01-01").replace('version = "1.0"\n', "")
    policy = policy_from(machine, text)
    assert decide(
        [dangerous("os", "system")], target="m.pt", policy=policy, sha256=SHA, today=TODAY
    ).allowed
    assert not decide(
        [dangerous("os", "system")], target="m.pt", policy=policy, today=TODAY
    ).allowed


def test_decide_without_policy_equals_default_file(machine: Machine, tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[1] / "policies" / "default.toml"
    policy = machine.load(shipped)
    findings = [unknown("a", "B"), dangerous("os", "system")]
    assert decide(findings, target="t") == decide(findings, target="t", policy=policy)


# -- the settings table ------------------------------------------------------------------

FINDINGS = {
    "NAME-TYPOSQUAT": Finding("NAME-TYPOSQUAT", Severity.HIGH, "looks like requests", "x"),
    "INDEX-YANKED": Finding("INDEX-YANKED", Severity.HIGH, "yanked", "x"),
    "PICKLE-GLOBAL-UNKNOWN": Finding(
        "PICKLE-GLOBAL-UNKNOWN", Severity.HIGH, "a.B", "x@1", {"module": "a", "name": "B"}
    ),
}


def _policy(machine: Machine, section: str, key: str, value: str) -> Policy:
    """The setting in the user's own policy (the layer that may loosen the defaults)."""
    return policy_from(machine, f'[{section}]\n{key} = "{value}"\n')


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
    machine: Machine, rule: str, section: str, key: str, value: str, outcome: str
) -> None:
    policy = _policy(machine, section, key, value)
    verdict = decide([FINDINGS[rule]], target="t", policy=policy)
    if outcome == "block":
        assert [f.rule_id for f in verdict.blocking] == [rule]
        assert verdict.blocking[0].severity is Severity.HIGH
    elif outcome == "warn":
        assert verdict.allowed and [f.rule_id for f in verdict.warnings] == [rule]
        assert verdict.warnings[0].severity is Severity.LOW  # what the policy made of it
    else:
        assert verdict.allowed and verdict.blocking == verdict.warnings == ()


def test_a_dependencys_typosquat_stays_a_warning_under_block(machine: Machine) -> None:
    """The verifier's own fact (pulled in as a dependency: low) is kept, not raised."""
    low = Finding("NAME-TYPOSQUAT", Severity.LOW, "dependency", "x", {"requested": False})
    verdict = decide([low], target="t", policy=_policy(machine, "names", "typosquat", "block"))
    assert verdict.allowed and verdict.warnings == (low,)


def test_the_table_names_real_rules_and_policy_keys() -> None:
    from functools import reduce

    from safe_pip.rules import get_rule

    for rule, (key, treatments) in SETTINGS.items():
        assert get_rule(rule) is not None, rule
        assert isinstance(reduce(getattr, key.split("."), Policy()), str), key
        assert treatments
