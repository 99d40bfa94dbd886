"""Write docs/rules.md from the rule catalogue in ``safe_pip.rules``.

Why generated: the explanation a user reads in the docs must be the one
``safe-pip policy explain`` prints and SARIF carries. ``tests/rules/test_docs.py``
fails when the committed file is out of date; rerun this script to refresh it:

    python scripts/gen_rule_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from safe_pip.rules import all_rules

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def render() -> str:
    lines = [
        "# Rule catalogue",
        "",
        "Every finding safe-pip reports carries one of these rule ids. The severity is the",
        "default; the policy decides what blocks (by default MEDIUM and above).",
        "Generated from `safe_pip.rules` by `scripts/gen_rule_docs.py`; do not edit by hand.",
        "",
    ]
    for rule in sorted(all_rules().values(), key=lambda r: r.id):
        lines += [
            f"## {rule.id}",
            "",
            f"**{rule.title}** — default severity: {rule.severity}",
            "",
            rule.explanation,
            "",
            f"*How to allow:* {rule.how_to_allow}",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
