"""Schema v1: every scalar and list key, how to validate it, its default, and
how a lower layer may change it when the org layer set it.

One table drives validation, defaults, layering and ``policy show``, so a key
cannot be added to one without the others.  ``names.deny``, ``[[package]]``
and ``[[exception]]`` accumulate across layers and are handled in
``parse``/``layering`` directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safe_pip.policy import values as v
from safe_pip.policy.layer import SettingValue
from safe_pip.policy.model import (
    AuditPolicy,
    EnforcementPolicy,
    HashesPolicy,
    InstallPolicy,
    NamesPolicy,
    NetworkPolicy,
    ScanLimits,
    ScanPolicy,
    SignaturesPolicy,
    global_covers,
    url_within,
)

SCHEMA_VERSION = 1


class BadItem(ValueError):
    """A list item is invalid; ``item`` lets the locator find its line."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


Parser = Callable[[object, Path], SettingValue]
Permits = Callable[[SettingValue, SettingValue], bool]
"""``permits(lower, org)``: may a lower layer set ``lower`` where the org set ``org``?"""


@dataclass(frozen=True)
class KeySpec:
    key: str
    parse: Parser
    default: SettingValue
    permits: Permits
    tighten: str
    """How lower layers may change an org value, for conflict messages."""


def _plain(fn: Callable[[object], SettingValue]) -> Parser:
    return lambda value, _base: fn(value)


def _items(fn: Callable[[str], str]) -> Parser:
    def parse(value: object, _base: Path) -> tuple[str, ...]:
        items = v.string_list(value)
        out: list[str] = []
        for item in items:
            try:
                out.append(fn(item))
            except ValueError as exc:
                raise BadItem(item, str(exc)) from None
        return tuple(out)

    return parse


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://", "file:")):
        raise ValueError(f'"{value}" is not an http(s):// or file: URL prefix')
    return value


def _rule_or_star(value: str) -> str:
    return v.rule_id(value)


def _order(*strict_to_loose: str) -> Permits:
    def permits(lower: SettingValue, org: SettingValue) -> bool:
        if not isinstance(lower, str) or not isinstance(org, str):
            return False
        return strict_to_loose.index(lower) <= strict_to_loose.index(org)

    return permits


def _ranked(key: str, default: SettingValue, *strict_to_loose: str) -> KeySpec:
    """A choice key whose values rank from strictest to loosest.

    The one tuple gives the accepted values, the tighten-only check and the message,
    so the three can never disagree.
    """
    return KeySpec(
        key,
        _plain(v.choice(strict_to_loose)),
        default,
        _order(*strict_to_loose),
        f"may only be tightened ({' → '.join(reversed(strict_to_loose))})",
    )


def _false_is_strict(lower: SettingValue, org: SettingValue) -> bool:
    return lower is False or org is True


def _true_is_strict(lower: SettingValue, org: SettingValue) -> bool:
    return lower is True or org is False


def _at_least(lower: SettingValue, org: SettingValue) -> bool:
    return isinstance(lower, dt.timedelta) and isinstance(org, dt.timedelta) and lower >= org


def _at_most(lower: SettingValue, org: SettingValue) -> bool:
    numbers = (int, float)
    if isinstance(lower, bool) or isinstance(org, bool):
        return False
    return isinstance(lower, numbers) and isinstance(org, numbers) and lower <= org


def _equal(lower: SettingValue, org: SettingValue) -> bool:
    return lower == org


def _subset(lower: SettingValue, org: SettingValue) -> bool:
    return isinstance(lower, tuple) and isinstance(org, tuple) and set(lower) <= set(org)


def _within_urls(lower: SettingValue, org: SettingValue) -> bool:
    if not isinstance(lower, tuple) or not isinstance(org, tuple):
        return False
    if not org:
        return True  # the org allowed any index pip is configured with
    return bool(lower) and all(any(url_within(u, p) for p in org) for u in lower)


def _covered_globals(lower: SettingValue, org: SettingValue) -> bool:
    if not isinstance(lower, tuple) or not isinstance(org, tuple):
        return False
    return all(any(global_covers(b, g) for b in org) for g in lower)


def _exception_rules(lower: SettingValue, org: SettingValue) -> bool:
    return _subset(lower, org) or (isinstance(org, tuple) and "*" in org)


_N, _I, _H = NamesPolicy(), InstallPolicy(), HashesPolicy()
_S, _C, _L = SignaturesPolicy(), ScanPolicy(), ScanLimits()
_A, _E, _W = AuditPolicy(), EnforcementPolicy(), NetworkPolicy()

