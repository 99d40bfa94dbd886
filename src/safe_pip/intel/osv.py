"""OSV records for PyPI, read into the few facts the gate needs.

An OSV record (https://ossf.github.io/osv-schema/) names packages and the versions a problem
affects, as explicit ``versions`` lists and as ``ECOSYSTEM`` ranges of events (introduced,
fixed, last_affected, limit) ordered by PEP 440. Malicious-package reports (``MAL-`` ids, from
the OpenSSF malicious-packages feed) often also list the exact files they saw, with hashes, in
``affected[].database_specific.indicators.package_integrity``: those let a renamed re-upload of
the same bytes be caught by its sha256.

Only data is read here: no network, no database. A record the reader cannot interpret with
confidence (unknown schema major version, no id, a malformed ``affected`` entry) raises
:class:`RecordError`, so the caller can count and report it instead of storing half of it.
Note that ``database_specific.malicious-packages-origins[].sha256`` is the digest of a
*report*, not of a package file; it is deliberately not read as a file digest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SUPPORTED_SCHEMA_MAJOR = 1
"""OSV schema 1.x; a record declaring another major version is refused, not guessed at."""

Kind = Literal["malicious", "vulnerability"]
Level = Literal["critical", "high", "medium", "low", "unknown"]

_GHSA_LEVELS: Mapping[str, Level] = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MODERATE": "medium",
    "MEDIUM": "medium",
    "LOW": "low",
}
LEVEL_ORDER: Mapping[Level, int] = {"unknown": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class RecordError(ValueError):
    """A record that cannot be read with confidence; the message says why."""


@dataclass(frozen=True)
class Event:
    """One range event: ``introduced``, ``fixed``, ``last_affected`` or ``limit``."""

    kind: str
    version: str


@dataclass(frozen=True)
class Affected:
    """One PyPI package an advisory covers, and which of its versions and files."""

    name: str
    """Canonical project name."""
    versions: tuple[str, ...]
    ranges: tuple[tuple[Event, ...], ...]
    files: tuple[tuple[str, str], ...]
    """``(sha256, filename)`` of files the reporter saw (malicious reports)."""

    def fixed_versions(self) -> tuple[str, ...]:
        return tuple(e.version for r in self.ranges for e in r if e.kind == "fixed")

    def affects(self, version: str) -> bool:
        """Whether ``version`` is affected, by the explicit list or any ECOSYSTEM range."""
        if version in self.versions:
            return True
        try:
            v = Version(version)
        except InvalidVersion:
            # Unorderable: only a range open from "0" with no end can be said to cover it.
            return any(_unbounded(r) for r in self.ranges)
        if any(_same_version(v, listed) for listed in self.versions):
            return True
        return any(_in_range(v, r) for r in self.ranges)


@dataclass(frozen=True)
class Advisory:
    """One OSV record, reduced to what matching and messages need."""

    id: str
    kind: Kind
    summary: str
    aliases: tuple[str, ...]
    modified: dt.datetime
    withdrawn: bool
    level: Level
    score: float | None
    affected: tuple[Affected, ...]


def _same_version(v: Version, listed: str) -> bool:
    try:
        return Version(listed) == v
    except InvalidVersion:
        return False


def _order(event: Event) -> tuple[int, Version | None]:
    if event.version == "0":
        return (0, None)
    return (1, Version(event.version))


_CLOSERS = {
    "fixed": lambda v, bound: v >= bound,
    "limit": lambda v, bound: v >= bound,
    "last_affected": lambda v, bound: v > bound,
}


def _in_range(v: Version, events: Sequence[Event]) -> bool:
    """OSV's evaluation: walk the events in version order, toggling "affected"."""
    affected = False
    for event in sorted(events, key=_order):
        bound = None if event.version == "0" else Version(event.version)
        if event.kind == "introduced":
            affected = affected or bound is None or v >= bound
        elif bound is not None and _CLOSERS[event.kind](v, bound):
            affected = False
    return affected


def _unbounded(events: Sequence[Event]) -> bool:
    kinds = {(e.kind, e.version) for e in events}
    return ("introduced", "0") in kinds and not any(
        k in ("fixed", "last_affected", "limit") for k, _ in kinds
    )


