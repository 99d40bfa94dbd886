"""Wheel rules: where files land, what Python runs without being asked, what RECORD says.

Installing a wheel copies its members (see :mod:`.layout` for where each lands). The payload
need not be in a model file:

* ``*.pth`` files in a site directory run their ``import`` lines in every Python process
  (:mod:`.pth` reads them as each Python's site.py does); their path lines add folders whose
  ``sitecustomize``/``usercustomize`` is imported at every start;
* ``sitecustomize``/``usercustomize`` anywhere on the interpreter's search path;
* entry points: console scripts named like another distribution's command or a command on
  PATH replace it; plugin groups a tool loads unasked run in every process of that tool
  (:mod:`.entrypoints`);
* files in another distribution's package or over its files, or in the standard library's
  folder, replace code the user trusts (:mod:`.shadowing`, against the target environment);
* a RECORD that disagrees with the files means the wheel was edited after build.

A zip is a wheel when it holds a top-level ``*.dist-info/WHEEL`` member, never because of its
file name. Path traversal and duplicated names are reported by the archive reader. A member is
judged under every name pip may install it as (:func:`.layout.installed_names`, and the names
the archive reader says some Python's ``zipfile`` gives it); RECORD is checked against the names
as written.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import posixpath
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from safe_pip.models import Finding, Severity, TargetEnvironment
from safe_pip.scan.core.blob import Blob, Digest
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.paths import is_test_path, package_test_member
from safe_pip.scan.dist import entrypoints, pth
from safe_pip.scan.dist.layout import Place, installed_names, place, site_dirs
from safe_pip.scan.dist.requires import requires_dist
from safe_pip.scan.dist.shadowing import default_environment, norm, owner_of

_WHEEL = re.compile(r"^([^/]+)\.dist-info/WHEEL$")
_RECORD_SELF = ("RECORD", "RECORD.jws", "RECORD.p7s")
_MAX_META = 16 * 1024 * 1024
_DEDUPE_MIN = 512
"""Members smaller than this are not worth a set entry (empty __init__.py and the like)."""
_STARTUP_MODULES = ("sitecustomize", "usercustomize")
_STDLIB_HARMLESS = frozenset({"test", "tests", "this", "antigravity", "idlelib", "turtledemo"})

_norm = lru_cache(maxsize=4096)(norm)
"""``norm`` of owners: each member of a package the environment knows asks about its owner."""
_UNPLACED = Place("", "", "")
"""Marks a name whose place is not computed yet (its place may be None)."""

Reread = Callable[[str], bytes | None]
"""Reads a member's bytes again at the end of the scan (bounded), or None."""


