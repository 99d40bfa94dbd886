"""Validators for single policy values: raw TOML in, typed value or ``ValueError`` out.

Each function names what it expected in its message, because the message is
what a person reads next to ``file:line``.  Nothing here guesses: a value that
is almost right (``"7 days"``, a date in quotes) is an error, not a default.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

# Patterns as text: ``re`` compiles (and caches) each on first use, so loading a policy
# without the value that needs one, or no policy file at all, compiles none of them.
_DURATION = r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$"
_SIZE = r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$"
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
_NAME_GLOB = r"^[A-Za-z0-9*?]([A-Za-z0-9._*?-]*[A-Za-z0-9*?])?$"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_GLOBAL = rf"^{_IDENT}(\.{_IDENT})*\.({_IDENT}|\*)$"
_RULE_ID = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
_SHA256 = r"^[0-9a-f]{64}$"
_SEPARATORS = r"[-_.]+"


def normalise_pattern(pattern: str) -> str:
    """PEP 503-normalise a name or a glob over names (``*``/``?`` kept)."""
    return re.sub(_SEPARATORS, "-", pattern).lower()


def type_name(value: object) -> str:
    """A TOML-flavoured name for a value's type, for messages."""
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
        dt.date: "a date",
        dt.datetime: "a date-time",
        dt.time: "a time",
    }
    return names.get(type(value), type(value).__name__)


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type_name(value)}")
    return value


def choice(options: Sequence[str]) -> _Choice:
    return _Choice(tuple(options))


class _Choice:
    def __init__(self, options: tuple[str, ...]) -> None:
        self.options = options

    def __call__(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.options:
            shown = f'"{value}"' if isinstance(value, str) else type_name(value)
            allowed = ", ".join(f'"{o}"' for o in self.options)
            raise ValueError(f"expected one of {allowed}, got {shown}")
        return value


def duration(value: object) -> dt.timedelta:
    """``"7d"``, ``"12h"``, ``"1w2d"``, ``"90m"``, ``"0"``; numbers are refused
    because a bare ``7`` could mean days or seconds."""
    if not isinstance(value, str):
        raise ValueError(
            f'expected a duration string such as "7d" or "12h", got {type_name(value)}'
        )
    text = value.strip()
    if text == "0":
        return dt.timedelta(0)
    match = re.match(_DURATION, text)
    if not text or not match:
        raise ValueError(f'expected a duration such as "7d", "12h" or "1w2d", got "{value}"')
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def seconds(value: object) -> float:
    """A time budget: a duration string or a positive number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("expected a positive number of seconds")
        return float(value)
    span = duration(value).total_seconds()
    if span <= 0:
        raise ValueError("expected a positive time budget")
    return span


def size(value: object) -> int:
    """Bytes: an integer or ``"64GiB"``/``"500MB"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := re.match(_SIZE, value.strip())):
        number = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    else:
        raise ValueError(f'expected a size such as 1048576 or "64GiB", got {type_name(value)}')
    if number <= 0:
        raise ValueError("expected a positive size")
    return number


def positive_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"expected a positive integer, got {type_name(value)}")
    return value


def positive_float(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"expected a positive number, got {type_name(value)}")
    return float(value)


def string(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {type_name(value)}")
    return value


def https_url(value: object) -> str:
    """An ``https://host/...`` URL without embedded credentials.

    Used for ``[remote] url``: trust comes from the sigstore bundle, but https
    still keeps a network attacker from watching or stalling the fetch, and a
    password in the URL would be printed by ``policy show``.
    """
    from urllib.parse import urlsplit

    text = string(value)
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f'"{text}" is not an https:// URL')
    if parts.username is not None or parts.password is not None:
        raise ValueError(f'"{text}" embeds credentials; remove them from the URL')
    return text


def string_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected an array of strings, got {type_name(value)}")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected an array of strings, found {type_name(item)}")
    return tuple(value)


def name_pattern(value: str) -> str:
    if not re.match(_NAME_GLOB, value):
        raise ValueError(f'"{value}" is not a package name or a glob such as "torch-*"')
    return normalise_pattern(value)


def package_name(value: object) -> str:
    text = string(value)
    if "*" in text or "?" in text:
        raise ValueError(f'"{text}" must be a package name, not a glob')
    return name_pattern(text)


def global_pattern(value: str) -> str:
    if not re.match(_GLOBAL, value):
        raise ValueError(
            f'"{value}" is not "module.qualname" or "module.*" '
            '(e.g. "sklearn.linear_model._logistic.LogisticRegression")'
        )
    return value


def rule_id(value: object, *, star: bool = True) -> str:
    text = string(value)
    if star and text == "*":
        return text
    if not re.match(_RULE_ID, text):
        raise ValueError(f'"{text}" is not a rule id such as "PICKLE-GLOBAL-UNKNOWN" or "*"')
    return text


def sha256_hex(value: object) -> str:
    """A sha256 as 64 hex digits; ``sha256:`` prefix and upper case accepted."""
    text = string(value).strip().lower().removeprefix("sha256:")
    if not re.match(_SHA256, text):
        raise ValueError(f'"{value}" is not a sha256 (64 hex digits)')
    return text


def specifier(value: object) -> SpecifierSet:
    # packaging's version machinery is imported by the values that need it, not by every
    # policy load (a scan of a plain file compares no version).
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    text = string(value)
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f'"{text}" is not a PEP 440 version specifier such as ">=2,<3"') from None


def exact_version(value: object) -> str:
    from packaging.version import InvalidVersion, Version

    text = string(value)
    try:
        Version(text)
    except InvalidVersion:
        raise ValueError(f'"{text}" is not a PEP 440 version such as "2.3.1"') from None
    return text


def toml_date(value: object) -> dt.date:
    """A TOML local date (``2025-12-31`` without quotes)."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        hint = " (write it without quotes)" if isinstance(value, str) else ""
        raise ValueError(f"expected a TOML date such as 2025-12-31{hint}, got {type_name(value)}")
    return value


def toml_datetime(value: object) -> dt.datetime:
    """A TOML offset date-time (``2026-11-20T09:00:00Z``): a moment, not a wall-clock time."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        hint = " (write it without quotes)" if isinstance(value, str) else ""
        raise ValueError(
            f"expected a TOML date-time with a time zone such as 2026-11-20T09:00:00Z{hint}, "
            f"got {type_name(value)}"
            + (" without a time zone" if isinstance(value, dt.datetime) else "")
        )
    return value


def non_negative_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a whole number 0 or more, got {type_name(value)}")
    return value


def path(value: object, base: Path) -> Path:
    """A file path; relative paths are relative to the policy file's folder."""
    text = string(value)
    candidate = Path(text).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).absolute()


def format_duration(value: dt.timedelta) -> str:
    """The shortest duration string that parses back to ``value``."""
    total = int(value.total_seconds())
    if total == 0:
        return "0"
    for unit, size_ in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if total % size_ == 0:
            return f"{total // size_}{unit}"
    return f"{total}s"


def literal(value: object) -> str:
    """A value written back as TOML, for ``policy show`` and messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.timedelta):
        return f'"{format_duration(value)}"'
    if isinstance(value, (Path, str)):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if value is None:
        return '""'
    return str(value)
