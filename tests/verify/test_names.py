"""Name rules (verify/names.py): typosquats of popular names, the deny list, names.allow;
the typosquat setting itself is decide's (tests/test_decide.py)."""

from __future__ import annotations

import pytest

from safe_pip.decide import decide
from safe_pip.models import Severity
from safe_pip.policy.model import NamePattern, NamesPolicy, Policy
from safe_pip.verify.names import find_typosquat, name_findings


@pytest.mark.parametrize(
    ("name", "target", "kind"),
    [
        ("torchvision-optimized", "torchvision", "prefix"),
        ("reqeusts", "requests", "swap"),
        ("requestss", "requests", "repeat"),
        ("requets", "requests", "edit"),
        ("scikitlearn", "scikit-learn", "separator"),
        ("python-requests", "requests", "suffix"),
        ("Torch_Optimized", "torch", "prefix"),
    ],
)
def test_typosquats_found(name: str, target: str, kind: str) -> None:
    match = find_typosquat(name)
    assert match is not None and (match.target, match.kind) == (target, kind)


@pytest.mark.parametrize(
    "name",
    [
        "requests",
        "numpy",
        "pytest-cov",
        "types-requests",
        "safe-pip",
        "cleanpkg",
        "scikit-learn",
        "Scikit_Learn",
        "django-myapp",
        "pytest-foobar",
    ],
)
def test_legitimate_names_pass(name: str) -> None:
    assert find_typosquat(name) is None


def test_name_findings_respect_policy() -> None:
    deny = NamesPolicy(deny=(NamePattern("evil-*"),))
    assert [f.rule_id for f in name_findings("Evil_Pkg", deny, location="x")] == ["NAME-DENIED"]
    # The verifier reports at fixed severities; the policy's setting is applied by decide.
    warn = Policy(names=NamesPolicy(typosquat="warn"))
    verdict = decide(name_findings("reqeusts", warn.names, location="x"), target="x", policy=warn)
    [finding] = verdict.warnings
    assert finding.severity < Severity.MEDIUM
    off = Policy(names=NamesPolicy(typosquat="off"))
    verdict = decide(name_findings("reqeusts", off.names, location="x"), target="x", policy=off)
    assert verdict.blocking == verdict.warnings == ()
    allow = NamesPolicy(allow=(NamePattern("reqeusts"),))
    assert name_findings("reqeusts", allow, location="x") == []
