"""Rendering the effective policy with the origin of every value.

The output is valid TOML (origins are comments), so ``policy show > file`` gives a flat,
single-layer equivalent of the merged policy that ``policy check`` accepts.  What is shown
and in which order comes from the key declarations (:mod:`safe_pip.policy.keys`): a new key
appears here without any change to this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safe_pip.policy.keys import Conflict, Member, SourceRef, default_of, members
from safe_pip.policy.model import NamePattern, Policy
from safe_pip.policy.remote_model import RemoteOrigin
from safe_pip.policy.values import literal

_COLUMN = 44


def _line(text: str, origin: SourceRef | str) -> str:
    return f"{text:<{_COLUMN}} # {origin}"


def _show(m: Member, value: Any) -> str:
    return (m.meta.show or literal)(value)


def render(policy: Policy, conflicts: Sequence[Conflict] = ()) -> str:
    out = [
        "# Effective safe-pip policy: every value with the layer it came from.",
        f"# digest: sha256:{policy.digest()}",
        "# layers (lowest wins, but a lower layer may only tighten what bounds it):",
    ]
    if not policy.sources:
        out.append("#   (no policy files found: built-in default)")
    for info in policy.sources:
        state = "" if info.used else f"  (ignored: {info.why_unused})"
        out.append(f"#   {info.layer:<8} {info.path}{state}")
        if info.remote is not None:
            out += _remote(info.remote)
    out.extend(f"# note: {note}" for note in policy.notes)
    out.extend(f"# CONFLICT: {conflict}" for conflict in conflicts)
    out += ["", _line("version = 1", "schema version")]
    out += _table(policy, policy, type(policy), "")
    return "\n".join(out) + "\n"


def _table(policy: Policy, obj: Any, cls: type, prefix: str) -> list[str]:
    """One table's keys, then its sub-tables, then its arrays of tables (TOML's order)."""
    declared = members(cls, prefix)
    out: list[str] = []
    for m in declared:
        value = getattr(obj, m.attr)
        if m.meta.kind == "setting":
            name = m.name
            if value is None:
                out.append(_line(f"# {name} is not set", policy.origin(m.key)))
            else:
                out.append(_line(f"{name} = {_show(m, value)}", policy.origin(m.key)))
        elif m.meta.kind == "collect":
            out += _collected(m, value)
    for m in declared:
        if m.meta.kind == "table" and m.meta.cls is not None:
            out += ["", f"[{m.key}]"]
            out += _table(policy, getattr(obj, m.attr), m.meta.cls, m.key + ".")
    for m in declared:
        if m.meta.kind == "entries" and m.meta.cls is not None:
            for entry in getattr(obj, m.attr):
                out += ["", *_entry(m.name, entry, m.meta.cls)]
    return out


def _collected(m: Member, value: Sequence[Any]) -> list[str]:
    if not value:
        return [_line(f"{m.name} = []", "no layer sets any")]
    lines = [f"{m.name} = ["]
    for item in value:
        text = item.pattern if isinstance(item, NamePattern) else item
        lines.append(_line(f"  {literal(text)},", getattr(item, "source", "")))
    return [*lines, "]"]


def _entry(name: str, entry: Any, cls: type) -> list[str]:
    lines = [_line(f"[[{name}]]", entry.source)]
    for m in members(cls):
        value = getattr(entry, m.attr)
        if not m.required and value == default_of(m):
            continue
        lines.append(f"{m.name} = {_show(m, value)}")
    return lines


def _remote(remote: RemoteOrigin) -> list[str]:
    """Where a fetched org layer came from and who signed it: the org layer's real source."""
    pad = "#" + " " * 12
    when = remote.verified_at.isoformat(timespec="seconds")
    how = (
        f"OFFLINE: the URL was unreachable; cached copy issued at {when}"
        if remote.cached
        else f"fetched and verified at {when}"
    )
    issued = remote.publication.issued.isoformat(timespec="seconds")
    return [
        f"{pad}source: {remote.url}",
        f"{pad}signed by: {remote.signer}",
        f"{pad}serial {remote.publication.serial}, issued at {issued}",
        f"{pad}named in: {remote.pointer} [remote]; {how}",
    ]