@dataclass
class WheelCheck:
    """Collects what the archive reader streams past, then judges the wheel as a whole."""

    dist_info: str
    location: str
    files: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)
    """member → [(sha256 digest b64 or None if unreadable, size)] (duplicates keep all)."""
    texts: dict[str, bytes] = field(default_factory=dict)
    alias_of: dict[str, str] = field(default_factory=dict)
    """A name a member is installed as (NUL-truncated, Unicode Path field, Windows ``\\``)
    -> the member's name as written in the zip."""
    _last: str | None = None
    _places: dict[str, Place | None] = field(default_factory=dict)
    """:func:`.layout.place` of each name asked about: every member's is needed three or four
    times (while streaming and at the end), and computing it is most of a small member's
    bookkeeping."""

    @cached_property
    def dist(self) -> str:
        """The distribution's normalised name (asked once per member placed)."""
        return norm(self.dist_info.rsplit(".dist-info", 1)[0].split("-", 1)[0])

    @cached_property
    def _meta_dir(self) -> str:
        return f"{self.dist_info}/"

    def member(
        self,
        ctx: ScanContext,
        name: str,
        data: Blob | Digest | None,
        loc: str,
        aliases: tuple[str, ...] = (),
    ) -> None:
        names = [name]
        for other in (*aliases, *installed_names(name)):
            for alias in (other, *installed_names(other)):
                if alias not in names:
                    names.append(alias)
                    self.alias_of.setdefault(alias, name)
        if data is None:
            for n in names:
                self.files.setdefault(n, []).append((None, -1))
            return
        if isinstance(data, Digest):  # streamed: hashed on the way
            raw = data.sha256
        else:
            h = hashlib.sha256()
            for piece in data.chunks():
                h.update(piece)
            raw = h.digest()
        digest = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self._last = digest if data.size >= _DEDUPE_MIN else None
        for n in names:
            self.files.setdefault(n, []).append((digest, data.size))
            if self._wanted(n) and data.size <= _MAX_META:
                self.texts[n] = data.read(0, data.size)

    def scanned_before(self, ctx: ScanContext, loc: str) -> bool:
        """Scan a member once per digest (virtualenv embeds pip and setuptools twice over).

        Everything a reader's verdict can depend on besides the bytes is in the key: the file
        name (``.py``, ``setup.py``), whether it sits in a test folder (of one of the
        wheel's own packages), the wheel's own packages and requirements and a TorchScript
        archive around it.
        """
        if self._last is None:
            return False
        base = loc.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
        key = (
            self._last,
            base,
            is_test_path(loc),
            package_test_member(loc, ctx.wheel_root, ctx.own_packages),
            ctx.own_packages,
            ctx.required_packages,
            ctx.torchscript > 0,
        )
        if key in ctx.scanned:
            ctx.saw("duplicate")
            return True
        ctx.scanned.add(key)
        return False

    def _place(self, name: str) -> Place | None:
        where = self._places.get(name, _UNPLACED)
        if where is _UNPLACED:  # the first question about a name (a lookup, not a KeyError)
            where = self._places[name] = place(name)
        return where

    def _wanted(self, name: str) -> bool:
        if name.startswith(self._meta_dir):
            return name.rsplit("/", 1)[-1] in ("RECORD", "entry_points.txt", "METADATA")
        return self._is_pth(name) or self._is_entry_points(name)

    def _is_pth(self, name: str) -> bool:
        """A ``.pth`` file site.py reads: at the top of a site directory, wherever written."""
        where = self._place(name)
        return (
            where is not None
            and where.kind == "site"
            and "/" not in where.path
            and pth.is_site_visible(where.path)
        )

    def _is_entry_points(self, name: str) -> bool:
        """Installed as this distribution's ``entry_points.txt`` (``./x.dist-info/...`` too:
        pip copies it there, and importlib.metadata reads it at run time)."""
        where = self._place(name)
        return where is not None and where.path == f"{self.dist_info}/entry_points.txt"

    def finish(self, ctx: ScanContext, reread: Reread | None = None) -> None:
        ctx.drain()  # source findings of offloaded members, before they are judged here
        ctx.saw("wheel")
        env = ctx.target or default_environment()
        python = ctx.target.python_version if ctx.target else None
        own = self._own_tops()
        for name in self.files:
            self._layout(ctx, name, env)
        for name, raw in sorted(self.texts.items()):
            if self._is_pth(name):
                self._pth(ctx, name, raw, python, own)
        self._entry_points(ctx, env, own)
        self._record(ctx)
        _relax_loads(ctx, self, reread)

    def _own_tops(self) -> frozenset[str]:
        tops: set[str] = set()
        for name in self.files:
            where = self._place(name)
            if where is not None and where.kind == "site":
                head, sep, _ = where.path.partition("/")
                tops.add(head if sep else head.split(".", 1)[0])
        return frozenset(tops)

    # -- placement -------------------------------------------------------------------
    def _layout(self, ctx: ScanContext, name: str, env: TargetEnvironment) -> None:
        loc = f"{self.location}!{name}"
        where = self._place(name)
        if where is None:
            return
        if where.path.lower().endswith(".pyc"):
            # import runs it (sourceless, or from __pycache__ in the source's place) from
            # site-packages or any folder a .pth line or the package adds to sys.path; the
            # source rules never see what it does
            ctx.report(
                "WHEEL-BYTECODE",
                f"installs compiled bytecode {where.path!r}, which Python imports without "
                "reading any source the scanner judged",
                loc,
            )
        if where.kind == "meta":
            return
        if where.kind == "script":
            self._script(ctx, where.path, loc, "script", env)
            return
        module = where.path.split("/", 1)[0].split(".", 1)[0]
        if where.kind == "stdlib":
            ctx.report(
                "WHEEL-FOREIGN-PACKAGE",
                f"installs {where.path!r} into the interpreter's own library folder "
                f"({where.prefix_path}), ahead of site-packages",
                loc,
                package=module,
            )
            return
        if where.kind != "site":
            return
        top = where.path.split("/", 1)[0]
        if top.endswith((".dist-info", ".egg-info")):
            return
        if module in _STARTUP_MODULES:
            ctx.report(
                "WHEEL-STARTUP-HOOK",
                f"installs {top}, which every Python process imports at start-up",
                loc,
            )
            return
        owned = owner_of(env, where.path)
        if owned is not None and _norm(owned[0]) != self.dist:
            owner, key = owned
            what = "overwrites" if key == where.path else f"writes into {key}/, owned by"
            ctx.report(
                "WHEEL-FOREIGN-PACKAGE",
                f"{what} {owner or 'the environment'}"
                + (f"'s file {key}" if key == where.path else "")
                + f", not {self.dist}",
                loc,
                package=module,
                owner=owner,
            )
        elif (
            owned is None
            and module in sys.stdlib_module_names
            and module not in _STDLIB_HARMLESS
            and norm(module) != self.dist
        ):
            ctx.report(
                "WHEEL-FOREIGN-PACKAGE",
                f"installs {top!r}, named like the standard-library module {module!r}",
                loc,
                package=module,
            )

    def _script(
        self, ctx: ScanContext, script: str, loc: str, kind: str, env: TargetEnvironment
    ) -> None:
        if entrypoints.unsafe_script_name(script):
            ctx.report(
                "WHEEL-SCRIPT-SHADOW",
                f"{kind} {script!r} is a path, not a name: pip would write it outside bin/",
                loc,
                script=script,
            )
            return
        base = re.sub(r"\.(exe|bat|cmd|ps1|py)$", "", script, flags=re.I)
        names = {base, base.lower()}
        owner = next((env.scripts[n] for n in names if n in env.scripts), None)
        if owner is not None:
            if norm(owner) == self.dist and owner:
                return
            ctx.report(
                "WHEEL-SCRIPT-SHADOW",
                f"{kind} {script!r} replaces the command {base!r} of "
                f"{owner or 'the environment itself'}",
                loc,
                script=script,
                owner=owner,
            )
            return
        if names & env.path_commands and norm(base) != self.dist:
            ctx.report(
                "WHEEL-SCRIPT-SHADOW",
                f"{kind} {script!r} is named like the command {base!r} on PATH and would "
                "run instead of it",
                loc,
                script=script,
            )

    def _entry_points(self, ctx: ScanContext, env: TargetEnvironment, own: frozenset[str]) -> None:
        for name, raw in sorted(self.texts.items()):
            if self._is_entry_points(name):
                self._entry_points_file(ctx, env, own, name, raw)

    def _entry_points_file(
        self, ctx: ScanContext, env: TargetEnvironment, own: frozenset[str], name: str, raw: bytes
    ) -> None:
        loc = f"{self.location}!{name}"
        groups = entrypoints.autoload_groups()
        for ep in entrypoints.parse(raw):
            if ep.group in entrypoints.SCRIPT_GROUPS:
                self._script(ctx, ep.name, loc, f"{ep.group} entry point", env)
            elif ep.group in groups:
                g = groups[ep.group]
                mine = ep.module.split(".", 1)[0] in own
                ctx.report(
                    "WHEEL-PLUGIN-AUTOLOAD",
                    f"entry point {ep.name!r} in group {ep.group!r} ({ep.value}) runs in every "
                    f"{g.tool} process: {g.why}"
                    + ("" if mine else "; it names code this wheel does not ship"),
                    loc,
                    severity=Severity.LOW if mine else Severity.HIGH,
                    group=ep.group,
                    value=ep.value,
                )

    # -- .pth ------------------------------------------------------------------------
    def _pth(
        self,
        ctx: ScanContext,
        name: str,
        raw: bytes,
        python: tuple[int, int] | None,
        own: frozenset[str],
    ) -> None:
        loc = f"{self.location}!{name}"
        ctx.saw("pth")
        for line in pth.read_lines(raw, python):
            where = f"{loc}:{line.number}"
            versions = " and ".join(line.readings)
            if not line.runs:
                self._pth_path(ctx, line.text, where, python)
                continue
            judged = pth.judge_exec_line(line.text, self.dist, own)
            if judged.verdict == "allowed":
                continue
            ctx.report(
                "WHEEL-PTH-EXEC" if judged.verdict == "runs" else "WHEEL-PTH-DORMANT",
                f"line {line.number} is executed by site.py (Python {versions}) at every "
                f"start-up; {judged.reason}: {line.text[:160]!r}",
                where,
                line=line.text[:1000],
                pythons=list(line.readings),
            )

    def _pth_path(
        self, ctx: ScanContext, text: str, where: str, python: tuple[int, int] | None
    ) -> None:
        """A path line: site appends the folder; its start-up modules are then imported."""
        for sd in site_dirs(python):
            folder = posixpath.normpath(posixpath.join(sd, text.replace("\\", "/")))
            for member in self.files:
                dest = _prefix_path(member, sd)
                if dest is None:
                    continue
                parent, base = posixpath.split(dest)
                module = base.split(".", 1)[0]
                hook = (parent == folder and module in _STARTUP_MODULES) or (
                    posixpath.dirname(parent) == folder
                    and posixpath.basename(parent) in _STARTUP_MODULES
                    and module == "__init__"
                )
                if hook:
                    ctx.report(
                        "WHEEL-STARTUP-HOOK",
                        f"a .pth path line adds {text!r} to sys.path, and that folder holds "
                        f"{member.rsplit('/', 1)[-1]}, which site imports at every start-up",
                        where,
                        member=member,
                    )

    # -- RECORD ----------------------------------------------------------------------
    def _record(self, ctx: ScanContext) -> None:
        record_name = f"{self.dist_info}/RECORD"
        loc = f"{self.location}!{record_name}"
        raw = self.texts.get(record_name)
        if raw is None:
            ctx.report("WHEEL-RECORD-MISMATCH", "the wheel has no (readable) RECORD", loc)
            return
        listed: dict[str, tuple[str, str]] = {}
        try:
            for row in csv.reader(io.StringIO(raw.decode("utf-8"))):
                if row and row[0]:
                    listed[row[0]] = (
                        row[1] if len(row) > 1 else "",
                        row[2] if len(row) > 2 else "",
                    )
        except (UnicodeDecodeError, csv.Error) as exc:
            ctx.report("WHEEL-RECORD-MISMATCH", f"RECORD cannot be parsed: {exc}", loc)
            return
        problems: list[str] = []
        for name, copies in self.files.items():
            if name.startswith(f"{self.dist_info}/") and name.rsplit("/", 1)[-1] in _RECORD_SELF:
                continue
            if name in self.alias_of:
                continue  # another name of a member checked as written
            entry = listed.get(name)
            if entry is None:
                problems.append(f"{name}: not listed in RECORD")
                continue
            hash_spec, size = entry
            algo, _, want = hash_spec.partition("=")
            for digest, actual in copies:
                if digest is None:
                    continue
                if algo != "sha256":
                    problems.append(f"{name}: RECORD hash {algo or 'missing'} is not sha256")
                elif want != digest:
                    problems.append(f"{name}: sha256 differs from RECORD")
                if size and size.isdigit() and int(size) != actual:
                    problems.append(f"{name}: size {actual} differs from RECORD's {size}")
        if problems:
            ctx.report(
                "WHEEL-RECORD-MISMATCH",
                f"RECORD does not match the files ({len(problems)} problem(s)): "
                + "; ".join(problems[:5]),
                loc,
                problems=problems[:100],
            )
        # Listed but absent: pip installs what the zip holds, so nothing unvetted lands.
        absent = [
            n for n in listed if n not in self.files and n.rsplit("/", 1)[-1] not in _RECORD_SELF
        ]
        if absent:
            ctx.report(
                "WHEEL-RECORD-ABSENT",
                f"RECORD lists {len(absent)} file(s) the wheel does not ship "
                f"(nothing is installed for them): {', '.join(absent[:5])}",
                loc,
                absent=absent[:100],
            )

    # -- metadata ----------------------------------------------------------------------
    def requires(self) -> list[str]:
        raw = self.texts.get(f"{self.dist_info}/METADATA")
        return [] if raw is None else requires_dist(raw)


