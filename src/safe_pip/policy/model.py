"""The policy as typed, frozen data: what every other stage reads.

Verifiers, the scanner and the install gate receive a :class:`Policy` and ask
it questions (``policy.names.denied(name)``, ``policy.for_package(name,
version)``); they never see TOML or dicts.  Every list item that came from a
file carries a :class:`SourceRef`, so a message can say *which* line of
*which* layer blocked an install.  Source references are excluded from
equality and from :meth:`Policy.digest`: moving a rule to another file does not
change what the policy decides.

Helpers:

- ``Policy.for_package(name, version)`` → :class:`PackagePolicy`: the pins,
  publishers and extra allowed globals for one release (blocks whose
  ``versions`` do not contain ``version`` are skipped; ``version=None`` only
  matches blocks without ``versions``).
- ``Policy.names.denied(name)`` → the deny entry that matches, or ``None``.
- ``Policy.names.typosquat_exempt(name)``, ``Policy.index.permits(url)``.
- ``Policy.scan.limits.to_limits()`` → :class:`safe_pip.scan.core.limits.Limits`.
- ``Policy.origin(key)`` → where a setting such as ``"install.min_age"`` came from.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.scan.core.limits import Limits

LayerName = Literal["default", "org", "user", "project", "cli"]
Typosquat = Literal["block", "warn", "off"]
Yanked = Literal["block", "warn", "allow"]
HashRequire = Literal["always", "pinned", "never"]
SignatureRequire = Literal["always", "listed", "available", "off"]
UnknownGlobals = Literal["block", "warn"]

_DEFAULT_LIMITS = Limits()
_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class SourceRef:
    """Where a value came from: the layer, the file and the line."""

    layer: LayerName
    path: Path | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` for messages, or ``built-in default``."""
        if self.path is None:
            return "built-in default"
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return "built-in default" if self.path is None else f"{self.layer} {self.where}"


BUILTIN = SourceRef("default")


def normalise_pattern(pattern: str) -> str:
    """PEP 503-normalise a name or a glob over names (``*``/``?`` kept)."""
    return _SEPARATORS.sub("-", pattern).lower()


@dataclass(frozen=True)
class NamePattern:
    """A normalised package name or glob (``torch-*``) from a policy file."""

    pattern: str
    source: SourceRef = field(default=BUILTIN, compare=False)

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(canonicalize_name(name), self.pattern)


@dataclass(frozen=True)
class NamesPolicy:
    """``[names]``: names that may never be installed and the typosquat check.

    ``allow`` exempts names from the typosquat check only; it cannot undo a
    deny (deny always wins, and a lower layer allowing an org deny is an error).
    """

    deny: tuple[NamePattern, ...] = ()
    allow: tuple[NamePattern, ...] = ()
    typosquat: Typosquat = "block"

    def denied(self, name: str) -> NamePattern | None:
        return next((p for p in self.deny if p.matches(name)), None)

    def typosquat_exempt(self, name: str) -> bool:
        return self.denied(name) is None and any(p.matches(name) for p in self.allow)


def url_within(url: str, prefix: str) -> bool:
    """Whether ``url`` is ``prefix`` or below it (``/simple`` ≠ ``/simple-evil``)."""
    if url == prefix:
        return True
    if not url.startswith(prefix):
        return False
    return prefix.endswith("/") or url[len(prefix)] in "/?#"


@dataclass(frozen=True)
class IndexPolicy:
    """``[index]``: URL prefixes artifacts may come from; empty = pip's configuration."""

    allowed: tuple[str, ...] = ()

    def permits(self, url: str) -> bool:
        return not self.allowed or any(url_within(url, prefix) for prefix in self.allowed)


@dataclass(frozen=True)
class InstallPolicy:
    """``[install]``: what kinds of release may be installed at all."""

    allow_sdist: bool = False
    min_age: dt.timedelta = dt.timedelta(0)
    yanked: Yanked = "block"
    local_builds: bool = True
    """Build the local trees the user names (``.``, ``-e .``) through the gate."""


