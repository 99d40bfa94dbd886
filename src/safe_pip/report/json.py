"""Machine-readable report with a stable, versioned shape (``schema_version``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from safe_pip import __version__
from safe_pip.models import Finding
from safe_pip.report import SCHEMA_VERSION, ReportItem


def _finding(f: Finding, blocking: bool) -> dict[str, Any]:
    d = f.to_dict()
    d["blocking"] = blocking
    return d


def item_dict(item: ReportItem) -> dict[str, Any]:
    v = item.verdict
    r = item.result
    out: dict[str, Any] = {
        "target": r.target,
        "decision": str(v.decision),
        "size": r.size,
        "sha256": r.sha256,
        "inventory": dict(sorted(r.inventory.items())),
        "findings": [_finding(f, True) for f in v.blocking]
        + [_finding(f, False) for f in v.warnings],
        "excepted": [
            {"rule_id": e.rule_id, "location": e.location, "reason": e.reason, "expires": e.expires}
            for e in v.excepted
        ],
        "skipped": [s.to_dict() for s in r.skipped],
        "notes": list(v.notes),
    }
    if item.artifact is not None:
        out["artifact"] = item.artifact.to_dict()
    return out


def document(items: Sequence[ReportItem], command: str) -> dict[str, Any]:
    blocked = sum(1 for i in items if not i.verdict.allowed)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "safe-pip", "version": __version__},
        "command": command,
        "decision": "block" if blocked else "allow",
        "summary": {
            "targets": len(items),
            "blocked": blocked,
            "findings": sum(len(i.verdict.blocking) + len(i.verdict.warnings) for i in items),
            "skipped": sum(len(i.result.skipped) for i in items),
        },
        "targets": [item_dict(i) for i in items],
    }


def render(items: Sequence[ReportItem], command: str) -> str:
    return json.dumps(document(items, command), indent=2) + "\n"