def parse_time(value: object, field: str) -> dt.datetime:
    """An RFC 3339 timestamp (OSV requires UTC, ``Z``-suffixed), as an aware datetime."""
    if not isinstance(value, str):
        raise RecordError(f"{field} is not a timestamp")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python < 3.11 accepts at most microseconds; OSV writers emit nanoseconds.
    head, dot, frac = text.partition(".")
    if dot:
        digits = "".join(ch for ch in frac if ch.isdigit())
        rest = frac[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise RecordError(f"{field} is not an RFC 3339 timestamp: {value!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when


def _check_schema(doc: Mapping[str, Any]) -> None:
    raw = doc.get("schema_version", "1.0.0")
    if not isinstance(raw, str):
        raise RecordError("schema_version is not a string")
    major = raw.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_SCHEMA_MAJOR:
        raise RecordError(
            f"OSV schema version {raw} is not supported (this safe-pip reads "
            f"{SUPPORTED_SCHEMA_MAJOR}.x)"
        )


def _events(raw: object) -> tuple[Event, ...]:
    if not isinstance(raw, list):
        raise RecordError("range events are not a list")
    out: list[Event] = []
    for item in raw:
        if not isinstance(item, dict) or len(item) != 1:
            raise RecordError("a range event is not a one-key object")
        ((kind, version),) = item.items()
        if kind not in ("introduced", "fixed", "last_affected", "limit"):
            raise RecordError(f"unknown range event {kind!r}")
        if not isinstance(version, str):
            raise RecordError("a range event version is not a string")
        if version != "0":
            try:
                Version(version)
            except InvalidVersion as exc:
                raise RecordError(f"range event version {version!r} is not PEP 440") from exc
        out.append(Event(kind, version))
    return tuple(out)


def _files(affected: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    specific = affected.get("database_specific")
    if not isinstance(specific, dict):
        return ()
    indicators = specific.get("indicators")
    if not isinstance(indicators, dict):
        return ()
    out: list[tuple[str, str]] = []
    for entry in indicators.get("package_integrity") or ():
        if not isinstance(entry, dict):
            continue
        hashes = entry.get("hashes")
        digest = hashes.get("sha256") if isinstance(hashes, dict) else None
        if isinstance(digest, str) and len(digest) == 64:
            out.append((digest.lower(), str(entry.get("filename") or "")))
    return tuple(out)


def _affected(raw: object) -> Affected | None:
    """One ``affected`` entry, or None when it is about another ecosystem."""
    if not isinstance(raw, dict):
        raise RecordError("an affected entry is not an object")
    package = raw.get("package")
    if not isinstance(package, dict):
        raise RecordError("an affected entry has no package")
    if package.get("ecosystem") != "PyPI":
        return None
    name = package.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError("an affected package has no name")
    versions = raw.get("versions") or []
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise RecordError("affected versions are not a list of strings")
    ranges: list[tuple[Event, ...]] = []
    for rng in raw.get("ranges") or []:
        if not isinstance(rng, dict):
            raise RecordError("a range is not an object")
        if rng.get("type") != "ECOSYSTEM":
            continue  # GIT ranges name commits; the versions list covers what they resolve to
        ranges.append(_events(rng.get("events")))
    return Affected(canonicalize_name(name), tuple(versions), tuple(ranges), _files(raw))


def _cvss_score(vector: str) -> float | None:
    """The base score of a CVSS v3 or v4 vector, or None if it cannot be read."""
    try:
        if vector.startswith("CVSS:4"):
            from cvss import CVSS4

            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            from cvss import CVSS3

            return float(CVSS3(vector).base_score)
    except Exception:  # the cvss library raises its own hierarchy for malformed vectors
        return None
    return None


def level_for_score(score: float) -> Level:
    """CVSS's qualitative rating scale."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "unknown"


def _severity(doc: Mapping[str, Any]) -> tuple[Level, float | None]:
    """The record's own severity: a CVSS vector's base score, else the GHSA rating."""
    best: float | None = None
    for entry in doc.get("severity") or []:
        if isinstance(entry, dict) and isinstance(entry.get("score"), str):
            score = _cvss_score(entry["score"])
            if score is not None and (best is None or score > best):
                best = score
    if best is not None:
        return level_for_score(best), best
    specific = doc.get("database_specific")
    if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
        return _GHSA_LEVELS.get(specific["severity"].upper(), "unknown"), None
    return "unknown", None


def parse_record(doc: object) -> Advisory:
    """One OSV JSON document as an :class:`Advisory`; :class:`RecordError` if unreadable."""
    if not isinstance(doc, dict):
        raise RecordError("the record is not a JSON object")
    _check_schema(doc)
    rid = doc.get("id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("the record has no id")
    try:
        affected = tuple(a for a in map(_affected, doc.get("affected") or []) if a is not None)
        modified = parse_time(doc.get("modified"), "modified")
        level, score = _severity(doc)
    except RecordError as exc:
        raise RecordError(f"{rid}: {exc}") from exc
    aliases = doc.get("aliases") or []
    return Advisory(
        id=rid,
        kind="malicious" if rid.startswith("MAL-") else "vulnerability",
        summary=str(doc.get("summary") or doc.get("details") or "")[:500].strip(),
        aliases=tuple(a for a in aliases if isinstance(a, str)),
        modified=modified,
        withdrawn=doc.get("withdrawn") is not None,
        level="critical" if rid.startswith("MAL-") else level,
        score=score,
        affected=affected,
    )


def merge_levels(levels: Iterable[Level]) -> Level:
    """The worst of several ratings (aliases of one problem may disagree)."""
    return max(levels, key=lambda lv: LEVEL_ORDER[lv], default="unknown")