@dataclass(frozen=True)
class Publisher:
    """An expected signer: a Trusted Publisher or a certificate identity.

    ``github:OWNER/REPO@WORKFLOW.yml[#ENV]``, ``gitlab:NS/PROJECT@PATH.yml`` and
    ``google:EMAIL`` (the grammar of ``safe_pip.verify.publisher``) become
    ``kind="github"``/``"gitlab"``/``"google"``; a table
    ``{ identity = "...", issuer = "..." }`` becomes ``kind="identity"``.
    """

    kind: Literal["github", "gitlab", "google", "identity"]
    repository: str = ""
    workflow: str = ""
    environment: str = ""
    identity: str = ""
    issuer: str = ""
    email: str = ""

    def __str__(self) -> str:
        if self.kind == "identity":
            return f"{self.identity} (issuer {self.issuer})"
        if self.kind == "google":
            return f"google:{self.email}"
        env = f"#{self.environment}" if self.environment else ""
        return f"{self.kind}:{self.repository}@{self.workflow}{env}"


@dataclass(frozen=True)
class HashesPolicy:
    """``[hashes]``: whether artifacts need hash pins (pins live in ``[[package]]``)."""

    require: HashRequire = "never"


@dataclass(frozen=True)
class SignaturesPolicy:
    """``[signatures]``: how strictly signatures are required.

    ``off`` < ``available`` (verify what exists; a bad one blocks, a missing
    one does not) < ``listed`` (packages with a publisher must verify) <
    ``always`` (every artifact must verify).  Per-package publishers live in
    ``[[package]] publisher`` and are read through ``Policy.for_package``.
    """

    require: SignatureRequire = "available"
    trusted_root: Path | None = None


@dataclass(frozen=True)
class ScanLimits:
    """``[scan.limits]``; defaults are the scanner's own :class:`Limits`."""

    depth: int = _DEFAULT_LIMITS.max_depth
    members: int = _DEFAULT_LIMITS.max_members
    bytes: int = _DEFAULT_LIMITS.max_total_bytes
    member_bytes: int = _DEFAULT_LIMITS.max_member_bytes
    ratio: float = _DEFAULT_LIMITS.max_ratio
    pickle_opcodes: int = _DEFAULT_LIMITS.max_pickle_opcodes
    time: float = _DEFAULT_LIMITS.time_budget

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


@dataclass(frozen=True)
class ScanPolicy:
    """``[scan]``: what the pickle allowlist may be widened with, and limits."""

    allow_globals: tuple[str, ...] = ()
    unknown_globals: UnknownGlobals = "block"
    limits: ScanLimits = field(default_factory=ScanLimits)


@dataclass(frozen=True)
class PackageRule:
    """One ``[[package]]`` block: rules for a name, optionally for some versions."""

    name: str
    versions: SpecifierSet = field(default_factory=SpecifierSet)
    hashes: tuple[str, ...] = ()
    publishers: tuple[Publisher, ...] = ()
    allow_globals: tuple[str, ...] = ()
    source: SourceRef = field(default=BUILTIN, compare=False)
    index: str | None = None
    """The one index URL or find-links location the project may come from (dependency
    confusion: other sources are not considered for it)."""

    def applies_to(self, name: str, version: str | None) -> bool:
        if canonicalize_name(name) != self.name:
            return False
        if not str(self.versions):
            return True
        if version is None:
            return False
        try:
            return self.versions.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


@dataclass(frozen=True)
class PolicyException:
    """One ``[[exception]]``: a reviewed, expiring permission to ignore a finding.

    ``expires`` is the last day the exception applies.  ``sha256`` binds it to
    exactly one file, so a new upload under the same version is not covered.
    """

    package: str
    rule: str
    reason: str
    expires: dt.date
    version: str | None = None
    sha256: str | None = None
    source: SourceRef = field(default=BUILTIN, compare=False)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(
        self, rule_id: str, package: str | None, version: str | None, sha256: str | None
    ) -> bool:
        """Whether this exception is about this finding on this file (expiry aside)."""
        if self.rule not in ("*", rule_id):
            return False
        if package is None:
            # A local file scanned without a package: only a hash identifies it.
            if self.sha256 is None:
                return False
        elif canonicalize_name(package) != self.package:
            return False
        if self.version is not None and (
            version is None or not _same_version(version, self.version)
        ):
            return False
        return self.sha256 is None or (sha256 is not None and sha256.lower() == self.sha256)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


@dataclass(frozen=True)
class NetworkPolicy:
    """``[network]``: bounds on every read of the install gate (timeouts in seconds)."""

    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    deadline: float = 900.0
    max_download: int = 4 << 30
    max_page: int = 64 << 20


