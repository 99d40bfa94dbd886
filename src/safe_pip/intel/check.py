"""What the database says about one artifact, as findings.

Findings carry the severity the data states (a malicious report is always critical; a
vulnerability takes its CVSS or GHSA rating, "unknown" counting as medium); whether a finding
blocks is decided in one place, ``decide.py``, from the ``[intel]`` policy. Aliases of one
problem (a PYSEC id and its GHSA twin) become one finding that names them all, as pip-audit
reports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from packaging.version import InvalidVersion, Version

from safe_pip.intel.osv import Level, merge_levels
from safe_pip.intel.store import FileMatch, IntelDB, Match, Status
from safe_pip.models import Finding, Severity

_SEVERITY: dict[Level, Severity] = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "unknown": Severity.MEDIUM,
}


def _groups(matches: Sequence[Match]) -> list[list[Match]]:
    """Matches joined when one names another as an alias (transitively)."""
    groups: list[tuple[set[str], list[Match]]] = []
    for m in matches:
        names = {m.advisory.id, *m.advisory.aliases}
        joined = [g for g in groups if g[0] & names]
        for g in joined:
            groups.remove(g)
            names |= g[0]
        groups.append((names, [m, *(x for g in joined for x in g[1])]))
    return [sorted(g[1], key=lambda m: m.advisory.id) for g in groups]


def _fixed_after(version: str, fixed: Iterable[str]) -> list[str]:
    """Fixed versions above ``version``, lowest first (the upgrade to suggest)."""
    try:
        current: Version | None = Version(version)
    except InvalidVersion:
        current = None
    out: set[Version] = set()
    for f in fixed:
        try:
            v = Version(f)
        except InvalidVersion:
            continue
        if current is None or v > current:
            out.add(v)
    return [str(v) for v in sorted(out)]


def _vulnerability(name: str, version: str, group: list[Match], location: str) -> Finding:
    ids = sorted({m.advisory.id for m in group} | {a for m in group for a in m.advisory.aliases})
    primary = group[0].advisory
    level = merge_levels(m.advisory.level for m in group)
    scores = [m.advisory.score for m in group if m.advisory.score is not None]
    fixed = _fixed_after(version, (f for m in group for f in m.affected.fixed_versions()))
    fix_text = f"; fixed in {fixed[0]}" if fixed else "; no fixed version is known"
    others = [i for i in ids if i != primary.id]
    alias_text = f" (also {', '.join(others)})" if others else ""
    return Finding(
        "INTEL-VULNERABLE",
        _SEVERITY[level],
        f"{name} {version} is affected by {primary.id}{alias_text}, severity {level}"
        f"{fix_text}: {primary.summary or 'no summary'}",
        location,
        {
            "id": primary.id,
            "aliases": others,
            "level": level,
            "score": max(scores) if scores else None,
            "fixed_versions": fixed,
            "package": name,
            "version": version,
        },
    )


def _malicious(name: str, version: str, match: Match, location: str) -> Finding:
    adv = match.advisory
    return Finding(
        "INTEL-MALICIOUS",
        Severity.CRITICAL,
        f"{name} {version} is reported as malicious by {adv.id}: {adv.summary or 'no summary'}",
        location,
        {"id": adv.id, "package": name, "version": version, "match": "version"},
    )


def _file(name: str, sha256: str, hit: FileMatch, location: str) -> Finding:
    also = f" (reported as {hit.filename} of {hit.name})" if hit.filename else ""
    return Finding(
        "INTEL-MALICIOUS",
        Severity.CRITICAL,
        f"this file's sha256 {sha256[:16]}… is a file {hit.advisory_id} reports as malicious"
        f"{also}: {hit.summary or 'no summary'}",
        location,
        {"id": hit.advisory_id, "package": name, "sha256": sha256, "match": "sha256"},
    )


def findings_for(
    db: IntelDB, name: str, version: str, sha256: str | None, *, location: str
) -> list[Finding]:
    """Every finding the database supports for one artifact (an indexed query or two)."""
    out: list[Finding] = []
    seen_malicious: set[str] = set()
    if sha256:
        for hit in db.for_sha256(sha256):
            if hit.kind == "malicious":
                seen_malicious.add(hit.advisory_id)
                out.append(_file(name, sha256, hit, location))
    vulnerable: list[Match] = []
    for match in db.for_name(name):
        if not match.affected.affects(version):
            continue
        if match.advisory.kind == "malicious":
            if match.advisory.id not in seen_malicious:
                out.append(_malicious(name, version, match, location))
        else:
            vulnerable.append(match)
    out.extend(_vulnerability(name, version, g, location) for g in _groups(vulnerable))
    return out


def freshness(
    status: Status | None, problem: str | None, *, max_age: dt.timedelta, now: dt.datetime
) -> list[Finding]:
    """A missing, unreadable, stale or future-dated database, as one finding for the run."""
    where = "threat-intelligence database"
    if status is None:
        return [
            Finding(
                "INTEL-UNAVAILABLE",
                Severity.MEDIUM,
                f"no known-malicious or vulnerability data was checked: {problem}",
                where,
                {},
            )
        ]
    age = now - status.synced_at
    if age < -dt.timedelta(minutes=5):
        return [
            Finding(
                "INTEL-STALE",
                Severity.MEDIUM,
                f"the database says it was synced at {status.synced_at:%Y-%m-%d %H:%M} UTC, "
                "in the future: its age cannot be trusted (clock change or tampering); "
                "run 'safe-pip intel sync'",
                where,
                {"synced_at": status.synced_at.isoformat(), "future": True},
            )
        ]
    if age > max_age:
        days = age.total_seconds() / 86400
        return [
            Finding(
                "INTEL-STALE",
                Severity.MEDIUM,
                f"the database is {days:.1f} days old, older than [intel] max_age "
                f"({max_age.total_seconds() / 86400:g} days): run 'safe-pip intel sync'",
                where,
                {
                    "synced_at": status.synced_at.isoformat(),
                    "age_seconds": int(age.total_seconds()),
                },
            )
        ]
    return []
