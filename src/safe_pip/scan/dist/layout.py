"""Where each member of a wheel lands when pip installs it.

pip copies the root of a wheel to purelib or platlib (both ``site-packages``) and each
``<name>.data/<scheme>/`` folder to that scheme's directory: ``purelib``/``platlib`` to
site-packages, ``scripts`` to ``bin/`` (``Scripts\\`` on Windows), ``headers`` to the include
folder and ``data`` to the environment's prefix itself — so ``data/lib/python3.12/
site-packages/x.pth`` is a site-packages file again, and ``data/lib/python3.12/x.py`` lands
in the standard-library folder of an installation whose prefix is the interpreter's.

The member name is read as pip reads it: pip decides root versus ``.data`` on the first
component of the name *as written*, then normalises it with ``os.path.normpath`` and joins it
to the scheme's folder, refusing only what lands outside that folder. So ``./x.pth`` and ``pkg/../x.pth`` are
the top-level ``x.pth``, and ``x.data/data/a/../../purelib/x.pth`` is a purelib file.
"""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple

_SITE_DIRS = ("site-packages", "dist-packages")
_STDLIB_DIR = re.compile(r"^(?:local/)?lib(?:64)?/python3(?:\.\d+)?t?(?:/lib-dynload)?$|^Lib$|^DLLs$")


class Place(NamedTuple):
    """A member's destination. A named tuple, not a frozen dataclass: one is built for every
    member of every wheel, and a frozen dataclass's ``__init__`` (``object.__setattr__`` per
    field) costs several times a tuple's."""

    kind: str
    """``site`` (site-packages relative), ``script`` (command name), ``stdlib`` (a folder on
    the interpreter's own search path outside site-packages), ``prefix`` (elsewhere under the
    environment's prefix), ``meta`` (the wheel's own ``.dist-info``/``.data`` bookkeeping)."""
    path: str
    prefix_path: str
    """The same destination relative to the environment's prefix (posix layout)."""


def place(name: str, python: str = "3") -> Place | None:
    """Where member ``name`` lands; None for folders and names pip refuses."""
    if name.endswith("/"):
        return None
    is_data = name.split("/", 1)[0].endswith(".data")
    name = posixpath.normpath(name)
    if name.startswith(("/", "../")) or name in (".", ".."):
        return None  # pip refuses a path outside its folder (the archive reader reports it)
    parts = name.split("/")
    sp = f"lib/python{python}/site-packages"
    if parts[0].endswith(".dist-info") and not is_data:
        return Place("meta", name, f"{sp}/{name}")
    if is_data:
        if len(parts) < 3:
            return Place("meta", name, name)  # pip refuses: no scheme folder
        scheme, rest = parts[1], "/".join(parts[2:])
        if scheme in ("purelib", "platlib"):
            return Place("site", rest, f"{sp}/{rest}")
        if scheme == "scripts":
            return Place("script", rest, f"bin/{rest}")
        if scheme == "headers":
            return Place("prefix", rest, f"include/{rest}")
        if scheme == "data":
            return _data_place(rest)
        return Place("meta", name, name)
    return Place("site", name, f"{sp}/{name}")


def installed_names(name: str) -> tuple[str, ...]:
    """Every name a zip member may be installed under, besides itself.

    CPython's ``zipfile`` (which pip uses) ends a name at its first NUL byte, and on Windows
    reads ``\\`` as a folder separator; the archive reader adds the names only some Python
    versions give a member (the Unicode Path extra field, honoured from 3.12 on).
    """
    if "\x00" not in name and "\\" not in name:
        return ()  # nearly every member: nothing to truncate or turn into a folder separator
    out = {name.split("\x00", 1)[0]}
    out |= {n.replace("\\", "/") for n in out if "\\" in n}
    out.discard(name)
    return tuple(sorted(out))


def _data_place(rest: str) -> Place:
    norm = posixpath.normpath(rest)
    parts = norm.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in _SITE_DIRS:
            return Place("site", "/".join(parts[i + 1 :]), norm)
    if len(parts) >= 2 and parts[-2] in ("bin", "Scripts") and len(parts) == 2:
        return Place("script", parts[-1], norm)
    for i in range(len(parts) - 1, 0, -1):
        if _STDLIB_DIR.match("/".join(parts[:i])):
            return Place("stdlib", "/".join(parts[i:]), norm)
    return Place("prefix", norm, norm)


def site_dirs(python: tuple[int, int] | None) -> list[str]:
    """Prefix-relative site-packages folders a ``.pth`` path line is joined to."""
    versions = [f"{python[0]}.{python[1]}"] if python else [f"3.{m}" for m in range(10, 15)]
    return [f"lib/python{v}/site-packages" for v in versions] + ["Lib/site-packages"]
