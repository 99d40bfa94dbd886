"""Merging layers (default → org → user → project → cli) into one :class:`Policy`.

The rules, in one place:

- A setting takes the value of the lowest layer that sets it — but a layer may only
  change a value that *bounds* it in the direction its declaration's ``Tighten`` permits
  (see :mod:`safe_pip.policy.keys`).  A looser value is a :class:`Conflict` naming the
  bounding rule, and the bounding value stays.
- What bounds a layer:

  ==========================  ===============================================================
  org                         nothing: the organisation decides
  user                        what the org set (the user may loosen built-in defaults: their
                              own machine, their own choice)
  project, ``--policy``,      everything above them, built-in defaults included: a checkout
  flags                       or a command line may make the policy stricter, never looser,
                              with or without an org policy
  ==========================  ===============================================================

- ``names.deny``, ``[[package]]`` and ``[[exception]]`` accumulate; each key's ``check``
  drops what a layer may not add (a typosquat exemption for a denied name, a package
  global outside the allowed ones, an exception below the user or outside the org's
  ``lower_exceptions``).  Package pins and publishers combine by intersection (see
  ``PackagePolicy``), so adding them only tightens.
- ``locked = true`` in the org layer ignores every lower layer, with a note.
- ``locked`` and ``lower_exceptions`` mean something only in the org layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.policy.keys import (
    BUILTIN,
    Bound,
    Conflict,
    LayerName,
    Member,
    SourceRef,
    build,
    default_of,
    walk,
    whose,
)
from safe_pip.policy.model import LayerInfo, Policy
from safe_pip.policy.values import literal

if TYPE_CHECKING:  # parsed layers are handed in; merging needs no TOML reader of its own
    from safe_pip.policy.parse import Layer, Setting

__all__ = ["Conflict", "MergeResult", "locked_note", "merge"]

KEYS: dict[str, Member] = {m.key: m for m in walk(Policy)}
"""Every declared key of the policy by its dotted name."""
BELOW_USER: frozenset[LayerName] = frozenset({"project", "cli"})


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


@dataclass(frozen=True)
class _Bounds:
    """What one layer may not loosen (the ``Bounds`` protocol of ``policy.keys``)."""

    layer: LayerName
    below_user: bool
    settings: Mapping[str, Setting]
    items: Mapping[str, Sequence[Any]]

    def setting(self, key: str) -> Bound | None:
        found = self.settings.get(key)
        if found is not None:
            return Bound(found.value, found.source)
        if self.below_user:
            return Bound(default_of(KEYS[key]), BUILTIN)
        return None

    def collected(self, key: str) -> Sequence[Any]:
        return self.items.get(key, ())


def _bounds(
    layer: Layer,
    org: Layer | None,
    effective: Mapping[str, Setting],
    collected: Mapping[str, Sequence[Any]],
) -> _Bounds | None:
    """What bounds ``layer`` (see the table in the module docstring); ``None``: nothing."""
    if layer is org:
        return None
    if layer.layer in BELOW_USER:
        items = {key: tuple(found) for key, found in collected.items()}
        return _Bounds(layer.layer, True, dict(effective), items)
    if org is None:
        return _Bounds(layer.layer, False, {}, {})
    return _Bounds(layer.layer, False, {s.key: s for s in org.settings}, dict(org.collected))


def _loosens(setting: Setting, bound: Bound, m: Member) -> Conflict:
    show = m.meta.show or literal
    assert m.meta.tighten is not None
    return Conflict(
        setting.key,
        setting.source,
        bound.source,
        f"{setting.key} = {show(setting.value)} would loosen {whose(bound.source)} "
        f"{setting.key} = {show(bound.value)}; it {m.meta.tighten.rule}",
    )


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
    collected: dict[str, list[Any]] = {}
    conflicts: list[Conflict] = []
    for layer in active:
        bounds = _bounds(layer, org, effective, collected)
        for setting in layer.settings:
            m = KEYS[setting.key]
            if m.meta.org_only and layer.layer != "org":
                notes.append(
                    f"{setting.source.where}: {setting.key} only has an effect in the "
                    "org policy; ignored"
                )
                continue
            if bounds is not None:
                bound = bounds.setting(setting.key)
                assert m.meta.tighten is not None
                if bound is not None and not m.meta.tighten.permits(setting.value, bound.value):
                    conflicts.append(_loosens(setting, bound, m))
                    continue
                if m.meta.check is not None:
                    kept = m.meta.check(setting.value, bounds, conflicts)
                    setting = replace(setting, value=tuple(kept))
            effective[setting.key] = setting
        for key, found in layer.collected:
            check = KEYS[key].meta.check
            kept = (
                list(found) if bounds is None or check is None else check(found, bounds, conflicts)
            )
            collected.setdefault(key, []).extend(kept)
    policy = build(Policy, {k: s.value for k, s in effective.items()}, collected)
    return MergeResult(
        replace(
            policy,
            sources=tuple(sources),
            notes=tuple(notes),
            origins=tuple((key, s.source) for key, s in effective.items()),
        ),
        tuple(conflicts),
    )
