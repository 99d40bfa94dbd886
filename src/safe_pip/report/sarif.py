"""The report as SARIF 2.1.0, for GitHub code scanning and other CI dashboards.

GitHub requires a physical location per result, so each result points at the
subject's file (relative to the working directory when it is inside it) and
carries the full nested path (``pkg.whl!pkg/model.pt!archive/data.pkl@12``) as
a logical location and in its message.  The URI comes from the subject's stable
``target`` (an installed distribution: its ``.dist-info`` folder), never from a
display label, so the same file gets the same URI on every run and alerts match up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from safe_pip import __version__
from safe_pip.models import Finding, Severity
from safe_pip.report.model import Report, Subject
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


def _uri(subject: Subject) -> str:
    if subject.kind == "distribution" and subject.distribution is not None:
        top = subject.distribution.path
    else:
        top = subject.target.split("!", 1)[0]
    p = Path(top)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
        return quote(rel.as_posix())
    except (ValueError, OSError):
        return p.as_uri() if p.is_absolute() else quote(p.as_posix())


def _result(f: Finding, blocking: bool, uri: str) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "level": _LEVEL[f.severity] if blocking else "note",
        "message": {"text": f"{f.message} [{f.location}]"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": f.location, "kind": "member"}],
            }
        ],
        "partialFingerprints": {"safePipLocation/v1": f"{f.rule_id}:{f.location}"},
        "properties": {"severity": str(f.severity), "blocking": blocking},
    }


def _invocation(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "executionSuccessful": report.error is None,
        "exitCode": report.exit_code,
    }
    if report.error is not None:
        out["toolExecutionNotifications"] = [{"level": "error", "message": {"text": report.error}}]
    return out


def render(report: Report, *, colour: bool = False) -> str:
    del colour  # SARIF never carries colour
    return json.dumps(document(report), indent=2) + "\n"


def document(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict."""
    used: dict[str, None] = {}
    results = []
    for subject in report.subjects:
        uri = _uri(subject)
        for blocking, findings in ((True, subject.blocking), (False, subject.warnings)):
            for f in findings:
                used.setdefault(f.rule_id)
                results.append(_result(f, blocking, uri))
        for f in subject.would_block:  # pilot mode: shown as it will be, marked as not blocking
            used.setdefault(f.rule_id)
            result = _result(f, True, uri)
            result["properties"] = {**result["properties"], "blocking": False, "would_block": True}
            results.append(result)
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
                "automationDetails": {"id": f"safe-pip/{report.command}/"},
                "invocations": [_invocation(report)],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
                "results": results,
            }
        ],
    }
