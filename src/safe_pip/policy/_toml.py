"""Reading TOML so that every problem can be reported as ``file:line``.

``tomllib`` returns plain values without positions, yet a policy error that
does not say *where* sends people hunting through a file an administrator
wrote months ago.  :class:`KeyLines` recovers the line of each table header
and key from the text itself; it is a locator for messages only, never a
second parser: the values always come from ``tomllib``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

PathPart = str | int
"""A step in a key path: a table or key name, or the index in an array of tables."""

_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(?:#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_DOTTED = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


class TomlSyntaxError(Exception):
    """The file is not valid TOML; carries the line tomllib reported."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text, turning tomllib's position text into a line number."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        if match:
            line = int(match.group(1))
            message = message[: match.start()].rstrip()
        else:
            # "(at end of document)": the last line is where the reader gave up.
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            message = message.replace("(at end of document)", "").rstrip() + " at end of file"
        raise TomlSyntaxError(message, line) from None
    return data


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _DOTTED.findall(text))


@dataclass(frozen=True)
class KeyLines:
    """Line numbers of table headers and keys, found from the raw text.

    Paths use the same shape as the parsed data, with array-of-tables entries
    indexed: ``("exception", 1, "expires")`` is the ``expires`` key of the
    second ``[[exception]]``.
    """

    lines: tuple[tuple[tuple[PathPart, ...], int], ...]
    text_lines: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> KeyLines:
        found: dict[tuple[PathPart, ...], int] = {}
        counters: dict[tuple[PathPart, ...], int] = {}
        table: tuple[PathPart, ...] = ()
        in_multiline: str | None = None
        source_lines = tuple(text.splitlines())
        for number, raw in enumerate(source_lines, start=1):
            if in_multiline is not None:
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(raw)
            if header and header.group(1) == header.group(3)[::-1].replace("]", "["):
                names = _split_dotted(header.group(2))
                if header.group(1) == "[[":
                    index = counters.get(names, -1) + 1
                    counters[names] = index
                    table = (*_resolve(names, counters), index)
                else:
                    table = _resolve(names, counters)
                found.setdefault(table, number)
                continue
            key = _KEY.match(raw)
            if key:
                path = (*table, *_split_dotted(key.group(1)))
                found.setdefault(path, number)
                rest = raw[key.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_multiline = quote
        return cls(tuple(found.items()), source_lines)

    def line_of(self, path: tuple[PathPart, ...]) -> int:
        """The line of ``path``, else of its nearest ancestor, else 1."""
        table = dict(self.lines)
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            probe = probe[:-1]
        return 1

    def line_of_item(self, path: tuple[PathPart, ...], item: str) -> int:
        """The line of a string inside an array value (multi-line arrays)."""
        start = self.line_of(path)
        needles = (f'"{item}"', f"'{item}'")
        for number in range(start, min(len(self.text_lines), start + 500) + 1):
            if any(needle in self.text_lines[number - 1] for needle in needles):
                return number
        return start


def _resolve(
    names: tuple[str, ...], counters: dict[tuple[PathPart, ...], int]
) -> tuple[PathPart, ...]:
    """Map ``[a.b]`` under a ``[[a]]`` array to the current array entry."""
    resolved: list[PathPart] = []
    for i, name in enumerate(names):
        resolved.append(name)
        prefix = names[: i + 1]
        if prefix in counters and i + 1 < len(names):
            resolved.append(counters[prefix])
    return tuple(resolved)


def read_text(path: Path) -> str:
    """Read a policy file as UTF-8; errors become the caller's PolicyError."""
    return path.read_text(encoding="utf-8")
