"""SARIF 2.1.0 for GitHub code scanning and other CI dashboards.

GitHub requires a physical location per result, so each result points at the
scanned file (relative to the working directory when it is inside it) and
carries the full nested path (``pkg.whl!pkg/model.pt!archive/data.pkl@12``) as
a logical location and in its message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safe_pip import __version__
from safe_pip.models import Finding, Severity
from safe_pip.report import ReportItem
from safe_pip.rules import all_rules

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def _uri(target: str) -> str:
    top = target.split("!", 1)[0]
    p = Path(top)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except (ValueError, OSError):
        return p.as_posix().lstrip("/") if not p.is_absolute() else p.as_uri()


def _result(f: Finding, blocking: bool, target: str) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "level": _LEVEL[f.severity] if blocking else "note",
        "message": {"text": f"{f.message} [{f.location}]"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(target)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": f.location, "kind": "member"}],
            }
        ],
        "partialFingerprints": {"safePipLocation/v1": f"{f.rule_id}:{f.location}"},
        "properties": {"severity": str(f.severity), "blocking": blocking},
    }


def render(items: Sequence[ReportItem], command: str) -> str:
    return json.dumps(document(items, command), indent=2) + "\n"


def document(items: Sequence[ReportItem], command: str) -> dict[str, Any]:
    """The SARIF log as a dict (``install`` embeds it in its own report file)."""
    used: dict[str, None] = {}
    results = []
    for item in items:
        for f in item.verdict.blocking:
            used.setdefault(f.rule_id)
            results.append(_result(f, True, item.result.target))
        for f in item.verdict.warnings:
            used.setdefault(f.rule_id)
            results.append(_result(f, False, item.result.target))
    catalogue = all_rules()
    rules = []
    for rid in used:
        rule = catalogue.get(rid)
        sev = rule.severity if rule else Severity.HIGH
        rules.append(
            {
                "id": rid,
                "name": rid.title().replace("-", ""),
                "shortDescription": {"text": rule.title if rule else rid},
                "fullDescription": {"text": rule.explanation if rule else rid},
                "help": {"text": rule.how_to_allow if rule else ""},
                "defaultConfiguration": {"level": _LEVEL[sev]},
                "properties": {
                    "security-severity": _SECURITY_SEVERITY[sev],
                    "tags": ["security", "supply-chain"],
                },
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safe-pip",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"safe-pip/{command}/"},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
                "results": results,
            }
        ],
    }
