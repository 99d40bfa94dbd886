"""Entry points read by the parsers that act on them, and the plugin groups loaded unasked.

pip writes a ``bin/`` script for every ``console_scripts`` / ``gui_scripts`` entry point, and
tools import every entry point of their plugin group at start-up (pytest: ``pytest11``, in
every pytest process). What counts is what *those* parsers see, not what the text looks like:

* Python 3.11+ pip reads ``entry_points.txt`` with :mod:`importlib.metadata`, whose section
  header is the line with *all* brackets stripped (``[[console_scripts]]`` is
  ``console_scripts``); here the standard library's own parser is run on the text, through
  a :class:`importlib.metadata.Distribution` that serves only this file;
* pip's ``pkg_resources`` back end (Python 3.10) strips one bracket pair and then spaces
  (``[ console_scripts ]`` is ``console_scripts``); that reading is added, so a header
  either parser accepts is seen.

Which groups are loaded automatically, by which tool and why, is data:
``safe_pip/data/plugin_groups.json`` (one reason per entry).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

SCRIPT_GROUPS = ("console_scripts", "gui_scripts")


@dataclass(frozen=True)
class EntryPoint:
    group: str
    name: str
    value: str

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0].strip()


class _TextDistribution(importlib.metadata.Distribution):
    """A distribution whose only file is the given ``entry_points.txt``."""

    def __init__(self, text: str) -> None:
        self._text = text

    def read_text(self, filename: str) -> str | None:
        return self._text if filename == "entry_points.txt" else None

    def locate_file(self, path: str | os.PathLike[str]) -> Path:
        raise FileNotFoundError(path)  # never touches the file system


def _stdlib_reading(text: str) -> Iterable[EntryPoint]:
    for ep in _TextDistribution(text).entry_points:
        yield EntryPoint(ep.group, ep.name, ep.value)


def _pkg_resources_reading(text: str) -> Iterable[EntryPoint]:
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section is not None and "=" in line:
            name, _, value = line.partition("=")
            yield EntryPoint(section, name.strip(), value.strip())


def parse(raw: bytes) -> list[EntryPoint]:
    """Every entry point either pip back end would see (deduplicated, stable order)."""
    text = raw.decode("utf-8", "replace")
    out: dict[EntryPoint, None] = {}
    for ep in (*_stdlib_reading(text), *_pkg_resources_reading(text)):
        out.setdefault(ep, None)
    return list(out)


@dataclass(frozen=True)
class PluginGroup:
    group: str
    tool: str
    why: str


@cache
def autoload_groups() -> dict[str, PluginGroup]:
    """Entry-point groups whose every member a tool imports without being asked."""
    data: Any = json.loads(
        files("safe_pip").joinpath("data/plugin_groups.json").read_text(encoding="utf-8")
    )
    return {g["group"]: PluginGroup(g["group"], g["tool"], g["why"]) for g in data["groups"]}


_BAD_SCRIPT = re.compile(r"[/\\]|^\.|^$|\x00")


def unsafe_script_name(name: str) -> bool:
    """A script name that is a path: pip joins it to the scripts folder as given."""
    return bool(_BAD_SCRIPT.search(name)) or ".." in name
