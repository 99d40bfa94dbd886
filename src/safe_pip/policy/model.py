"""The policy as typed, frozen data: what every other stage reads, and where every key is declared.

Verifiers, the scanner and the install gate receive a :class:`Policy` and ask it questions
(``policy.names.denied(name)``, ``policy.for_package(name, version)``); they never see
TOML or dicts.  Each key is declared exactly once, here, as a dataclass field whose
metadata (:mod:`safe_pip.policy.keys`) gives its parser, its default, how a lower layer may
change it and how ``policy show`` writes it; parsing, merging, the schema, ``policy show``
and :meth:`Policy.digest` all read these declarations.

Every list item that came from a file carries a :class:`SourceRef`, so a message can say
*which* line of *which* layer blocked an install.  Source references are excluded from
equality and from the digest: moving a rule to another file does not change what the
policy decides.

Helpers:

- ``Policy.for_package(name, version)`` → :class:`PackagePolicy`: the pins, publishers and
  extra allowed globals for one release (blocks whose ``versions`` do not contain
  ``version`` are skipped; ``version=None`` only matches blocks without ``versions``).
- ``Policy.names.denied(name)`` → the deny entry that matches, or ``None``.
- ``Policy.names.typosquat_exempt(name)``, ``Policy.index.permits(url)``.
- ``Policy.scan.limits.to_limits()`` → :class:`safe_pip.scan.core.limits.Limits`.
- ``Policy.origin(key)`` → where a setting such as ``"install.min_age"`` came from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from safe_pip.policy import values as v
from safe_pip.policy.keys import (
    BUILTIN,
    FIXED,
    HIGHER,
    LOWER,
    OFF_ONLY,
    ON_ONLY,
    BadItem,
    Bounds,
    Conflict,
    Context,
    LayerName,
    SourceRef,
    Tighten,
    collect,
    entries,
    entry_field,
    items,
    path_value,
    plain,
    ranked,
    setting,
    subset,
    table,
    whose,
)
from safe_pip.scan.core.limits import Limits

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from safe_pip.policy.pins import Pin
    from safe_pip.policy.remote_model import RemoteOrigin

Typosquat = Literal["block", "warn", "off"]
Yanked = Literal["block", "warn", "allow"]
EnforcementMode = Literal["enforce", "pilot"]
HashRequire = Literal["always", "pinned", "never"]
SignatureRequire = Literal["always", "listed", "available", "off"]
UnknownGlobals = Literal["block", "warn"]
IntelVulnerabilities = Literal[
    "block-all", "block-medium", "block-high", "block-critical", "warn", "off"
]
IntelStale = Literal["block", "warn"]
DEFAULT_INTEL_SOURCE = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
"""osv.dev's export of every PyPI advisory: vulnerabilities and OpenSSF MAL- reports."""

SCHEMA_VERSION = 1
_DEFAULT_LIMITS = Limits()


def _canonical_name(name: str) -> str:
    """packaging's ``canonicalize_name``, imported on first use: ``packaging.utils`` imports
    ``packaging.tags`` (logging, platform, subprocess), which a scan of a plain file or a
    policy without name rules never needs (nor packaging's version machinery: see
    :func:`_all_versions`)."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def _parse_pins(value: object, ctx: Context) -> tuple[Pin, ...]:
    """:func:`safe_pip.policy.pins.parse_pins`, imported when a ``publisher`` is read."""
    from safe_pip.policy.pins import parse_pins

    return parse_pins(value, ctx)


def _show_pins(pins: Sequence[Pin]) -> str:
    from safe_pip.policy.pins import show_pins

    return show_pins(pins)


def _all_versions() -> SpecifierSet:
    """The empty specifier (every version): a ``[[package]]`` block's default ``versions``."""
    from packaging.specifiers import SpecifierSet

    return SpecifierSet()


# -- names ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NamePattern:
    """A normalised package name or glob (``torch-*``) from a policy file."""

    pattern: str
    source: SourceRef = field(default=BUILTIN, compare=False)

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(_canonical_name(name), self.pattern)


