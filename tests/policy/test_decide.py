"""decide(): the one place findings meet policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.decide import decide
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
    shipped = Path(__file__).resolve().parents[2] / "policies" / "default.toml"
    policy = machine.load(shipped)
    findings = [unknown("a", "B"), dangerous("os", "system")]
    assert decide(findings, target="t") == decide(findings, target="t", policy=policy)
