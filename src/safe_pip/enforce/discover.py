"""Find the real pip or python a shim stands in for, and the interpreter it belongs to.

A shim named ``pip3.11`` replaces whatever ``pip3.11`` would have run without
it: the next one on ``PATH`` that is not itself a shim.  That program belongs
to one environment, so ``safe-pip install --python`` must target that
environment's interpreter, read from the script's shebang (pip's console
scripts name their interpreter there, or in the ``'''exec'`` line pip writes
for long paths).  Nothing found is ever executed to learn this.

A file is a shim when it carries :data:`SHIM_MARKER` in its first bytes; every
shim directory is skipped, so two shim directories on ``PATH`` (user and
system) never call each other and a shim never recurses into itself.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path

SHIM_MARKER = b"safe-pip-shim"
_HEAD = 512
_EXEC_LINE = re.compile(rb"^'''exec' (.+?) \"\$0\" \"\$@\"", re.MULTILINE)


def is_shim(path: Path) -> bool:
    """Whether ``path`` is one of our shims (by content, not by location)."""
    try:
        with path.open("rb") as fh:
            return SHIM_MARKER in fh.read(_HEAD)
    except OSError:
        return False


def _path_dirs(path_env: str | None) -> Iterator[Path]:
    for entry in (path_env if path_env is not None else os.environ.get("PATH", "")).split(
        os.pathsep
    ):
        if entry:
            yield Path(entry)


def _executable_names(name: str) -> Sequence[str]:
    if os.name != "nt":
        return (name,)
    exts = os.environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD").lower().split(";")
    return (name, *(name + e for e in exts if e))


def find_real(
    name: str, *, path_env: str | None = None, skip_dirs: Sequence[Path] = ()
) -> Path | None:
    """The first ``name`` on ``PATH`` that is executable and not a shim."""
    skip = {_canon(d) for d in skip_dirs}
    for directory in _path_dirs(path_env):
        if _canon(directory) in skip:
            continue
        for candidate_name in _executable_names(name):
            candidate = directory / candidate_name
            if candidate.is_file() and os.access(candidate, os.X_OK) and not is_shim(candidate):
                return candidate
    return None


def _canon(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def interpreter_of(script: Path) -> Path | None:
    """The Python a console script (``bin/pip``) runs under, from its first lines.

    ``#!/venv/bin/python`` and pip's long-path form
    (``#!/bin/sh`` then ``'''exec' "/long path/python" "$0" "$@"``) are read.
    A binary launcher (Windows ``pip.exe``) is not parsed: ``None``, and the
    caller falls back to the environment next to it.
    """
    try:
        with script.open("rb") as fh:
            head = fh.read(_HEAD)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return _sibling_python(script)
    first = head.split(b"\n", 1)[0][2:].strip()
    match = _EXEC_LINE.search(head)
    raw = match.group(1) if match else first
    try:
        words = shlex.split(raw.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    if not words:
        return None
    if Path(words[0]).name == "env" and len(words) > 1:
        return find_real(words[1])
    if Path(words[0]).name in ("sh", "bash"):
        return _sibling_python(script)
    return Path(words[0])


def _sibling_python(script: Path) -> Path | None:
    for name in ("python", "python3", "python.exe"):
        candidate = script.parent / name
        if candidate.exists():
            return candidate
    return None


def venv_python() -> Path | None:
    """The active virtual environment's interpreter, if one is active and present."""
    venv = os.environ.get("VIRTUAL_ENV")
    if not venv:
        return None
    candidate = Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return candidate if candidate.exists() else None


def pip_version_suffix(name: str) -> str | None:
    """``pip3.11`` → ``3.11``; ``pip3`` → ``3``; ``pip`` → ``""``; others → ``None``."""
    m = re.fullmatch(r"pip(\d+(?:\.\d+)?)?(?:\.exe)?", name)
    if m is None:
        return None
    return m.group(1) or ""
