"""Merging layers (default → org → user → project → cli) into one :class:`Policy`.

The rules, in one place:

- A scalar or list key takes the value of the lowest layer that sets it
  (project beats user, ``--policy`` beats project) — *except* that a key the
  **org** layer set may only be made stricter.  A looser value is a
  :class:`Conflict` naming the org rule, and the org's value stays.
- ``names.deny``, ``[[package]]`` and ``[[exception]]`` accumulate.  A lower
  layer may not ``names.allow`` a name the org denies, may not add an
  exception for a name the org denies, and may only add exceptions for rules
  listed in the org's ``lower_exceptions``.  Package pins and publishers
  combine by intersection (see ``PackagePolicy``), so adding them only tightens.
- ``locked = true`` in the org layer ignores every lower layer, with a note.
- ``locked`` and ``lower_exceptions`` mean something only in the org layer.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar, cast

from safe_pip.policy.layer import Layer, Setting, SettingValue
from safe_pip.policy.model import (
    AuditPolicy,
    EnforcementPolicy,
    HashesPolicy,
    HashRequire,
    IndexPolicy,
    InstallPolicy,
    LayerInfo,
    NamePattern,
    NamesPolicy,
    NetworkPolicy,
    PackageRule,
    Policy,
    PolicyException,
    ScanLimits,
    ScanPolicy,
    SignatureRequire,
    SignaturesPolicy,
    SourceRef,
    Typosquat,
    UnknownGlobals,
    Yanked,
    global_covers,
)
from safe_pip.policy.schema import BY_KEY
from safe_pip.policy.values import literal

ORG_ONLY = ("locked", "lower_exceptions")
T = TypeVar("T")


@dataclass(frozen=True)
class Conflict:
    """A lower layer tried to loosen an org rule; the org's rule still applies."""

    key: str
    lower: SourceRef
    org: SourceRef
    message: str

    def __str__(self) -> str:
        return (
            f"{self.lower.where}: {self.message} "
            f"(org rule at {self.org.where}; the org's rule applies)"
        )


@dataclass(frozen=True)
class MergeResult:
    policy: Policy
    conflicts: tuple[Conflict, ...]


def locked_note(org_path: Path, where: SourceRef, ignored: Sequence[str]) -> str:
    """The message shown whenever a locked org policy makes files irrelevant."""
    return (
        f"the org policy {org_path} is locked (locked = true at {where.where}); "
        f"ignoring {', '.join(ignored)}"
    )


def _overlaps(a: str, b: str) -> bool:
    return fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)


def merge(layers: Sequence[Layer], sources: Sequence[LayerInfo] = ()) -> MergeResult:
    """Merge parsed layers, given in order from org down to cli."""
    org = next((layer for layer in layers if layer.layer == "org"), None)
    notes: list[str] = []
    active = list(layers)
    locked = org.get("locked") if org else None
    if org is not None and locked is not None and locked.value is True:
        active = [org]
        dropped = [layer for layer in layers if layer is not org]
        if dropped:
            notes.append(
                locked_note(
                    org.path, locked.source, [f"{d.layer} policy {d.path}" for d in dropped]
                )
            )
    effective: dict[str, Setting] = {}
    conflicts: list[Conflict] = []
    deny: list[NamePattern] = []
    packages: list[PackageRule] = []
    exceptions: list[PolicyException] = []
    for layer in active:
        lower = org is not None and layer is not org
        for setting in layer.settings:
            if setting.key in ORG_ONLY and layer.layer != "org":
                notes.append(
                    f"{setting.source.where}: {setting.key} only has an effect in the "
                    "org policy; ignored"
                )
                continue
            bound = org.get(setting.key) if org is not None and lower else None
            if bound is not None and not BY_KEY[setting.key].permits(setting.value, bound.value):
                spec = BY_KEY[setting.key]
                conflicts.append(
                    Conflict(
                        setting.key,
                        setting.source,
                        bound.source,
                        f"{setting.key} = {literal(setting.value)} would loosen the org's "
                        f"{setting.key} = {literal(bound.value)}; it {spec.tighten}",
                    )
                )
                continue
            effective[setting.key] = setting
        deny.extend(layer.deny)
        if lower and org is not None:
            packages.extend(_checked_packages(layer, org, conflicts))
            exceptions.extend(_checked_exceptions(layer, org, conflicts))
            _check_allow(effective, layer, org, conflicts)
        else:
            packages.extend(layer.packages)
            exceptions.extend(layer.exceptions)
    policy = _build(effective, deny, packages, exceptions)
    return MergeResult(
        replace(
            policy,
            sources=tuple(sources),
            notes=tuple(notes),
            origins=tuple((key, s.source) for key, s in effective.items()),
        ),
        tuple(conflicts),
    )


def _check_allow(
    effective: dict[str, Setting], layer: Layer, org: Layer, conflicts: list[Conflict]
) -> None:
    """A lower ``names.allow`` entry that overlaps an org deny is refused."""
    setting = layer.get("names.allow")
    if setting is None or effective.get("names.allow") is not setting:
        return
    allowed = setting.value if isinstance(setting.value, tuple) else ()
    kept: list[str] = []
    for pattern in allowed:
        hit = next((d for d in org.deny if _overlaps(pattern, d.pattern)), None)
        if hit is None:
            kept.append(pattern)
            continue
        conflicts.append(
            Conflict(
                "names.deny",
                setting.source,
                hit.source,
                f'names.allow "{pattern}" would allow a name the org denies ("{hit.pattern}")',
            )
        )
    effective["names.allow"] = replace(setting, value=tuple(kept))


