"""The rule catalogue: every rule id a finding can carry, with its meaning.

Findings name a rule id; this registry says what the rule means, its default
severity and how to allow it in policy.  ``docs/rules.md`` is generated from it
(``python scripts/gen_rule_docs.py``) and a test keeps the two in step, so the
explanation a user reads is the one the code ships.

Each area keeps its rules in its own module (``scan``, ``formats``, ``wheel``,
``policy``, ``verify``, ``install``); they are listed once in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from safe_pip.models import Severity

_MODULES = (
    "scan",
    "formats",
    "torchscript",
    "wheel",
    "verify",
    "install",
    "policy",
    "audit",
    "intel",
)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    explanation: str
    how_to_allow: str
    suspicious: bool = False
    """A finding of this rule is evidence of intent, not of an accident (a code-execution
    gadget, a typosquat): a block then also says how to report the package to its index."""


@cache
def all_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for name in _MODULES:
        mod = importlib.import_module(f"safe_pip.rules.{name}")
        for rule in mod.RULES:
            if rule.id in rules:
                raise RuntimeError(f"duplicate rule id {rule.id}")
            rules[rule.id] = rule
    return rules


def get_rule(rule_id: str) -> Rule | None:
    return all_rules().get(rule_id)
