"""Findings × policy → one verdict per artifact.

This is the only place policy is applied to findings, so "why was this
blocked (or allowed)?" always has one answer, here:

1. ``PICKLE-GLOBAL-UNKNOWN`` findings whose ``detail["module"]``/``["name"]``
   match ``[scan] allow_globals`` (global, or the package's own block) are
   dropped, with a note.  ``PICKLE-GLOBAL-DANGEROUS`` is never dropped: the
   known gadgets can only be excepted, deliberately and with an expiry.
2. :data:`SETTINGS` — the one table of policy settings that soften a rule —
   turns a finding into a warning (reported at low severity, so every report
   format shows what the policy made of it) or drops it: typosquats
   (``[names] typosquat``), yanked releases (``[install] yanked``), unknown
   pickle globals (``[scan] unknown_globals``), known vulnerabilities by their
   advisory's severity (``[intel] vulnerabilities``) and a missing or stale
   threat-intelligence database (``[intel] on_stale``).  Scanners and verifiers
   report these at fixed severities and never read the setting.
3. Findings of severity MEDIUM or worse block; lower ones are warnings.
4. A blocking finding covered by an ``[[exception]]`` (package, optional
   version, optional sha256, rule or ``*``) becomes an
   :class:`~safe_pip.models.AppliedException`.  An exception past its
   ``expires`` date is not applied; it is reported in ``notes`` and as a
   ``POLICY-EXCEPTION-EXPIRED`` warning so the owner renews or removes it.
   An exception bound to another file's sha256 is noted, never applied.
5. ``[enforcement] mode = "pilot"`` (the warn-only roll-out) blocks nothing: a verdict
   that would block is an ALLOW whose ``would_block`` names those findings, with a note,
   so the report and the audit log still say what enforcing would have stopped.

Without ``policy`` the built-in default (``Policy()``, the same as
``policies/default.toml``) is used; callers that honour the org/user/project
layers pass ``safe_pip.policy.load_policy()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections.abc import Mapping, Sequence

from safe_pip.models import AppliedException, Decision, Finding, Severity, Verdict
from safe_pip.policy.model import Policy, PolicyException

BLOCK_AT = Severity.MEDIUM
UNKNOWN_GLOBAL = "PICKLE-GLOBAL-UNKNOWN"
EXPIRED_RULE = "POLICY-EXCEPTION-EXPIRED"


class Treatment(enum.Enum):
    """What a policy setting does to a rule's findings."""

    WARN = "warn"
    """A warning, at low severity: reported, never blocking."""
    OFF = "off"
    """Dropped: the policy turned the check off."""


_STALE = {"warn": Treatment.WARN}

SETTINGS: Mapping[str, tuple[str, Mapping[str, Treatment | Severity]]] = {
    # rule id: (policy key, {setting value: treatment, or the least severity that blocks});
    # any other value: decided by severity
    "NAME-TYPOSQUAT": ("names.typosquat", {"warn": Treatment.WARN, "off": Treatment.OFF}),
    "INDEX-YANKED": ("install.yanked", {"warn": Treatment.WARN, "allow": Treatment.OFF}),
    UNKNOWN_GLOBAL: ("scan.unknown_globals", {"warn": Treatment.WARN}),
    "INTEL-VULNERABLE": (
        "intel.vulnerabilities",
        {
            "off": Treatment.OFF,
            "warn": Treatment.WARN,
            "block-critical": Severity.CRITICAL,
            "block-high": Severity.HIGH,
            "block-medium": Severity.MEDIUM,
            "block-all": Severity.INFO,
        },
    ),
    "INTEL-STALE": ("intel.on_stale", _STALE),
    "INTEL-UNAVAILABLE": ("intel.on_stale", _STALE),
}
"""The only place a policy setting changes what a finding means.  A new softening
setting is a row here, not a severity computed inside a verifier.  A severity in place
of a treatment is a threshold: findings at or above it block, the rest warn (known
vulnerabilities by the advisory's severity)."""


def _setting(policy: Policy, key: str) -> object:
    return functools.reduce(getattr, key.split("."), policy)


class Block(enum.Enum):
    """A threshold setting put this finding at or above the severity that blocks."""

    BLOCK = "block"


def treatment(finding: Finding, policy: Policy) -> Treatment | Block | None:
    """What the policy's settings do to ``finding`` (None: decided by its severity)."""
    entry = SETTINGS.get(finding.rule_id)
    if entry is None:
        return None
    key, treatments = entry
    value = _setting(policy, key)
    how = treatments.get(value) if isinstance(value, str) else None
    if isinstance(how, Severity):
        return Block.BLOCK if finding.severity >= how else Treatment.WARN
    return how


