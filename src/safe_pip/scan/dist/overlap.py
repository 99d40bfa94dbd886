"""Files two wheels of one install would both write: pip lets the last one win, silently.

pip installs the wheels of one run one after another, each by copying its members over
whatever is there (``ZipBackedFile.save`` unlinks an existing file and writes its own), and
never compares two wheels: a dependency that ships ``requests/__init__.py`` replaces the
real ``requests`` installed in the same run, or is replaced by it, depending only on the
order. The per-wheel scan cannot see it (the other wheel is not installed yet, so no RECORD
in the target owns the file); this check runs over the whole set of wheels of one install.

What counts is what pip writes, and where:

* destinations from :func:`.layout.place` — the root and ``.data/purelib|platlib`` into
  site-packages, ``.data/scripts`` into the scripts folder, ``.data/data`` under the prefix
  (which may be site-packages or ``bin/`` again) — under every name a member may be installed
  as (:func:`.layout.installed_names`, the zip's Unicode Path field). ``.data/headers`` go into
  a folder per distribution (``include/site/pythonX.Y/<name>/``), so two distributions'
  headers never meet;
* the console and gui scripts pip generates from ``entry_points.txt`` (with pip's versioned
  ``pip``/``easy_install`` wrappers); a ``.data/scripts`` file named like one of the wheel's
  own entry points is dropped, as pip drops it;
* files only: a folder is not written as such (a namespace folder two wheels share is not an
  overlap), and a file two wheels write with byte-identical content is not either (whichever
  comes last, the result is the same). Content is the sha256 of the member's bytes read with
  ``zipfile``, as pip reads them, not the wheel's RECORD: RECORD is what a wheel says about
  itself, and a wheel whose RECORD lies (blocked by ``WHEEL-RECORD-MISMATCH`` unless an
  exception allows it) must not hide an overlap. Only the few colliding members are read.
  A member that cannot be read, or is larger than the limit, counts as different.

Names are compared as the target's file system compares them: exactly where it is
case-sensitive (Linux: ``Foo.py`` and ``foo.py`` are two files), case-folded where it is not
(the caller says which: :func:`case_insensitive`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safe_pip.models import Finding, Severity
from safe_pip.scan.containers.zipreader import _unicode_path
from safe_pip.scan.dist import entrypoints
from safe_pip.scan.dist.layout import installed_names, place
from safe_pip.scan.dist.shadowing import norm, ownership_from_records

RULE = "WHEEL-OVERLAP"
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20
_MAX_ENTRY_POINTS = 16 << 20


@dataclass(frozen=True)
class Write:
    """One wheel writing one destination."""

    wheel: str
    source: str
    """The member as named in the zip, or ``<dist-info>/entry_points.txt [group] name`` for
    a script pip generates."""
    content: str | None
    """sha256 (hex) of the bytes written, ``entry point ...`` for a generated script; None
    when the member could not be read (counts as different from everything)."""


@dataclass(frozen=True)
class Overlap:
    """A destination more than one wheel of the install writes, with different content."""

    kind: str
    """``site`` (site-packages relative), ``script`` (command), ``stdlib``, ``prefix``
    (prefix relative) or ``headers`` (``<distribution>/<file>``); ``package``: a file
    written into a package another wheel of the install owns (``into``, ``owner``)."""
    path: str
    writes: tuple[Write, ...]
    into: str | None = None
    """For ``package``: the package root (or top-level module name) ``owner`` owns."""
    owner: str | None = None

    @property
    def wheels(self) -> tuple[str, ...]:
        both = (*(w.wheel for w in self.writes), *((self.owner,) if self.owner else ()))
        return tuple(dict.fromkeys(both))


@dataclass(frozen=True)
class Unreadable:
    """A wheel whose member list cannot be read: what it writes cannot be told."""

    wheel: str
    reason: str


@dataclass(frozen=True)
class _Pending:
    source: str
    offset: int | None
    """The member's local header offset (its bytes are hashed on demand), or None for a
    generated script (``fixed`` is its content)."""
    fixed: str | None = None


Key = tuple[str, str]


def overlaps(
    wheels: Mapping[str, Path],
    *,
    python: tuple[int, int] | None = None,
    fold_case: bool = False,
    max_member_bytes: int = 16 << 30,
) -> tuple[list[Overlap], list[Unreadable]]:
    """Destinations written by more than one of ``wheels`` (label -> file) with different
    content, and the wheels whose member list could not be read.

    ``python``: the target's version (pip's ``pipX.Y`` wrapper); ``fold_case``: compare
    names as a case-insensitive file system does.
    """
    plans: dict[str, dict[Key, list[_Pending]]] = {}
    unreadable: list[Unreadable] = []
    for label, path in wheels.items():
        try:
            plans[label] = _plan(path, python)
        except Exception as exc:  # any reader failure: fail closed, say why
            unreadable.append(Unreadable(label, f"{type(exc).__name__}: {exc}"))
    seen: dict[Key, dict[str, list[tuple[str, _Pending]]]] = {}
    for label, plan in plans.items():
        for (kind, dest), pendings in plan.items():
            key = (kind, dest.casefold() if fold_case else dest)
            seen.setdefault(key, {}).setdefault(label, []).extend((dest, p) for p in pendings)
    found: list[Overlap] = []
    readers = {label: _Contents(path, max_member_bytes) for label, path in wheels.items()}
    try:
        for (kind, _), by_wheel in sorted(seen.items()):
            if len(by_wheel) < 2:
                continue
            writes = tuple(
                Write(label, p.source, readers[label].content(p))
                for label, pendings in by_wheel.items()
                for _, p in pendings
            )
            contents = {w.content for w in writes}
            if len(contents) == 1 and None not in contents:
                continue  # byte-identical: the same file whichever wheel comes last
            shown = next(iter(by_wheel.values()))[0][0]
            found.append(Overlap(kind, shown, writes))
    finally:
        for reader in readers.values():
            reader.close()
    found += _into_packages(plans, fold_case)
    return found, unreadable


def _into_packages(plans: Mapping[str, Mapping[Key, list[_Pending]]], fold: bool) -> list[Overlap]:
    """Files of one wheel that take over another wheel's code by another path.

    ``module``: two files of different wheels are the same importable module
    (``pkg/mod.py``, ``pkg/mod/__init__.py``, ``pkg/mod.cpython-311-x86_64-linux-gnu.so``):
    Python imports one (a package folder before a module, an extension before source) and
    the other is dead, whichever pip installed last. ``package``: a file written into a
    package another wheel of the install owns, by the criteria
    :func:`.shadowing.ownership_from_records` states for installed distributions (a regular
    package's root or a top-level module's name, claimed by that wheel alone; a root two
    wheels claim, like a pkgutil namespace, is judged per file). The same file is judged by
    content, above.
    """
    sites = {
        label: {(d.casefold() if fold else d): ps for (k, d), ps in plan.items() if k == "site"}
        for label, plan in plans.items()
    }
    owned = ownership_from_records((label, list(paths)) for label, paths in sites.items())
    modules: dict[str, dict[str, str]] = {}
    for label, paths in sites.items():
        for dest in sorted(paths):
            name = _module_of(dest)
            if name is not None:
                modules.setdefault(name, {}).setdefault(label, dest)
    out: list[Overlap] = []
    for label, paths in sites.items():
        for dest, pendings in sorted(paths.items()):
            writes = tuple(Write(label, p.source, None) for p in pendings)
            name = _module_of(dest)
            rival = next(
                ((w, f) for w, f in (modules.get(name, {}) if name else {}).items()
                 if w != label and f != dest),
                None,
            )  # fmt: skip
            if rival is not None:
                out.append(Overlap("module", dest, writes, into=rival[1], owner=rival[0]))
                continue
            key = dest
            while "/" in key:
                key = key.rsplit("/", 1)[0]
                owner = owned.get(key)
                if owner is not None and owner != label:
                    out.append(Overlap("package", dest, writes, into=key, owner=owner))
                    break
    return out


_MODULE_FILE = re.compile(r"^(?P<stem>[^.]+)(?:\.py|\.pyc|(?:\.[A-Za-z0-9_-]+)?\.(?:so|pyd))$")


def _module_of(path: str) -> str | None:
    """The module a site-packages file is imported as (None: not a module file, or a name
    no import statement can reach)."""
    folder, _, base = path.rpartition("/")
    match = _MODULE_FILE.match(base)
    if match is None or "__pycache__" in folder:
        return None
    parts = folder.split("/") if folder else []
    if match["stem"] != "__init__":
        parts.append(match["stem"])
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def findings(found: list[Overlap], unreadable: list[Unreadable]) -> dict[str, list[Finding]]:
    """The findings for each wheel (label -> findings): each overlap on every wheel in it,
    naming the others, so that the report of either artifact says what collides with what."""
    out: dict[str, list[Finding]] = {}
    for ov in found:
        if ov.kind in ("package", "module"):
            for write in ov.writes:
                out.setdefault(write.wheel, []).append(_into_finding(ov, write))
            continue
        where = _WHERE.get(ov.kind, "")
        digests = {w.wheel: w.content for w in ov.writes}
        for write in ov.writes:
            others = [w for w in ov.wheels if w != write.wheel]
            out.setdefault(write.wheel, []).append(
                Finding(
                    RULE,
                    Severity.HIGH,
                    f"{where}{ov.path!r} is also written by {', '.join(others)} in this "
                    f"install, with different content ({_short(write.content)} here, "
                    + ", ".join(f"{_short(digests[o])} in {o}" for o in others)
                    + "): pip installs one wheel after the other and the last one silently "
                    "replaces the other's file",
                    f"{write.wheel}!{write.source}",
                    detail={
                        "kind": ov.kind,
                        "path": ov.path,
                        "wheels": list(ov.wheels),
                        "content": digests,
                    },
                )
            )
    for bad in unreadable:
        out.setdefault(bad.wheel, []).append(
            Finding(
                RULE,
                Severity.HIGH,
                f"the files this wheel writes cannot be listed ({bad.reason}): whether it "
                "overwrites another wheel of this install cannot be told",
                bad.wheel,
            )
        )
    return out


def _into_finding(ov: Overlap, write: Write) -> Finding:
    if ov.kind == "module":
        what = (
            f"{ov.path!r} is the module {_module_of(ov.path)}, which {ov.owner} in this "
            f"install provides as {ov.into!r}: Python imports only one of the two (a package "
            "folder before a module, an extension before source), so one wheel's code "
            "replaces the other's"
        )
    else:
        what = (
            f"writes {ov.path!r} into {ov.into}, a package {ov.owner} installs in this same "
            "install: code added to another distribution's package runs as that package's"
        )
    return Finding(
        RULE,
        Severity.HIGH,
        what,
        f"{write.wheel}!{write.source}",
        detail={"kind": ov.kind, "path": ov.path, "into": ov.into, "wheels": list(ov.wheels)},
    )


def case_insensitive(folder: str | os.PathLike[str]) -> bool:
    """Does the file system holding ``folder`` fold case? Probed on the folder itself or its
    nearest ancestor whose name has a letter: the same folder under its name with the case
    swapped (a folder not there yet: its nearest existing ancestor). Unprobeable (no letter
    anywhere): assumed to fold, the reading that reports more."""
    path = Path(os.path.abspath(folder))
    for candidate in (path, *path.parents):
        name = candidate.name
        if name == name.swapcase() or not candidate.exists():
            continue
        swapped = candidate.with_name(name.swapcase())
        try:
            return swapped.exists() and os.path.samefile(candidate, swapped)
        except OSError:
            return True
    return True


# -- what one wheel writes ----------------------------------------------------------------

_WHERE = {
    "script": "the command ",
    "stdlib": "the interpreter's library file ",
    "prefix": "the file (under the environment's prefix) ",
    "headers": "the header ",
    "site": "",
}


def _plan(path: Path, python: tuple[int, int] | None) -> dict[Key, list[_Pending]]:
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if not i.orig_filename.endswith("/")]
        if len(members) > MAX_MEMBERS:
            raise ValueError(f"more than {MAX_MEMBERS} members")
        tops = {i.filename.split("/", 1)[0] for i in members if "/" in i.filename}
        dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
        console, gui = _entry_points(zf, dist_infos)
    dists = {norm(d[: -len(".dist-info")].split("-", 1)[0]) for d in dist_infos} or {""}
    wrappers = set(console) | set(gui)
    plan: dict[Key, list[_Pending]] = {}
    for info in members:
        for name in _names(info):
            key = _key(name, dists, wrappers)
            if key is not None:
                plan.setdefault(key, []).append(_Pending(info.orig_filename, info.header_offset))
    source = f"{dist_infos[0] if dist_infos else '?'}/entry_points.txt"
    for group, eps in (("console_scripts", console), ("gui_scripts", gui)):
        for name, values in _generated(eps, python, group).items():
            for value in values:
                plan.setdefault(("script", name), []).append(
                    _Pending(f"{source} [{group}] {name}", None, f"entry point {group} {value}")
                )
    return plan


def _names(info: zipfile.ZipInfo) -> list[str]:
    """Every name pip may install the member as, on any Python: the name as written, as
    this ``zipfile`` reads it, the Unicode Path field's (3.12+) and
    :func:`.layout.installed_names` of each (NUL-truncated, Windows separators)."""
    name = info.orig_filename
    if (
        name == info.filename
        and "\x00" not in name
        and "\\" not in name
        and b"up" not in info.extra
    ):
        return [name]  # the common case, quickly
    out = list(dict.fromkeys((name, info.filename)))
    if b"up" in info.extra:  # 0x7075, the Unicode Path extra field
        raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        unicode = _unicode_path(info.extra, raw)
        if unicode is not None and unicode not in out:
            out.append(unicode)
    for name in list(out):
        out += [n for n in installed_names(name) if n not in out]
    return out


def _key(name: str, dists: set[str], entry_point_names: set[str]) -> Key | None:
    where = place(name)
    if where is None or where.kind == "meta":
        return None
    parts = name.split("/", 2)
    scheme = parts[1] if len(parts) > 2 and parts[0].endswith(".data") else None
    if scheme == "scripts" and _wrapper_of(parts[2], entry_point_names):
        return None  # pip drops it: it writes the entry point's own script instead
    if where.kind == "prefix" and posixpath.normpath(name).split("/")[1:2] == ["headers"]:
        return ("headers", f"{'|'.join(sorted(dists))}/{where.path}")
    return (where.kind, where.path)


def _wrapper_of(rest: str, entry_point_names: set[str]) -> bool:
    """pip's ``is_entrypoint_wrapper``: ``EP``, ``EP.exe``, ``EP-script.py``, ``EP.pya``."""
    base = posixpath.basename(rest)
    low = base.lower()
    for suffix in (".exe", "-script.py", ".pya"):
        if low.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base in entry_point_names