def _checked_packages(layer: Layer, org: Layer, conflicts: list[Conflict]) -> list[PackageRule]:
    """Package ``allow_globals`` must stay within an org-set ``scan.allow_globals``."""
    bound = org.get("scan.allow_globals")
    if bound is None:
        return list(layer.packages)
    out: list[PackageRule] = []
    for rule in layer.packages:
        org_globals = tuple(bound.value) if isinstance(bound.value, tuple) else ()
        org_globals += tuple(
            g for p in org.packages if p.name == rule.name for g in p.allow_globals
        )
        loose = [g for g in rule.allow_globals if not any(global_covers(b, g) for b in org_globals)]
        for pattern in loose:
            conflicts.append(
                Conflict(
                    "scan.allow_globals",
                    rule.source,
                    bound.source,
                    f'allow_globals "{pattern}" for {rule.name} is not allowed '
                    "by the org's scan.allow_globals",
                )
            )
        out.append(
            replace(rule, allow_globals=tuple(g for g in rule.allow_globals if g not in loose))
        )
    return out


def _checked_exceptions(
    layer: Layer, org: Layer, conflicts: list[Conflict]
) -> list[PolicyException]:
    """Lower-layer exceptions: only for rules the org permits, never for denied names."""
    permitted_setting = org.get("lower_exceptions")
    permitted = (
        permitted_setting.value
        if permitted_setting is not None and isinstance(permitted_setting.value, tuple)
        else ("*",)
    )
    out: list[PolicyException] = []
    for exc in layer.exceptions:
        denied = next((d for d in org.deny if fnmatch.fnmatchcase(exc.package, d.pattern)), None)
        if denied is not None:
            conflicts.append(
                Conflict(
                    "names.deny",
                    exc.source,
                    denied.source,
                    f"exception for {exc.package} would allow a name the org "
                    f'denies ("{denied.pattern}")',
                )
            )
        elif "*" not in permitted and exc.rule not in permitted:
            assert permitted_setting is not None
            conflicts.append(
                Conflict(
                    "lower_exceptions",
                    exc.source,
                    permitted_setting.source,
                    f"exception for rule {exc.rule} is not permitted by the "
                    f"org's lower_exceptions = {literal(permitted)}",
                )
            )
        else:
            out.append(exc)
    return out


def _get(effective: dict[str, Setting], key: str, kind: type[T]) -> T:
    setting = effective.get(key)
    value: SettingValue = setting.value if setting is not None else BY_KEY[key].default
    if not isinstance(value, kind):  # pragma: no cover - the schema guarantees the type
        raise TypeError(f"{key}: {value!r} is not {kind.__name__}")
    return value


def _number(effective: dict[str, Setting], key: str) -> float:
    setting = effective.get(key)
    value: SettingValue = setting.value if setting is not None else BY_KEY[key].default
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # pragma: no cover
        raise TypeError(f"{key}: {value!r} is not a number")
    return float(value)


def _opt_path(effective: dict[str, Setting], key: str) -> Path | None:
    setting = effective.get(key)
    return setting.value if setting is not None and isinstance(setting.value, Path) else None


def _build(
    eff: dict[str, Setting],
    deny: list[NamePattern],
    packages: list[PackageRule],
    exceptions: list[PolicyException],
) -> Policy:
    allow_setting = eff.get("names.allow")
    allow = (
        tuple(NamePattern(p, allow_setting.source) for p in _get(eff, "names.allow", tuple))
        if allow_setting
        else ()
    )
    return Policy(
        names=NamesPolicy(tuple(deny), allow, cast(Typosquat, _get(eff, "names.typosquat", str))),
        index=IndexPolicy(_get(eff, "index.allowed", tuple)),
        install=InstallPolicy(
            _get(eff, "install.allow_sdist", bool),
            _get(eff, "install.min_age", dt.timedelta),
            cast(Yanked, _get(eff, "install.yanked", str)),
            _get(eff, "install.local_builds", bool),
        ),
        hashes=HashesPolicy(cast(HashRequire, _get(eff, "hashes.require", str))),
        signatures=SignaturesPolicy(
            cast(SignatureRequire, _get(eff, "signatures.require", str)),
            _opt_path(eff, "signatures.trusted_root"),
        ),
        scan=ScanPolicy(
            _get(eff, "scan.allow_globals", tuple),
            cast(UnknownGlobals, _get(eff, "scan.unknown_globals", str)),
            ScanLimits(
                depth=_get(eff, "scan.limits.depth", int),
                members=_get(eff, "scan.limits.members", int),
                bytes=_get(eff, "scan.limits.bytes", int),
                member_bytes=_get(eff, "scan.limits.member_bytes", int),
                ratio=_number(eff, "scan.limits.ratio"),
                pickle_opcodes=_get(eff, "scan.limits.pickle_opcodes", int),
                time=_number(eff, "scan.limits.time"),
            ),
        ),
        packages=tuple(packages),
        exceptions=tuple(exceptions),
        audit=AuditPolicy(_opt_path(eff, "audit.log")),
        network=NetworkPolicy(
            connect_timeout=_number(eff, "network.connect_timeout"),
            read_timeout=_number(eff, "network.read_timeout"),
            deadline=_number(eff, "network.deadline"),
            max_download=_get(eff, "network.max_download", int),
            max_page=_get(eff, "network.max_page", int),
        ),
        enforcement=EnforcementPolicy(
            _get(eff, "enforcement.escape_hatch", bool),
            _get(eff, "enforcement.gate_download", bool),
        ),
        locked=_get(eff, "locked", bool),
        lower_exceptions=_get(eff, "lower_exceptions", tuple),
    )
