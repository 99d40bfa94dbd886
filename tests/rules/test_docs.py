"""The rule catalogue in docs/ is the one the code ships, and every rule id is documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from safe_pip.rules import all_rules

REPO = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_rule_docs", REPO / "scripts/gen_rule_docs.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_rules_md_is_up_to_date() -> None:
    committed = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    rendered: str = _generator().render()
    assert committed == rendered, "run: python scripts/gen_rule_docs.py"


def test_every_rule_has_an_explanation_and_a_way_to_allow() -> None:
    for rule in all_rules().values():
        assert rule.explanation.strip() and rule.how_to_allow.strip(), rule.id
        assert rule.id == rule.id.upper() and " " not in rule.id