def _name_patterns(value: object, ctx: Context) -> tuple[NamePattern, ...]:
    out: list[NamePattern] = []
    for item in v.string_list(value):
        try:
            out.append(NamePattern(v.name_pattern(item), ctx.source(item)))
        except ValueError as exc:
            raise BadItem(item, str(exc)) from None
    return tuple(out)


def _show_patterns(value: Sequence[NamePattern]) -> str:
    return v.literal(tuple(p.pattern for p in value))


def _overlaps(a: str, b: str) -> bool:
    return fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)


def _the(ref: SourceRef) -> str:
    return "the built-in default" if ref.path is None else f"the {ref.layer}"


def _check_allow(
    patterns: Sequence[NamePattern], bounds: Bounds, conflicts: list[Conflict]
) -> list[NamePattern]:
    """A typosquat exemption may not overlap a name a bounding layer denies."""
    denied: Sequence[NamePattern] = bounds.collected("names.deny")
    kept: list[NamePattern] = []
    for pattern in patterns:
        hit = next((d for d in denied if _overlaps(pattern.pattern, d.pattern)), None)
        if hit is None:
            kept.append(pattern)
            continue
        conflicts.append(
            Conflict(
                "names.deny",
                pattern.source,
                hit.source,
                f'names.allow "{pattern.pattern}" would allow a name {_the(hit.source)} '
                f'denies ("{hit.pattern}")',
            )
        )
    return kept


@dataclass(frozen=True)
class NamesPolicy:
    """``[names]``: names that may never be installed and the typosquat check.

    ``allow`` exempts names from the typosquat check only; it cannot undo a deny (deny
    always wins, and a lower layer allowing a denied name is an error).
    """

    deny: tuple[NamePattern, ...] = collect(
        _name_patterns,
        show=_show_patterns,
        doc="package names or globs that may never be installed; every layer adds to it",
    )
    allow: tuple[NamePattern, ...] = setting(
        (),
        _name_patterns,
        subset("may only list names allowed above it"),
        show=_show_patterns,
        check=_check_allow,
        doc="names exempt from the typosquat check (never from deny)",
    )
    typosquat: Typosquat = ranked(
        "block", "block", "warn", "off", doc="what a name close to a popular one does"
    )

    def denied(self, name: str) -> NamePattern | None:
        return next((p for p in self.deny if p.matches(name)), None)

    def typosquat_exempt(self, name: str) -> bool:
        return self.denied(name) is None and any(p.matches(name) for p in self.allow)


# -- index ----------------------------------------------------------------------------------
def url_within(url: str, prefix: str) -> bool:
    """Whether ``url`` is ``prefix`` or below it (``/simple`` ≠ ``/simple-evil``)."""
    if url == prefix:
        return True
    if not url.startswith(prefix):
        return False
    return prefix.endswith("/") or url[len(prefix)] in "/?#"


def _url_prefix(value: str) -> str:
    if not value.startswith(("https://", "http://", "file:")):
        raise ValueError(f'"{value}" is not an http(s):// or file: URL prefix')
    return value


def _within_urls(lower: object, upper: object) -> bool:
    if not isinstance(lower, tuple) or not isinstance(upper, tuple):
        return False
    if not upper:
        return True  # above allowed any index pip is configured with
    return bool(lower) and all(any(url_within(u, p) for p in upper) for u in lower)


@dataclass(frozen=True)
class IndexPolicy:
    """``[index]``: URL prefixes artifacts may come from; empty = pip's configuration."""

    allowed: tuple[str, ...] = setting(
        (),
        items(_url_prefix),
        Tighten(_within_urls, "may only list URLs inside the allowed indexes above it"),
        doc="URL prefixes artifacts may come from (empty: wherever pip is configured to look)",
    )

    def permits(self, url: str) -> bool:
        return not self.allowed or any(url_within(url, prefix) for prefix in self.allowed)


