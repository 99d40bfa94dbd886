"""The target environment, probed from the target interpreter without running its code.

The resolver needs what pip would see inside the target: the marker environment, the wheel
tags its interpreter accepts, its Python version, and the distributions already installed
(with their requirements, so an already-satisfied requirement still has its dependencies
checked). The scanner needs who owns which file, top-level name and command
(:class:`safe_pip.models.TargetEnvironment`) for its shadowing rules.

How it is read, and why:

* the target interpreter runs ``-I -S``: no ``PYTHON*`` variables, no user site, and **no**
  ``site`` initialisation, so none of the target's ``.pth`` hooks or ``sitecustomize`` run;
  the site-packages folders are computed from ``sysconfig`` (and ``pyvenv.cfg``) instead;
* tags and markers are computed by the target's own pip's vendored ``packaging`` (the code
  that will check the wheels at install time, so wheel preference is pip's to the letter),
  or, in a target without pip, by safe-pip's ``packaging`` made visible through a private
  folder holding only that package; either way with the target's ``sysconfig``;
* installed distributions are read with the target's ``importlib.metadata`` over exactly
  those folders: METADATA, RECORD, ``top_level.txt`` and ``entry_points.txt`` are text files,
  nothing of a distribution is imported.

Any failure (the interpreter cannot start, prints garbage, times out) raises
:class:`TargetError`; nothing is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import packaging
from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from safe_pip.errors import SafePipError
from safe_pip.models import TargetEnvironment

PROBE_TIMEOUT = 120.0


class TargetError(SafePipError):
    """The target interpreter could not be probed; nothing is installed."""


@dataclass(frozen=True)
class InstalledDist:
    """One distribution already installed in the target."""

    name: str
    """As its METADATA spells it."""
    version: str
    requires: tuple[str, ...] = ()
    """Its ``Requires-Dist`` lines."""
    requires_python: str | None = None
    location: str = ""
    """The site-packages folder it lives in."""
    files: tuple[str, ...] = ()
    """RECORD paths, relative to ``location`` ('/'-separated; may start with '..')."""
    top_level: tuple[str, ...] = ()
    console_scripts: tuple[str, ...] = ()
    """Commands its entry points create (console and GUI scripts)."""
    provides_extra: tuple[str, ...] = ()

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class Target:
    """What the resolver and the scanner need to know about the target interpreter."""

    python: Path
    python_version: str
    """The full version (``3.11.7``): what ``Requires-Python`` is checked against."""
    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    """Supported wheel tags, most preferred first (pip's order)."""
    site_packages: tuple[str, ...]
    scripts_dir: str
    installed: Mapping[NormalizedName, InstalledDist] = field(default_factory=dict)
    path_commands: frozenset[str] = frozenset()

    @property
    def version_info(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)

    def tag_priority(self) -> dict[Tag, int]:
        """Tag → rank (0 is the best), for choosing between wheels of one version."""
        return {tag: rank for rank, tag in enumerate(self.tags)}

    def marker_env(self, extra: str = "") -> dict[str, str]:
        env = dict(self.markers)
        env["extra"] = extra
        return env

    def evaluate(self, marker: Marker | None, extras: frozenset[str] = frozenset()) -> bool:
        """Does ``marker`` hold in the target, for no extra or any of ``extras``?"""
        if marker is None:
            return True
        return any(marker.evaluate(self.marker_env(e)) for e in ({""} | set(extras)))


# The probe runs inside the target interpreter (-I -S). Standard library + packaging only.
_PROBE = r"""
import json, os, sys, sysconfig

def site_dirs():
    prefix = sys.prefix
    cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(sys.executable))),
                       "pyvenv.cfg")
    in_venv = os.path.isfile(cfg)
    system_site = False
    if in_venv:
        prefix = os.path.dirname(cfg)
        with open(cfg, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition("=")
                if key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
    scheme_vars = {"base": prefix, "platbase": prefix}
    paths = sysconfig.get_paths(vars=scheme_vars)
    dirs = [paths["purelib"], paths["platlib"]]
    if in_venv and system_site:
        base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
        dirs += [base["purelib"], base["platlib"]]
    if not in_venv and sys.argv[2] == "1":
        user = sysconfig.get_paths(scheme=sysconfig.get_preferred_scheme("user")
                                   if hasattr(sysconfig, "get_preferred_scheme")
                                   else os.name + "_user")
        dirs.insert(0, user["purelib"])
    seen = []
    for d in dirs:
        if d not in seen and os.path.isdir(d):
            seen.append(d)
    return seen, paths["scripts"]

def dists(dirs):
    import importlib.metadata as md
    out = []
    seen = set()
    for d in dirs:
        for dist in md.distributions(path=[d]):
            meta = dist.metadata
            name = meta["Name"]
            if not name:
                continue
            key = name.lower().replace("_", "-").replace(".", "-")
            if key in seen:
                continue  # the first one on sys.path wins, as for pip
            seen.add(key)
            files = [str(f).replace(os.sep, "/") for f in (dist.files or [])]
            top = dist.read_text("top_level.txt") or ""
            scripts = [ep.name for ep in dist.entry_points
                       if ep.group in ("console_scripts", "gui_scripts")]
            out.append({
                "name": name, "version": meta["Version"] or "",
                "requires": list(meta.get_all("Requires-Dist") or []),
                "provides_extra": list(meta.get_all("Provides-Extra") or []),
                "requires_python": meta["Requires-Python"],
                "location": d, "files": files,
                "top_level": [t.strip() for t in top.splitlines() if t.strip()],
                "console_scripts": scripts,
            })
    return out

def supported_tags(tags):
    # pip's get_supported(): interpreter tags, then the compatible ones with "cp311-none-any"
    interpreter = tags.interpreter_name() + tags.interpreter_version()
    if tags.interpreter_name() == "cp":
        out = list(tags.cpython_tags())
    else:
        out = list(tags.generic_tags())
    return out + list(tags.compatible_tags(interpreter=interpreter))

dirs, scripts = site_dirs()
# The target's own pip decides tag order at install time: use its vendored packaging when
# there is one (plain folders on sys.path: no .pth file is processed), else ours.
sys.path.extend(dirs)
try:
    from pip._vendor.packaging import markers, tags
    source = "pip"
except Exception:
    sys.path[:] = [p for p in sys.path if p not in dirs] + [sys.argv[1]]
    for mod in [m for m in sys.modules if m == "pip" or m.startswith("pip.")]:
        del sys.modules[mod]
    from packaging import markers, tags
    source = "packaging"
json.dump({
    "tags_from": source,
    "python_version": ".".join(map(str, sys.version_info[:3])),
    "markers": markers.default_environment(),
    "tags": [str(t) for t in supported_tags(tags)],
    "site_packages": dirs,
    "scripts_dir": scripts,
    "installed": dists(dirs),
}, sys.stdout)
"""


def probe_target(python: Path, *, env: Mapping[str, str] | None = None) -> Target:
    """Ask the target interpreter (isolated, no site hooks) what pip would see in it."""
    python = Path(os.path.abspath(python))  # not resolve(): a venv's python is a symlink
    environ = dict(env if env is not None else os.environ)
    user_site = "0" if environ.get("PYTHONNOUSERSITE") else "1"
    with tempfile.TemporaryDirectory(prefix="safe-pip-probe-") as tmp:
        # Only `packaging` is made importable: the probe must not see anything else of ours.
        os.symlink(Path(packaging.__file__).parent, Path(tmp) / "packaging")
        cmd = [str(python), "-I", "-S", "-B", "-c", _PROBE, tmp, user_site]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                env={k: v for k, v in environ.items() if not k.startswith("PYTHON")},
                cwd=tmp,
            )
        except subprocess.TimeoutExpired as exc:
            raise TargetError(f"the target interpreter {python} did not answer") from exc
        except OSError as exc:
            raise TargetError(f"cannot run the target interpreter {python}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"cannot probe the target interpreter {python}: {tail}")
    try:
        return _parse_probe(python, json.loads(proc.stdout), environ.get("PATH", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetError(f"the target interpreter {python} gave an unreadable answer") from exc


def _parse_probe(python: Path, raw: dict[str, object], path_var: str) -> Target:
    installed: dict[NormalizedName, InstalledDist] = {}
    for item in raw["installed"]:  # type: ignore[attr-defined]
        dist = InstalledDist(
            name=str(item["name"]),
            version=str(item["version"]),
            requires=tuple(item["requires"]),
            requires_python=item["requires_python"],
            location=str(item["location"]),
            files=tuple(item["files"]),
            top_level=tuple(item["top_level"]),
            console_scripts=tuple(item["console_scripts"]),
            provides_extra=tuple(item.get("provides_extra", ())),
        )
        installed.setdefault(dist.key, dist)
    scripts_dir = str(raw["scripts_dir"])
    return Target(
        python=python,
        python_version=str(raw["python_version"]),
        markers={str(k): str(v) for k, v in raw["markers"].items()},  # type: ignore[attr-defined]
        tags=tuple(t for s in raw["tags"] for t in _tags(str(s))),  # type: ignore[attr-defined]
        site_packages=tuple(str(d) for d in raw["site_packages"]),  # type: ignore[attr-defined]
        scripts_dir=scripts_dir,
        installed=installed,
        path_commands=_path_commands(path_var, exclude=scripts_dir),
    )


def _tags(text: str) -> tuple[Tag, ...]:
    from packaging.tags import parse_tag

    return tuple(parse_tag(text))


def _path_commands(path_var: str, *, exclude: str) -> frozenset[str]:
    """Executable names on PATH outside the environment's own scripts folder."""
    names: set[str] = set()
    for folder in path_var.split(os.pathsep):
        if not folder or os.path.normpath(folder) == os.path.normpath(exclude):
            continue
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file() and os.access(entry.path, os.X_OK):
                        names.add(entry.name)
        except OSError:
            continue
    return frozenset(names)


def target_environment(target: Target) -> TargetEnvironment:
    """The scanner's view: who owns each installed path, top-level name and command.

    Site paths are owned by the criteria of
    :func:`safe_pip.scan.dist.shadowing.ownership_from_records` (the one place they are
    stated): every file a RECORD lists, each regular package's root and each top-level
    module, but never a shared namespace folder, so a wheel writing beside another
    distribution in ``google/`` is not taken for overwriting it. A distribution without a
    RECORD (a legacy egg-info install) is owned by its ``top_level.txt`` names instead.
    Paths are relative to the site-packages folder the owner lives in ('/'-separated);
    files a RECORD places outside it (``../../bin/tool``) are recorded as scripts when they
    land in the scripts folder, and otherwise left out (they cannot collide with a wheel's
    site-packages files).
    """
    from safe_pip.scan.dist.shadowing import ownership_from_records

    records: list[tuple[str, list[str]]] = []
    legacy: dict[str, str] = {}
    scripts: dict[str, str] = {}
    scripts_dir = os.path.normpath(target.scripts_dir)
    for dist in target.installed.values():
        inside: list[str] = []
        for rel in dist.files:
            if rel.startswith("../") or rel.startswith("/"):
                full = os.path.normpath(os.path.join(dist.location, rel))
                if os.path.dirname(full) == scripts_dir:
                    scripts.setdefault(os.path.basename(full), dist.name)
                continue
            inside.append(rel)
        records.append((dist.name, inside))
        if not dist.files:
            for top in dist.top_level:
                legacy.setdefault(top, dist.name)
        for command in dist.console_scripts:
            scripts.setdefault(command, dist.name)
    owned = ownership_from_records(records)
    for top, name in legacy.items():
        owned.setdefault(top, name)
    return TargetEnvironment(
        python_version=target.version_info,
        owned_paths=owned,
        scripts=scripts,
        path_commands=target.path_commands,
        python_executable=str(target.python),
    )
