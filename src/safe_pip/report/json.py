"""The report as JSON: the one shape every command prints, described by ``schema.json``.

Consumers rely on the shape, so it is versioned (``schema_version``) and a test validates
each command's output against the committed schema; change both together and bump
:data:`~safe_pip.report.model.SCHEMA_VERSION` on anything incompatible.
"""

from __future__ import annotations

import json
from typing import Any

from safe_pip import __version__
from safe_pip.models import Artifact, Finding
from safe_pip.report.model import SCHEMA_VERSION, Report, SignatureCheck, Subject


def _finding(f: Finding, blocking: bool) -> dict[str, Any]:
    d = f.to_dict()
    d["blocking"] = blocking
    return d


def _distribution(a: Artifact) -> dict[str, Any]:
    return {
        "name": a.name,
        "version": a.version,
        "path": a.path,
        "url": a.url,
        "sha256": a.sha256,
        "size": a.size,
        "requested": a.requested,
    }


def _signature(c: SignatureCheck) -> dict[str, Any]:
    return {
        "source": c.source,
        "verified": c.verified,
        "kind": c.kind,
        "signer": c.signer,
        "issuer": c.issuer,
        "matched": c.matched,
        "predicate_type": c.predicate_type,
        "reason": c.reason,
        "message": c.message,
    }


def subject_sha256(s: Subject) -> str | None:
    """The subject's own sha256: its scan's, else (for a distribution file) the file's."""
    if s.scan is not None and s.scan.sha256:
        return s.scan.sha256
    own = s.kind in ("artifact", "distribution") and s.distribution is not None
    return s.distribution.sha256 if own and s.distribution is not None else None


def subject_size(s: Subject) -> int | None:
    if s.scan is not None and s.scan.size is not None:
        return s.scan.size
    own = s.kind in ("artifact", "distribution") and s.distribution is not None
    return s.distribution.size if own and s.distribution is not None else None


def subject_dict(s: Subject) -> dict[str, Any]:
    excepted = s.verdict.excepted if s.verdict is not None else ()
    return {
        "kind": s.kind,
        "target": s.target,
        "decision": str(s.decision),
        "size": subject_size(s),
        "sha256": subject_sha256(s),
        "inventory": dict(sorted(s.scan.inventory.items())) if s.scan else {},
        "findings": [_finding(f, True) for f in s.blocking]
        + [{**_finding(f, False), "would_block": True} for f in s.would_block]
        + [_finding(f, False) for f in s.warnings],
        "excepted": [
            {"rule_id": e.rule_id, "location": e.location, "reason": e.reason, "expires": e.expires}
            for e in excepted
        ],
        "skipped": [k.to_dict() for k in s.scan.skipped] if s.scan else [],
        "notes": list(s.notes),
        "cached": s.cached,
        "distribution": _distribution(s.distribution) if s.distribution else None,
        "properties": dict(sorted(s.properties.items())),
        "signatures": [_signature(c) for c in s.signatures],
        "next_steps": list(s.next_steps),
    }


def document(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict (what ``schema.json`` describes)."""
    subjects = report.subjects
    summary: dict[str, int] = {
        "targets": len(subjects),
        "blocked": report.blocked,
        "findings": sum(len(s.blocking) + len(s.would_block) + len(s.warnings) for s in subjects),
        "skipped": sum(len(s.scan.skipped) for s in subjects if s.scan),
    }
    if report.other_files_scanned is not None:
        summary["other_files_scanned"] = report.other_files_scanned
    env = report.environment
    run = report.run
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "safe-pip", "version": __version__},
        "command": report.command,
        "outcome": report.outcome,
        "decision": str(report.decision),
        "exit_code": report.exit_code,
        "error": report.error,
        "summary": summary,
        "notes": list(report.notes),
        "environment": None
        if env is None
        else {
            "description": env.description,
            "python": env.python,
            "python_version": env.python_version,
            "site_packages": list(env.site_packages),
        },
        "run": None
        if run is None
        else {
            "dry_run": run.dry_run,
            "policy_digest": run.policy_digest,
            "timings": dict(run.timings),
            "installed": list(run.installed),
        },
        "targets": [subject_dict(s) for s in subjects],
    }


def render(report: Report, *, colour: bool = False) -> str:
    del colour  # JSON never carries colour
    return json.dumps(document(report), indent=2) + "\n"
