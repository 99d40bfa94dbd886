"""Rendering the effective policy with the origin of every value.

The output is valid TOML (origins are comments), so ``policy show > file``
gives a flat, single-layer equivalent of the merged policy that
``policy check`` accepts.
"""

from __future__ import annotations

from collections.abc import Sequence

from safe_pip.policy.layering import Conflict
from safe_pip.policy.model import (
    NamePattern,
    PackageRule,
    Policy,
    PolicyException,
    RemoteOrigin,
    SourceRef,
)
from safe_pip.policy.schema import SPECS
from safe_pip.policy.values import literal

_COLUMN = 44


def _value(policy: Policy, key: str) -> object:
    value: object = policy
    for part in key.split("."):
        value = getattr(value, part)
    if isinstance(value, tuple) and value and isinstance(value[0], NamePattern):
        return tuple(p.pattern for p in value)
    return value


def _line(text: str, origin: SourceRef | str) -> str:
    return f"{text:<{_COLUMN}} # {origin}"


def _section(key: str) -> str:
    return key.rpartition(".")[0]


def render(policy: Policy, conflicts: Sequence[Conflict] = ()) -> str:
    out = [
        "# Effective safe-pip policy: every value with the layer it came from.",
        f"# digest: sha256:{policy.digest()}",
        "# layers (lowest wins, except that org rules can only be tightened):",
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
    current = ""
    for spec in SPECS:
        section = _section(spec.key)
        if section != current:
            current = section
            out += ["", f"[{section}]"]
            if section == "names":
                out += _deny(policy.names.deny)
        value = _value(policy, spec.key)
        name = spec.key.rpartition(".")[2]
        if value is None:
            out.append(_line(f"# {name} is not set", policy.origin(spec.key)))
        else:
            out.append(_line(f"{name} = {literal(value)}", policy.origin(spec.key)))
    for rule in policy.packages:
        out += ["", *_package(rule)]
    for exc in policy.exceptions:
        out += ["", *_exception(exc)]
    return "\n".join(out) + "\n"


def _remote(remote: RemoteOrigin) -> list[str]:
    """Where a fetched org layer came from and who signed it: the org layer's real source."""
    pad = "#" + " " * 12
    when = remote.verified_at.isoformat(timespec="seconds")
    how = (
        f"OFFLINE: the URL was unreachable; cached copy verified at {when}"
        if remote.cached
        else f"fetched and verified at {when}"
    )
    return [
        f"{pad}source: {remote.url}",
        f"{pad}signed by: {remote.identity} (issuer {remote.issuer})",
        f"{pad}named in: {remote.pointer} [remote]; {how}",
    ]


def _deny(deny: Sequence[NamePattern]) -> list[str]:
    if not deny:
        return [_line("deny = []", "no layer denies any name")]
    lines = ["deny = ["]
    lines += [_line(f'  "{p.pattern}",', p.source) for p in deny]
    return [*lines, "]"]


def _package(rule: PackageRule) -> list[str]:
    lines = [_line("[[package]]", rule.source), f'name = "{rule.name}"']
    if str(rule.versions):
        lines.append(f'versions = "{rule.versions}"')
    if rule.hashes:
        lines.append(f"hashes = {literal(rule.hashes)}")
    texts: list[str] = []
    for pub in rule.publishers:
        if pub.kind == "identity":
            texts.append(
                f"{{ identity = {literal(pub.identity)}, issuer = {literal(pub.issuer)} }}"
            )
        else:
            texts.append(literal(str(pub)))
    if texts:
        lines.append("publisher = [" + ", ".join(texts) + "]")
    if rule.allow_globals:
        lines.append(f"allow_globals = {literal(rule.allow_globals)}")
    return lines


def _exception(exc: PolicyException) -> list[str]:
    lines = [
        _line("[[exception]]", exc.source),
        f"package = {literal(exc.package)}",
        f"rule = {literal(exc.rule)}",
        f"reason = {literal(exc.reason)}",
        f"expires = {exc.expires.isoformat()}",
    ]
    if exc.version is not None:
        lines.append(f"version = {literal(exc.version)}")
    if exc.sha256 is not None:
        lines.append(f"sha256 = {literal(exc.sha256)}")
    return lines