def _entry_points(
    zf: zipfile.ZipFile, dist_infos: list[str]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """console and gui scripts (name -> values under every reading pip may use)."""
    console: dict[str, set[str]] = {}
    gui: dict[str, set[str]] = {}
    names = set(zf.namelist())
    for name in (f"{d}/entry_points.txt" for d in dist_infos):
        if name not in names:
            continue
        if zf.getinfo(name).file_size > _MAX_ENTRY_POINTS:
            raise ValueError(f"{name} is larger than {_MAX_ENTRY_POINTS} bytes")
        for ep in entrypoints.parse(zf.read(name)):
            target = {"console_scripts": console, "gui_scripts": gui}.get(ep.group)
            if target is not None:
                target.setdefault(ep.name, set()).add(ep.value)
    return console, gui


_PIP_VERSIONED = re.compile(r"pip(\d+(\.\d+)?)?$")
_EASY_VERSIONED = re.compile(r"easy_install(-\d+\.\d+)?$")


def _generated(
    eps: dict[str, set[str]], python: tuple[int, int] | None, group: str
) -> dict[str, set[str]]:
    """The script names pip generates (``get_console_script_specs``): ``pip`` becomes
    ``pip``, ``pipX`` and ``pipX.Y`` (other versioned pip entries dropped), ``easy_install``
    also ``easy_install-X.Y``. ``X.Y`` is the target's (unknown: every 3.x pip supports)."""
    out = {k: set(v) for k, v in eps.items()}
    if group != "console_scripts":
        return out
    versions = [f"{python[0]}.{python[1]}"] if python else [f"3.{m}" for m in range(9, 16)]
    pip = out.pop("pip", None)
    if pip:
        out = {k: v for k, v in out.items() if not _PIP_VERSIONED.match(k)}
        for name in ("pip", "pip3", *(f"pip{v}" for v in versions)):
            out.setdefault(name, set()).update(pip)
    easy = out.pop("easy_install", None)
    if easy:
        out = {k: v for k, v in out.items() if not _EASY_VERSIONED.match(k)}
        for name in ("easy_install", *(f"easy_install-{v}" for v in versions)):
            out.setdefault(name, set()).update(easy)
    return out


# -- content ---------------------------------------------------------------------------


class _Contents:
    """The bytes of one wheel's members, read as pip reads them (``zipfile``, CRC checked at
    the end), hashed on demand; the archive is opened once, at the first member asked for."""

    def __init__(self, path: Path, cap: int) -> None:
        self._path, self._cap = path, cap
        self._zip: zipfile.ZipFile | None = None
        self._at: dict[int, zipfile.ZipInfo] = {}

    def content(self, pending: _Pending) -> str | None:
        """sha256 of the member (or a generated script's fixed content); None when zipfile
        refuses the member or it is larger than the cap."""
        if pending.offset is None:
            return pending.fixed
        try:
            if self._zip is None:
                self._zip = zipfile.ZipFile(self._path)
                self._at = {i.header_offset: i for i in self._zip.infolist()}
            info = self._at.get(pending.offset)
            if info is None or info.file_size > self._cap:
                return None
            h = hashlib.sha256()
            read = 0
            with self._zip.open(info) as f:
                while chunk := f.read(_CHUNK):
                    read += len(chunk)
                    if read > self._cap:
                        return None
                    h.update(chunk)
            return h.hexdigest()
        except Exception:  # zipfile refuses it (pip would fail on it too): counts as different
            return None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _short(content: str | None) -> str:
    if content is None:
        return "unreadable"
    if content.startswith("entry point "):
        return f"a generated script for {content.split(' ', 3)[-1]!r}"
    return f"sha256 {content[:12]}…"