def _prefix_path(member: str, site_dir: str) -> str | None:
    where: Place | None = place(member)
    if where is None or where.kind == "meta":
        return None
    if where.kind == "site":
        return f"{site_dir}/{where.path}"
    return where.prefix_path


def _relax_loads(ctx: ScanContext, wheel: WheelCheck, reread: Reread | None) -> None:
    """Import-time loads this wheel's own metadata and layout make harmless become low."""
    from safe_pip.scan.dist import loads

    prefix = f"{wheel.location}!"
    for i, f in enumerate(ctx.findings):
        if f.rule_id != "PY-UNSAFE-LOAD" or f.severity <= Severity.LOW:
            continue
        if not f.location.startswith(prefix) or "!" in f.location[len(prefix) :]:
            continue
        why = loads.harmless(f, wheel, reread)
        if why:
            ctx.findings[i] = _lowered(f, why)


def _lowered(f: Finding, why: str) -> Finding:
    return replace(f, severity=Severity.LOW, message=f"{f.message}; low: {why}")


def wheel_dist_info(names: list[str]) -> str | None:
    """The ``name-version.dist-info`` folder when the zip is a wheel."""
    for n in names:
        m = _WHEEL.match(n)
        if m:
            return f"{m.group(1)}.dist-info"
    return None