@dataclass(frozen=True)
class AuditPolicy:
    """``[audit]``: where the install gate appends its audit records."""

    log: Path | None = None


@dataclass(frozen=True)
class EnforcementPolicy:
    """``[enforcement]``: placeholders for org-wide enforcement (issue 7).

    ``escape_hatch``: whether a bypass of the gate is permitted at all.
    ``gate_download``: whether ``pip download``/``pip wheel`` are gated too.
    """

    escape_hatch: bool = False
    gate_download: bool = False


@dataclass(frozen=True)
class RemoteOrigin:
    """How a fetched org policy was obtained: shown by ``policy show``.

    ``cached`` is true when the URL could not be reached and a copy verified
    at ``verified_at`` (within the org's ``max_age``) was used instead.
    """

    url: str
    identity: str
    issuer: str
    pointer: Path
    """The local org file whose ``[remote]`` table names the URL and signer."""
    verified_at: dt.datetime
    cached: bool = False


@dataclass(frozen=True)
class LayerInfo:
    """A policy file that was found, and whether it took part in the merge."""

    layer: LayerName
    path: Path
    used: bool = True
    why_unused: str = ""
    remote: RemoteOrigin | None = None
    """Set when ``path`` is a verified copy of an org policy fetched from a URL."""


@dataclass(frozen=True)
class PackagePolicy:
    """The package-specific rules for one release, combined across blocks.

    ``hashes``/``publishers`` are ``None`` when no block pins them; otherwise
    the *intersection* of all applicable blocks (so adding a block can only
    narrow what is accepted, whichever layer it is in).  An empty set means
    nothing is acceptable: fail closed.
    """

    name: str
    version: str | None
    hashes: frozenset[str] | None
    publishers: tuple[Publisher, ...] | None
    allow_globals: tuple[str, ...]
    rules: tuple[PackageRule, ...]


@dataclass(frozen=True)
class Policy:
    """The effective policy after layering (see ``safe_pip.policy.layering``)."""

    version: int = 1
    names: NamesPolicy = field(default_factory=NamesPolicy)
    index: IndexPolicy = field(default_factory=IndexPolicy)
    install: InstallPolicy = field(default_factory=InstallPolicy)
    hashes: HashesPolicy = field(default_factory=HashesPolicy)
    signatures: SignaturesPolicy = field(default_factory=SignaturesPolicy)
    scan: ScanPolicy = field(default_factory=ScanPolicy)
    packages: tuple[PackageRule, ...] = ()
    exceptions: tuple[PolicyException, ...] = ()
    audit: AuditPolicy = field(default_factory=AuditPolicy)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    enforcement: EnforcementPolicy = field(default_factory=EnforcementPolicy)
    locked: bool = False
    lower_exceptions: tuple[str, ...] = ("*",)
    sources: tuple[LayerInfo, ...] = field(default=(), compare=False)
    origins: tuple[tuple[str, SourceRef], ...] = field(default=(), compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def origin(self, key: str) -> SourceRef:
        """Which layer set ``key`` (e.g. ``"install.min_age"``); built-in if none."""
        return dict(self.origins).get(key, BUILTIN)

    def for_package(self, name: str, version: str | None) -> PackagePolicy:
        rules = tuple(rule for rule in self.packages if rule.applies_to(name, version))
        hashes: frozenset[str] | None = None
        publishers: tuple[Publisher, ...] | None = None
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
        return PackagePolicy(canonicalize_name(name), version, hashes, publishers, allow, rules)

    def global_allowed(
        self, module: str, name: str, package: str | None = None, version: str | None = None
    ) -> str | None:
        """The ``allow_globals`` pattern that allows ``module.name``, if any."""
        patterns = self.scan.allow_globals
        if package is not None:
            patterns = patterns + self.for_package(package, version).allow_globals
        return next((p for p in patterns if global_matches(p, module, name)), None)

    def digest(self) -> str:
        """A stable sha256 of what this policy decides (for the verdict cache).

        Sources, origins and notes are left out: the same rules loaded from
        different files give the same digest.  Exceptions expire by date, so a
        cache must also not reuse a verdict that relied on an exception past
        that exception's ``expires``.
        """
        from safe_pip.policy.digest import policy_digest

        return policy_digest(self)