# -- install, hashes, signatures ------------------------------------------------------------
@dataclass(frozen=True)
class InstallPolicy:
    """``[install]``: what kinds of release may be installed at all."""

    allow_sdist: bool = setting(
        False, plain(v.boolean), OFF_ONLY, doc="build and install source distributions"
    )
    min_age: dt.timedelta = setting(
        dt.timedelta(0),
        plain(v.duration),
        HIGHER,
        show=lambda value: v.literal(value),
        doc="minimum time since upload before a release may be installed",
    )
    yanked: Yanked = ranked("block", "block", "warn", "allow", doc="what a yanked file does")
    local_builds: bool = setting(
        True,
        plain(v.boolean),
        OFF_ONLY,
        doc="build the local trees you name (., -e ., paths) through the gate",
    )


@dataclass(frozen=True)
class HashesPolicy:
    """``[hashes]``: whether artifacts need hash pins (pins live in ``[[package]]``)."""

    require: HashRequire = ranked(
        "never", "always", "pinned", "never", doc="which artifacts must match a hash pin"
    )


@dataclass(frozen=True)
class SignaturesPolicy:
    """``[signatures]``: how strictly signatures are required.

    ``off`` < ``available`` (verify what exists; a bad one blocks, a missing one does
    not) < ``listed`` < ``always`` (every artifact must verify).  A package with a
    ``[[package]] publisher`` pin must be signed by it whatever this says.
    """

    require: SignatureRequire = ranked(
        "available",
        "always",
        "listed",
        "available",
        "off",
        doc="which artifacts must carry a verifying signature",
    )
    trusted_root: Path | None = setting(
        None,
        path_value,
        FIXED,
        doc="sigstore trusted_root.json (default: the pinned production root)",
    )


# -- scan -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanLimits:
    """``[scan.limits]``; defaults are the scanner's own :class:`Limits`."""

    depth: int = setting(
        _DEFAULT_LIMITS.max_depth, plain(v.positive_int), LOWER, doc="containers inside containers"
    )
    members: int = setting(
        _DEFAULT_LIMITS.max_members,
        plain(v.positive_int),
        LOWER,
        doc="archive members per artifact",
    )
    bytes: int = setting(
        _DEFAULT_LIMITS.max_total_bytes, plain(v.size), LOWER, doc="decompressed bytes per artifact"
    )
    member_bytes: int = setting(
        _DEFAULT_LIMITS.max_member_bytes, plain(v.size), LOWER, doc="decompressed bytes per member"
    )
    ratio: float = setting(
        _DEFAULT_LIMITS.max_ratio, plain(v.positive_float), LOWER, doc="compression ratio of a bomb"
    )
    pickle_opcodes: int = setting(
        _DEFAULT_LIMITS.max_pickle_opcodes,
        plain(v.positive_int),
        LOWER,
        doc="pickle opcodes read per member",
    )
    time: float = setting(
        _DEFAULT_LIMITS.time_budget, plain(v.seconds), LOWER, doc="seconds per artifact"
    )

    def to_limits(self) -> Limits:
        return Limits(
            max_depth=self.depth,
            max_members=self.members,
            max_total_bytes=self.bytes,
            max_member_bytes=self.member_bytes,
            max_ratio=self.ratio,
            max_pickle_opcodes=self.pickle_opcodes,
            max_memo=_DEFAULT_LIMITS.max_memo,
            max_stack=_DEFAULT_LIMITS.max_stack,
            max_string=_DEFAULT_LIMITS.max_string,
            max_streams=_DEFAULT_LIMITS.max_streams,
            time_budget=self.time,
        )


def global_matches(pattern: str, module: str, name: str) -> bool:
    """``a.b.C`` matches exactly; ``a.*`` matches anything in ``a`` or below."""
    full = f"{module}.{name}"
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        return module == prefix or module.startswith(prefix + ".")
    return full == pattern