def decide(
    findings: Sequence[Finding],
    *,
    target: str,
    policy: Policy | None = None,
    package: str | None = None,
    version: str | None = None,
    sha256: str | None = None,
    today: dt.date | None = None,
) -> Verdict:
    """Apply ``policy`` to the findings for one artifact."""
    policy = Policy() if policy is None else policy
    today = dt.date.today() if today is None else today
    notes: list[str] = []
    blocking: list[Finding] = []
    warnings: list[Finding] = []
    excepted: list[AppliedException] = []
    allowed_globals: list[str] = []
    reported: set[tuple[int, str]] = set()

    for finding in findings:
        pattern = _allowlisted(finding, policy, package, version)
        if pattern is not None:
            allowed_globals.append(f"{_global_name(finding)} (allow_globals {pattern!r})")
            continue
        how = treatment(finding, policy)
        if how is Treatment.OFF:
            continue
        if how is Treatment.WARN:
            warnings.append(
                dataclasses.replace(finding, severity=min(finding.severity, Severity.LOW))
            )
            continue
        if how is None and finding.severity < BLOCK_AT:
            warnings.append(finding)
            continue
        applied = _apply_exceptions(
            finding, policy, package, version, sha256, today, notes, warnings, reported
        )
        if applied is None:
            blocking.append(finding)
        else:
            excepted.append(applied)

    if allowed_globals:
        notes.insert(0, "allowed by policy: " + ", ".join(allowed_globals))
    if blocking and policy.enforcement.mode == "pilot":
        rules = ", ".join(dict.fromkeys(f.rule_id for f in blocking))
        notes.append(f"pilot mode: would have been blocked ({rules}); nothing is blocked")
        return Verdict(
            target=target,
            decision=Decision.ALLOW,
            blocking=(),
            warnings=tuple(warnings),
            excepted=tuple(excepted),
            notes=tuple(notes),
            would_block=tuple(blocking),
        )
    return Verdict(
        target=target,
        decision=Decision.BLOCK if blocking else Decision.ALLOW,
        blocking=tuple(blocking),
        warnings=tuple(warnings),
        excepted=tuple(excepted),
        notes=tuple(notes),
    )


def _advisories(finding: Finding) -> frozenset[str]:
    """The advisory ids a finding is about (an intel finding's id and its aliases)."""
    ids = [finding.detail.get("id"), *finding.detail.get("aliases", ())]
    return frozenset(i for i in ids if isinstance(i, str))


def _global_name(finding: Finding) -> str:
    return f"{finding.detail.get('module')}.{finding.detail.get('name')}"


def _allowlisted(
    finding: Finding, policy: Policy, package: str | None, version: str | None
) -> str | None:
    """The allow_globals pattern that removes this finding, if any."""
    if finding.rule_id != UNKNOWN_GLOBAL:
        return None
    module, name = finding.detail.get("module"), finding.detail.get("name")
    if not isinstance(module, str) or not isinstance(name, str) or not module or not name:
        return None  # nothing reliable to match: stays blocked
    return policy.global_allowed(module, name, package, version)


def _apply_exceptions(
    finding: Finding,
    policy: Policy,
    package: str | None,
    version: str | None,
    sha256: str | None,
    today: dt.date,
    notes: list[str],
    warnings: list[Finding],
    reported: set[tuple[int, str]],
) -> AppliedException | None:
    """The first live exception covering ``finding``; expired and mis-bound ones are noted."""
    for index, exc in enumerate(policy.exceptions):
        if exc.covers(finding.rule_id, package, version, sha256, _advisories(finding)):
            if not exc.expired(today):
                return AppliedException(
                    finding.rule_id, finding.location, exc.reason, exc.expires.isoformat()
                )
            if (index, "expired") not in reported:
                reported.add((index, "expired"))
                note = _expired_note(exc)
                notes.append(note)
                warnings.append(
                    Finding(
                        EXPIRED_RULE,
                        Severity.LOW,
                        note,
                        finding.location,
                        {
                            "exception": exc.source.where,
                            "expires": exc.expires.isoformat(),
                            "rule": exc.rule,
                            "package": exc.package,
                        },
                    )
                )
        elif (
            exc.sha256 is not None
            and exc.covers(finding.rule_id, package, version, exc.sha256, _advisories(finding))
            and (index, "sha") not in reported
        ):
            reported.add((index, "sha"))
            notes.append(
                f"exception at {exc.source.where} for {exc.package} {exc.rule} is bound to "
                f"sha256 {exc.sha256[:16]}…, not this file"
                + (f" ({sha256[:16]}…)" if sha256 else " (its hash is unknown)")
                + "; not applied"
            )
    return None


def _expired_note(exc: PolicyException) -> str:
    return (
        f"exception at {exc.source.where} for {exc.package} {exc.rule} expired on "
        f"{exc.expires.isoformat()} and was not applied ({exc.reason})"
    )