SPECS: tuple[KeySpec, ...] = (
    KeySpec("locked", _plain(v.boolean), False, _equal, "is decided by the org layer"),
    KeySpec(
        "lower_exceptions", _items(_rule_or_star), ("*",), _exception_rules, "may only be narrowed"
    ),
    KeySpec(
        "names.allow", _items(v.name_pattern), (), _subset, "may only list names the org allows"
    ),
    _ranked("names.typosquat", _N.typosquat, "block", "warn", "off"),
    KeySpec(
        "index.allowed",
        _items(_url),
        (),
        _within_urls,
        "may only list URLs inside the org's allowed indexes",
    ),
    KeySpec(
        "install.allow_sdist",
        _plain(v.boolean),
        _I.allow_sdist,
        _false_is_strict,
        "may only be turned off",
    ),
    KeySpec("install.min_age", _plain(v.duration), _I.min_age, _at_least, "may only be raised"),
    _ranked("install.yanked", _I.yanked, "block", "warn", "allow"),
    KeySpec(
        "install.local_builds",
        _plain(v.boolean),
        _I.local_builds,
        _false_is_strict,
        "may only be turned off",
    ),
    _ranked("hashes.require", _H.require, "always", "pinned", "never"),
    _ranked("signatures.require", _S.require, "always", "listed", "available", "off"),
    KeySpec("signatures.trusted_root", v.path, None, _equal, "cannot be changed"),
    KeySpec(
        "scan.allow_globals",
        _items(v.global_pattern),
        _C.allow_globals,
        _covered_globals,
        "may only list globals the org allows",
    ),
    _ranked("scan.unknown_globals", _C.unknown_globals, "block", "warn"),
    KeySpec("scan.limits.depth", _plain(v.positive_int), _L.depth, _at_most, "may only be lowered"),
    KeySpec(
        "scan.limits.members", _plain(v.positive_int), _L.members, _at_most, "may only be lowered"
    ),
    KeySpec("scan.limits.bytes", _plain(v.size), _L.bytes, _at_most, "may only be lowered"),
    KeySpec(
        "scan.limits.member_bytes", _plain(v.size), _L.member_bytes, _at_most, "may only be lowered"
    ),
    KeySpec(
        "scan.limits.ratio", _plain(v.positive_float), _L.ratio, _at_most, "may only be lowered"
    ),
    KeySpec(
        "scan.limits.pickle_opcodes",
        _plain(v.positive_int),
        _L.pickle_opcodes,
        _at_most,
        "may only be lowered",
    ),
    KeySpec("scan.limits.time", _plain(v.seconds), _L.time, _at_most, "may only be lowered"),
    KeySpec("audit.log", v.path, None, _equal, "cannot be changed"),
    KeySpec(
        "network.connect_timeout",
        _plain(v.seconds),
        _W.connect_timeout,
        _at_most,
        "may only be lowered",
    ),
    KeySpec(
        "network.read_timeout", _plain(v.seconds), _W.read_timeout, _at_most, "may only be lowered"
    ),
    KeySpec("network.deadline", _plain(v.seconds), _W.deadline, _at_most, "may only be lowered"),
    KeySpec(
        "network.max_download", _plain(v.size), _W.max_download, _at_most, "may only be lowered"
    ),
    KeySpec("network.max_page", _plain(v.size), _W.max_page, _at_most, "may only be lowered"),
    KeySpec(
        "enforcement.escape_hatch",
        _plain(v.boolean),
        _E.escape_hatch,
        _false_is_strict,
        "may only be turned off",
    ),
    KeySpec(
        "enforcement.gate_download",
        _plain(v.boolean),
        _E.gate_download,
        _true_is_strict,
        "may only be turned on",
    ),
)

BY_KEY: dict[str, KeySpec] = {spec.key: spec for spec in SPECS}

# Keys that are tables of further keys, and the accumulating entries.
TABLES = (
    "names",
    "index",
    "install",
    "hashes",
    "signatures",
    "scan",
    "scan.limits",
    "audit",
    "enforcement",
    "network",
)
ARRAYS_OF_TABLES = ("package", "exception")
SPECIAL = ("version", "names.deny", "remote")
REMOTE_KEYS = ("url", "identity", "issuer", "trusted_root", "max_age", "bundle")
REMOTE_REQUIRED = ("url", "identity", "issuer")
PACKAGE_KEYS = ("name", "versions", "hashes", "publisher", "allow_globals", "index")
EXCEPTION_KEYS = ("package", "version", "sha256", "rule", "reason", "expires")


def known_keys(table: str) -> list[str]:
    """The keys allowed directly inside ``table`` ("" is the top level)."""
    prefix = f"{table}." if table else ""
    names = {
        full[len(prefix) :].split(".")[0]
        for full in (*BY_KEY, *TABLES, *ARRAYS_OF_TABLES, *SPECIAL)
        if full.startswith(prefix) and full != table
    }
    return sorted(names)