def global_covers(bound: str, pattern: str) -> bool:
    """Whether every global ``pattern`` allows is also allowed by ``bound``."""
    if bound == pattern:
        return True
    if bound.endswith(".*"):
        return pattern.startswith(bound[:-1])
    return False


def _covered_globals(lower: object, upper: object) -> bool:
    if not isinstance(lower, tuple) or not isinstance(upper, tuple):
        return False
    return all(any(global_covers(b, g) for b in upper) for g in lower)


@dataclass(frozen=True)
class ScanPolicy:
    """``[scan]``: what the pickle allowlist may be widened with, and limits."""

    allow_globals: tuple[str, ...] = setting(
        (),
        items(v.global_pattern),
        Tighten(_covered_globals, "may only list globals allowed above it"),
        doc="pickle globals allowed besides the built-in allowlist",
    )
    unknown_globals: UnknownGlobals = ranked(
        "block", "block", "warn", doc="what a pickle global outside the allowlist does"
    )
    limits: ScanLimits = table(ScanLimits, doc="bounds on every scan")


# -- packages and exceptions ----------------------------------------------------------------
@dataclass(frozen=True)
class PackageRule:
    """One ``[[package]]`` block: rules for a name, optionally for some versions."""

    name: str = entry_field(plain(v.package_name), doc="the package (PEP 503 normalised)")
    versions: SpecifierSet = entry_field(
        plain(v.specifier),
        factory=_all_versions,
        show=lambda value: v.literal(str(value)),
        doc="versions the block applies to (default: all)",
    )
    hashes: tuple[str, ...] = entry_field(
        items(v.sha256_hex), (), doc="sha256 pins; an artifact must match one"
    )
    publishers: tuple[Pin, ...] = entry_field(
        _parse_pins,
        (),
        toml="publisher",
        show=_show_pins,
        doc="signers; the package must be signed by one of them or it is blocked",
    )
    allow_globals: tuple[str, ...] = entry_field(
        items(v.global_pattern), (), doc="pickle globals allowed for this package only"
    )
    index: str | None = entry_field(
        plain(v.string),
        None,
        doc="the one index URL or find-links location the project may come from "
        "(dependency confusion: other sources are not considered for it)",
    )
    source: SourceRef = field(default=BUILTIN, compare=False)

    def applies_to(self, name: str, version: str | None) -> bool:
        if _canonical_name(name) != self.name:
            return False
        if not str(self.versions):
            return True
        if version is None:
            return False
        from packaging.version import InvalidVersion, Version

        try:
            return self.versions.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


def _check_packages(
    rules: Sequence[PackageRule], bounds: Bounds, conflicts: list[Conflict]
) -> list[PackageRule]:
    """A package's ``allow_globals`` must stay within the bounding ``scan.allow_globals``.

    Hashes and publishers need no check: blocks combine by intersection, so adding one
    only narrows what is accepted.
    """
    bound = bounds.setting("scan.allow_globals")
    if bound is None:
        return list(rules)
    above: Sequence[PackageRule] = bounds.collected("packages")
    out: list[PackageRule] = []
    for rule in rules:
        allowed = tuple(bound.value) + tuple(
            g for p in above if p.name == rule.name for g in p.allow_globals
        )
        loose = [g for g in rule.allow_globals if not any(global_covers(b, g) for b in allowed)]
        conflicts.extend(
            Conflict(
                "scan.allow_globals",
                rule.source,
                bound.source,
                f'allow_globals "{pattern}" for {rule.name} is not allowed by '
                f"{whose(bound.source)} scan.allow_globals",
            )
            for pattern in loose
        )
        out.append(
            dataclasses.replace(
                rule, allow_globals=tuple(g for g in rule.allow_globals if g not in loose)
            )
        )
    return out


@dataclass(frozen=True)
class PolicyException:
    """One ``[[exception]]``: a reviewed, expiring permission to ignore a finding.

    ``expires`` is the last day the exception applies.  ``sha256`` binds it to exactly one
    file, so a new upload under the same version is not covered.
    """

    package: str = entry_field(plain(v.package_name), doc="the package it applies to")
    rule: str = entry_field(plain(v.rule_id), doc='the rule id it excepts ("*": any)')
    reason: str = entry_field(plain(v.string), doc="why it was accepted (for the audit log)")
    expires: dt.date = entry_field(plain(v.toml_date), doc="the last day it applies")
    version: str | None = entry_field(plain(v.exact_version), None, doc="one version only")
    sha256: str | None = entry_field(plain(v.sha256_hex), None, doc="one file only")
    advisory: str | None = entry_field(
        plain(v.string), None, doc="one advisory id only (INTEL-VULNERABLE, INTEL-MALICIOUS)"
    )
    source: SourceRef = field(default=BUILTIN, compare=False)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(
        self,
        rule_id: str,
        package: str | None,
        version: str | None,
        sha256: str | None,
        advisories: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether this exception is about this finding on this file (expiry aside)."""
        if self.rule not in ("*", rule_id):
            return False
        if self.advisory is not None and self.advisory not in advisories:
            return False
        if package is None:
            # A local file scanned without a package: only a hash identifies it.
            if self.sha256 is None:
                return False
        elif _canonical_name(package) != self.package:
            return False
        if self.version is not None and (
            version is None or not _same_version(version, self.version)
        ):
            return False
        return self.sha256 is None or (sha256 is not None and sha256.lower() == self.sha256)


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _check_exceptions(
    excs: Sequence[PolicyException], bounds: Bounds, conflicts: list[Conflict]
) -> list[PolicyException]:
    """Exceptions loosen, so only the org and the user may write them.

    The user's are limited to the org's ``lower_exceptions`` and never cover a name a
    bounding layer denies; a project file, ``--policy`` or a flag may add none at all.
    """
    if bounds.below_user:
        conflicts.extend(
            Conflict(
                "exception",
                exc.source,
                None,
                f"[[exception]] for {exc.package} ({exc.rule}) would loosen the policy, and a "
                f"{bounds.layer} policy may only tighten; reviewed exceptions belong in the "
                "user or org policy",
            )
            for exc in excs
        )
        return []
    limit = bounds.setting("lower_exceptions")
    permitted = tuple(limit.value) if limit is not None else ("*",)
    denied: Sequence[NamePattern] = bounds.collected("names.deny")
    out: list[PolicyException] = []
    for exc in excs:
        hit = next((d for d in denied if fnmatch.fnmatchcase(exc.package, d.pattern)), None)
        if hit is not None:
            conflicts.append(
                Conflict(
                    "names.deny",
                    exc.source,
                    hit.source,
                    f"exception for {exc.package} would allow a name {_the(hit.source)} "
                    f'denies ("{hit.pattern}")',
                )
            )
        elif "*" not in permitted and exc.rule not in permitted and limit is not None:
            conflicts.append(
                Conflict(
                    "lower_exceptions",
                    exc.source,
                    limit.source,
                    f"exception for rule {exc.rule} is not permitted by "
                    f"{whose(limit.source)} lower_exceptions = {v.literal(permitted)}",
                )
            )
        else:
            out.append(exc)
    return out


def _exception_rules(lower: object, upper: object) -> bool:
    if not isinstance(lower, tuple) or not isinstance(upper, tuple):
        return False
    return set(lower) <= set(upper) or "*" in upper


# -- threat intelligence --------------------------------------------------------------------
def _intel_source(value: object) -> str:
    """An http(s) URL of an OSV export, or a local file or folder (``file://`` or a path)."""
    text = v.string(value)
    return text


@dataclass(frozen=True)
class IntelPolicy:
    """``[intel]``: known-malicious and known-vulnerable packages, from OSV data kept offline.

    A malicious report (INTEL-MALICIOUS) always blocks; ``vulnerabilities`` says which
    severities of known vulnerability block (``block-high``: high and critical); a missing or
    older-than-``max_age`` database warns or blocks by ``on_stale``. A single advisory is
    accepted with an ``[[exception]]`` for rule INTEL-VULNERABLE naming it in ``advisory``.
    """

    source: str = setting(
        DEFAULT_INTEL_SOURCE,
        plain(_intel_source),
        FIXED,
        doc="OSV export to sync from: an http(s) URL of the PyPI zip, or a local file/folder",
    )
    vulnerabilities: IntelVulnerabilities = ranked(
        "warn",
        "block-all",
        "block-medium",
        "block-high",
        "block-critical",
        "warn",
        "off",
        doc="which known vulnerabilities block (by the advisory's severity)",
    )
    max_age: dt.timedelta = setting(
        dt.timedelta(days=7),
        plain(v.duration),
        LOWER,
        show=lambda value: v.literal(value),
        doc="how old the synced data may be before on_stale applies",
    )
    on_stale: IntelStale = ranked(
        "warn", "block", "warn", doc="what a missing or stale database does"
    )


# -- network, audit and enforcement ---------------------------------------------------------
@dataclass(frozen=True)
class NetworkPolicy:
    """``[network]``: bounds on every read of the install gate (timeouts in seconds)."""

    connect_timeout: float = setting(
        15.0, plain(v.seconds), LOWER, doc="seconds to establish a connection"
    )
    read_timeout: float = setting(
        60.0, plain(v.seconds), LOWER, doc="seconds of silence allowed between two reads"
    )
    deadline: float = setting(900.0, plain(v.seconds), LOWER, doc="seconds one request may take")
    max_download: int = setting(4 << 30, plain(v.size), LOWER, doc="bytes one artifact may have")
    max_page: int = setting(
        64 << 20, plain(v.size), LOWER, doc="bytes one index page may have, decompressed"
    )


@dataclass(frozen=True)
class AuditPolicy:
    """``[audit]``: where the install gate appends its audit records."""

    log: Path | None = setting(None, path_value, FIXED, doc="audit log file (JSON lines)")


@dataclass(frozen=True)
class EnforcementPolicy:
    """``[enforcement]``: org-wide enforcement.

    ``escape_hatch``: whether a bypass of the gate is permitted at all.
    ``gate_download``: whether ``pip download``/``pip wheel`` are gated too.
    ``mode``: ``"enforce"`` blocks; ``"pilot"`` (a warn-only roll-out) allows every artifact
    but keeps what would have blocked it in the verdict, the report and the audit log.
    """

    escape_hatch: bool = setting(
        False, plain(v.boolean), OFF_ONLY, doc="whether a bypass of the gate is permitted"
    )
    gate_download: bool = setting(
        False, plain(v.boolean), ON_ONLY, doc="gate pip download and pip wheel too"
    )
    mode: EnforcementMode = ranked(
        "enforce",
        "enforce",
        "pilot",
        doc='"pilot": block nothing, report and log what would be blocked (size the impact)',
    )


# -- where layers came from -----------------------------------------------------------------
@dataclass(frozen=True)
class LayerInfo:
    """A policy file that was found, and whether it took part in the merge."""

    layer: LayerName
    path: Path
    used: bool = True
    why_unused: str = ""
    remote: RemoteOrigin | None = None
    """Set when ``path`` is a verified copy of an org policy fetched from a URL."""


# -- the whole policy -----------------------------------------------------------------------
@dataclass(frozen=True)
class PackagePolicy:
    """The package-specific rules for one release, combined across blocks.

    ``hashes``/``publishers`` are ``None`` when no block pins them; otherwise the
    *intersection* of all applicable blocks (so adding a block can only narrow what is
    accepted, whichever layer it is in).  An empty set means nothing is acceptable: fail
    closed.
    """

    name: str
    version: str | None
    hashes: frozenset[str] | None
    publishers: tuple[Pin, ...] | None
    allow_globals: tuple[str, ...]
    rules: tuple[PackageRule, ...]


@dataclass(frozen=True)
class Policy:
    """The effective policy after layering (see ``safe_pip.policy.layering``)."""

    version: int = SCHEMA_VERSION
    locked: bool = setting(
        False,
        plain(v.boolean),
        FIXED,
        org_only=True,
        doc="org only: ignore every lower layer",
    )
    lower_exceptions: tuple[str, ...] = setting(
        ("*",),
        items(v.rule_id),
        Tighten(_exception_rules, "may only be narrowed"),
        org_only=True,
        doc="org only: rule ids the user policy may write [[exception]]s for",
    )
    names: NamesPolicy = table(NamesPolicy, doc="package names")
    index: IndexPolicy = table(IndexPolicy, doc="where artifacts may come from")
    install: InstallPolicy = table(InstallPolicy, doc="what may be installed")
    hashes: HashesPolicy = table(HashesPolicy, doc="hash pins")
    signatures: SignaturesPolicy = table(SignaturesPolicy, doc="signatures")
    scan: ScanPolicy = table(ScanPolicy, doc="the scanner")
    audit: AuditPolicy = table(AuditPolicy, doc="the audit log")
    network: NetworkPolicy = table(NetworkPolicy, doc="bounds on the gate's downloads")
    intel: IntelPolicy = table(IntelPolicy, doc="known-malicious and vulnerability data")
    enforcement: EnforcementPolicy = table(EnforcementPolicy, doc="org-wide enforcement")
    packages: tuple[PackageRule, ...] = entries(
        PackageRule, toml="package", check=_check_packages, doc="per-package rules"
    )
    exceptions: tuple[PolicyException, ...] = entries(
        PolicyException, toml="exception", check=_check_exceptions, doc="reviewed exceptions"
    )
    sources: tuple[LayerInfo, ...] = field(default=(), compare=False)
    origins: tuple[tuple[str, SourceRef], ...] = field(default=(), compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def origin(self, key: str) -> SourceRef:
        """Which layer set ``key`` (e.g. ``"install.min_age"``); built-in if none."""
        return dict(self.origins).get(key, BUILTIN)

    def for_package(self, name: str, version: str | None) -> PackagePolicy:
        rules = tuple(rule for rule in self.packages if rule.applies_to(name, version))
        hashes: frozenset[str] | None = None
        publishers: tuple[Pin, ...] | None = None
        for rule in rules:
            if rule.hashes:
                pinned = frozenset(rule.hashes)
                hashes = pinned if hashes is None else hashes & pinned
            if rule.publishers:
                publishers = (
                    rule.publishers
                    if publishers is None
                    else tuple(p for p in publishers if p in rule.publishers)
                )
        allow = tuple(g for rule in rules for g in rule.allow_globals)
        return PackagePolicy(_canonical_name(name), version, hashes, publishers, allow, rules)

    def global_allowed(
        self, module: str, name: str, package: str | None = None, version: str | None = None
    ) -> str | None:
        """The ``allow_globals`` pattern that allows ``module.name``, if any."""
        patterns = self.scan.allow_globals
        if package is not None:
            patterns = patterns + self.for_package(package, version).allow_globals
        return next((p for p in patterns if global_matches(p, module, name)), None)

    def digest(self) -> str:
        """A stable sha256 of what this policy decides (the scan-result cache is keyed by it).

        Every compared field counts; sources, origins and notes are left out, so the same
        rules loaded from different files give the same digest.  Exceptions expire by
        date, so a cache must also not reuse a verdict that relied on an exception past
        that exception's ``expires``.
        """
        data = json.dumps(_canonical(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


def _canonical(value: object) -> JSONValue:
    """Policy data as plain JSON values, in a deterministic shape."""
    from packaging.specifiers import SpecifierSet

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JSONValue] = {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare
        }
        out["__type__"] = type(value).__name__  # an Identity and a Publisher never collide
        return out
    if isinstance(value, (tuple, list, frozenset)):
        items_ = [_canonical(item) for item in value]
        return sorted(items_, key=json.dumps) if isinstance(value, frozenset) else items_
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (Path, SpecifierSet)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot canonicalise {type(value).__name__}")  # pragma: no cover
