"""Every input pip would read, read by safe-pip with pip's own grammar.

Arguments, requirement and constraint files (recursively, with their options,
``${VAR}`` expansion and continuation lines), ``PIP_*`` variables and every pip
configuration file pip would read for the target are reduced to named
requirements, constraints, local trees the user named (build candidates, for the
build stage, never for pip), explicit index and network settings and resolve
options. Nothing else reaches pip: the final pip runs as ``python -I -m pip`` in
an empty directory with ``PIP_CONFIG_FILE`` set to the null device, no inherited
``PIP_*`` and a generated requirements file (``gate.install.isolated_pip_env``).

The grammar is the target pip's (:mod:`.pip_options`); the order in which pip
applies settings is pip's (configuration, then the command line, then each
requirement file's option lines). Anything safe-pip cannot represent exactly - an
option whose effect it does not model, a remote requirement file, a constraint
that is a URL, a VCS checkout - raises :class:`InputError` naming where it was
written. Interface contract for the gate's stages; keep names stable, extend freely.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from safe_pip.errors import UsageError
from safe_pip.gate import pip_config, req_files
from safe_pip.gate.install import isolated_pip_env
from safe_pip.gate.pip_options import (
    OptionSpec,
    PipGrammar,
    PipGrammarError,
    load_grammar,
    parse_options,
    pip_version_of,
)


class InputError(UsageError):
    """An input safe-pip cannot represent exactly; nothing was resolved or installed."""


@dataclass(frozen=True)
class IndexSettings:
    """Where packages may come from and how to reach them, after every input is merged."""

    index_url: str | None
    """The primary index (from the user or pip's configuration; pip's default if neither)."""
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    proxy: str | None = None
    timeout: float | None = None
    retries: int | None = None
    keyring_provider: str | None = None
    ignore_proxy_env: bool = False

    @property
    def index_urls(self) -> tuple[str, ...]:
        """Every index pip would ask, primary first (none under ``--no-index``)."""
        if self.no_index:
            return ()
        primary = (self.index_url,) if self.index_url else ()
        return (*primary, *self.extra_index_urls)


RequirementKind = Literal[
    "name", "wheel-url", "wheel-file", "local-tree", "sdist-file", "sdist-url"
]


@dataclass(frozen=True)
class RequirementInput:
    """One requirement the user asked for, with where it was written."""

    requirement: Requirement | None
    """Name, extras, specifier, marker; ``url`` for a direct reference. ``None`` only for a
    local tree or archive whose name its build will tell (``pip install ./x``)."""
    origin: str
    """For messages: ``command line``, ``requirements.txt:12``, ``PIP_REQUIREMENT``..."""
    hashes: frozenset[str] = frozenset()
    """``sha256:<hex>`` values from ``--hash``."""
    editable: bool = False
    local_path: str | None = None
    """A local tree or archive the user named (a build candidate), as an absolute path."""
    kind: RequirementKind = "name"
    """``name``: resolve from the indexes; ``wheel-url``/``wheel-file``: that one wheel;
    ``local-tree``/``sdist-file``/``sdist-url``: needs a build (the build stage's, never pip's)."""
    url: str | None = None
    """The direct reference as written (``name @ URL``, a URL or a path), if any."""
    config_settings: tuple[str, ...] = ()
    """``--config-settings KEY=VALUE`` for this requirement's build."""

    @property
    def name(self) -> str | None:
        return canonicalize_name(self.requirement.name) if self.requirement else None

    @property
    def needs_build(self) -> bool:
        return self.editable or self.kind in ("local-tree", "sdist-file", "sdist-url")


@dataclass(frozen=True)
class ResolveOptions:
    """pip options that change what is chosen (not where it is installed)."""

    pre: bool = False
    upgrade: bool = False
    upgrade_strategy: str = "only-if-needed"
    force_reinstall: bool = False
    ignore_installed: bool = False
    no_deps: bool = False
    prefer_binary: bool = False
    require_hashes: bool = False
    no_binary: frozenset[str] = frozenset()
    """Canonical names (or ``:all:``) the user asked to build from source."""
    only_binary: frozenset[str] = frozenset()
    """Canonical names (or ``:all:``) that must come as wheels."""
    ignore_requires_python: bool = False
    python_version: str | None = None
    """pip's ``--python-version`` as written (``3.11``, ``311``)."""
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()
    implementation: str | None = None
    prerelease_names: frozenset[str] = frozenset()
    """pip 26's ``--all-releases NAMES`` (``:all:`` is ``--pre``)."""
    final_only_names: frozenset[str] = frozenset()
    """pip 26's ``--only-final NAMES``."""
    uploaded_prior_to: str | None = None
    """pip 26's ``--uploaded-prior-to`` as written."""


@dataclass(frozen=True)
class Placement:
    """Where and how the final pip installs (also what the resolver must treat as installed)."""

    target_dir: str | None = None
    prefix: str | None = None
    root: str | None = None
    user: bool = False


@dataclass(frozen=True)
class InstallRequest:
    """What the user asked pip to install, fully read; the only thing later stages see."""

    requirements: tuple[RequirementInput, ...]
    constraints: tuple[RequirementInput, ...]
    index: IndexSettings
    options: ResolveOptions
    install_args: tuple[str, ...] = ()
    """Placement and behaviour options repeated in the final, isolated pip call
    (``--user``, ``--prefix``, ``--target``, ``--root``, ``--no-compile``...)."""
    placement: Placement = field(default_factory=Placement)
    python: str | None = None
    """pip's own ``--python``: the interpreter pip would install into, when given."""
    dry_run: bool = False
    """pip's own ``--dry-run``: vet, install nothing."""
    pip_report: str | None = None
    """pip's own ``--report FILE`` (pip's installation-report format, not safe-pip's)."""
    build_constraints: tuple[str, ...] = ()
    """pip's ``--build-constraint`` files (constrain build dependencies only)."""
    pip_version: str | None = None
    sources: tuple[str, ...] = ()
    """Every file and variable that contributed, for the report and audit log."""

    @property
    def build_candidates(self) -> tuple[RequirementInput, ...]:
        """Requirements that need a build (local trees, editables, sdists)."""
        return tuple(r for r in self.requirements if r.needs_build)


# --- the target interpreter --------------------------------------------------------------


@dataclass(frozen=True)
class PipTarget:
    """The interpreter pip would run under, as far as reading inputs needs it."""

    python: Path
    prefix: Path
    """``sys.prefix``: where pip's site configuration lives."""
    pip_dir: Path | None
    """The ``pip`` package folder (``None``: the target has no pip)."""
    is_venv: bool


_PROBE = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.find_spec('pip')\n"
    "loc = list(spec.submodule_search_locations or []) if spec else []\n"
    "print(json.dumps({'prefix': sys.prefix, 'base': sys.base_prefix, "
    "'pip': loc[0] if loc else None}))\n"
)


def probe_target(python: Path, *, timeout: float = 60.0) -> PipTarget:
    """Ask ``python`` (isolated, in an empty folder) where it and its pip live.

    ``find_spec`` locates pip without importing it; ``-I`` and the empty working
    directory mean a ``pip/`` folder next to the user cannot stand in for pip.
    """
    with tempfile.TemporaryDirectory(prefix="safe-pip-probe-") as empty:
        try:
            proc = subprocess.run(
                [str(python), "-I", "-c", _PROBE],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=empty,
                env=isolated_pip_env(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise InputError(f"cannot run the target interpreter {python}: {exc}") from exc
    if proc.returncode != 0:
        raise InputError(f"the target interpreter {python} failed: {proc.stderr.strip()[-500:]}")
    try:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        return PipTarget(
            python=python,
            prefix=Path(info["prefix"]),
            pip_dir=Path(info["pip"]) if info["pip"] else None,
            is_venv=info["prefix"] != info["base"],
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"unexpected answer from {python}: {proc.stdout[-300:]!r}") from exc


MIN_PIP = Version("22.2")
"""Oldest pip the gate drives (its final install and reports rely on 22.2's options)."""


def grammar_for(target: PipTarget) -> PipGrammar:
    if target.pip_dir is None:
        raise InputError(f"{target.python} has no pip; safe-pip reads pip's options from it")
    try:
        version = Version(pip_version_of(target.pip_dir))
    except (PipGrammarError, InvalidVersion) as exc:
        raise InputError(f"cannot tell the version of pip in {target.pip_dir}: {exc}") from exc
    if version < MIN_PIP:
        raise InputError(
            f"pip {version} in {target.python} is too old; safe-pip needs pip {MIN_PIP} or "
            f"newer ({target.python} -m pip install -U pip)"
        )
    try:
        return load_grammar(target.pip_dir)
    except PipGrammarError as exc:
        raise InputError(f"cannot read the option grammar of {target.pip_dir}: {exc}") from exc


# --- settings in pip's order --------------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    option: OptionSpec
    value: Any
    """``str`` for options with a value; ``bool``/``int`` from configuration; ``None`` for a
    flag on the command line."""
    origin: str


_TRUE = frozenset(["y", "yes", "t", "true", "on", "1"])
_FALSE = frozenset(["n", "no", "f", "false", "off", "0"])


def _strtobool(value: str, origin: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError(f"{origin}: {value!r} is not a boolean (pip refuses it too)")


def _config_settings(
    grammar: PipGrammar, target: PipTarget, environ: Mapping[str, str], isolated: bool
) -> list[_Setting]:
    """Configuration values as pip turns them into option defaults (``_update_defaults``)."""
    by_long = {n[2:]: o for o in grammar.command("install") for n in o.names if n.startswith("--")}
    out: list[_Setting] = []
    try:
        values = list(
            pip_config.config_values("install", target.prefix, environ, isolated=isolated)
        )
    except pip_config.ConfigError as exc:
        raise InputError(str(exc)) from exc
    for cv in values:
        opt = by_long.get(cv.key)
        if opt is None:
            continue  # pip ignores keys that are not options of this command
        if opt.action in ("store_true", "store_false"):
            out.append(_Setting(opt, _strtobool(cv.value, cv.origin), cv.origin))
        elif opt.action == "count":
            low = cv.value.lower()
            if low in _TRUE | _FALSE:
                count: int = int(low in _TRUE)
            elif cv.value.isdigit():
                count = int(cv.value)
            else:
                raise InputError(f"{cv.origin}: {cv.value!r} is not a count")
            out.append(_Setting(opt, count, cv.origin))
        elif opt.action == "append":
            out += [_Setting(opt, v, cv.origin) for v in cv.value.split()]
        else:
            out.append(_Setting(opt, cv.value, cv.origin))
    return out


# --- what each option means --------------------------------------------------------------

_NO_EFFECT = frozenset(
    [
        # output, caches and prompts: nothing about what is installed
        "verbose", "quiet", "log", "no_input", "progress_bar", "no_color",
        "disable_pip_version_check", "debug_mode", "isolated_mode", "no_python_version_warning",
        "cache_dir", "exists_action", "resume_retries", "version",
        # pip's own feature switches and build plumbing (safe-pip builds in isolation itself)
        "features_enabled", "deprecated_features_enabled", "src_dir", "no_clean",
        "build_isolation", "use_pep517", "check_build_deps", "refresh_package",
    ]
)  # fmt: skip
_REFUSED = {
    "requirements_from_scripts": "reads a script's inline metadata",
    "dependency_groups": "reads dependency groups from a project file",
    "only_dependencies": "installs only the dependencies of what it names",
    "install_options": "passes options to setup.py",
}
_INSTALL_FLAGS = {
    # dest -> (flag when true, flag when false)
    "use_user_site": ("--user", None),
    "compile": (None, "--no-compile"),
    "warn_script_location": (None, "--no-warn-script-location"),
    "warn_about_conflicts": (None, "--no-warn-conflicts"),
    "override_externally_managed": ("--break-system-packages", None),
    "force_reinstall": ("--force-reinstall", None),
    "ignore_installed": ("--ignore-installed", None),
    "upgrade": ("--upgrade", None),
}
_INSTALL_VALUES = {
    "target_dir": "--target",
    "prefix_path": "--prefix",
    "root_path": "--root",
    "root_user_action": "--root-user-action",
}


class _State:
    """The option values pip ends up with, folded in pip's order, with origins."""

    def __init__(self, grammar: PipGrammar) -> None:
        self.grammar = grammar
        self.values: dict[str, Any] = {}
        self.origins: dict[str, str] = {}
        self.lists: dict[str, list[tuple[str, str]]] = {}
        self.no_binary: set[str] = set()
        self.only_binary: set[str] = set()
        self.all_releases: set[str] = set()
        self.only_final: set[str] = set()

    def apply(self, s: _Setting) -> None:
        opt, dest = s.option, s.option.dest
        if dest in _REFUSED:
            raise InputError(
                f"{s.origin}: pip's {opt.long_name} {_REFUSED[dest]}; safe-pip cannot vet "
                "that input yet, so it refuses the install"
            )
        if dest == "format_control":
            self._format(opt, str(s.value), s.origin)
        elif dest == "release_control":
            self._releases(opt, str(s.value), s.origin)
        elif dest == "hashes":
            raise InputError(f"{s.origin}: --hash belongs on a requirement-file line")
        elif opt.action == "append" or dest in (
            "config_settings",
            "global_options",
            "build_options",
            "platforms",
            "abis",
        ):
            self.lists.setdefault(dest, []).append((str(s.value), s.origin))
        elif opt.action in ("store_true", "store_false"):
            value = s.value if isinstance(s.value, bool) else opt.action == "store_true"
            self.values[dest], self.origins[dest] = value, s.origin
        elif opt.action == "count":
            add = s.value if isinstance(s.value, int) else 1
            self.values[dest] = (self.values.get(dest, 0) if s.value is None else 0) + add
        elif opt.action == "callback" and not opt.takes_value:
            self.values[dest], self.origins[dest] = True, s.origin  # e.g. --no-cache-dir
        else:
            self.values[dest], self.origins[dest] = s.value, s.origin

    def _format(self, opt: OptionSpec, value: str, origin: str) -> None:
        """pip's --no-binary/--only-binary rule: each names a set, the other loses them."""
        if value.startswith("-"):
            raise InputError(f"{origin}: {opt.long_name} needs a value, got {value!r}")
        target, other = (
            (self.no_binary, self.only_binary)
            if opt.long_name == "--no-binary"
            else (self.only_binary, self.no_binary)
        )
        names = value.split(",")
        while ":all:" in names:
            other.clear()
            target.clear()
            target.add(":all:")
            names = names[names.index(":all:") + 1 :]
            if ":none:" not in names:
                return
        for name in names:
            if name == ":none:":
                target.clear()
                continue
            canon = canonicalize_name(name)
            other.discard(canon)
            target.add(canon)

    def _releases(self, opt: OptionSpec, value: str, origin: str) -> None:
        target, other = (
            (self.all_releases, self.only_final)
            if opt.long_name == "--all-releases"
            else (self.only_final, self.all_releases)
        )
        for name in value.split(","):
            if name == ":none:":
                target.clear()
                continue
            canon = name if name == ":all:" else canonicalize_name(name)
            if canon == ":all:":
                other.clear()
                target.clear()
            other.discard(canon)
            target.add(canon)

    def flag(self, dest: str) -> bool:
        return bool(self.values.get(dest, False))

    def text(self, dest: str) -> str | None:
        value = self.values.get(dest)
        return None if value is None else str(value)

    def items(self, dest: str) -> list[tuple[str, str]]:
        return self.lists.get(dest, [])


def _known_dests() -> frozenset[str]:
    return frozenset(
        [
            *_NO_EFFECT, *_INSTALL_FLAGS, *_INSTALL_VALUES, "requirements", "constraints",
            "editables", "build_constraints", "index_url", "extra_index_urls", "no_index",
            "find_links", "trusted_hosts", "cert", "client_cert", "proxy", "timeout", "retries",
            "keyring_provider", "no_proxy_env", "pre", "upgrade_strategy", "ignore_dependencies",
            "prefer_binary", "require_hashes", "no_require_hashes", "format_control",
            "release_control", "ignore_requires_python", "python_version", "platforms", "abis",
            "implementation", "uploaded_prior_to", "config_settings", "global_options",
            "build_options", "dry_run", "json_report_file", "python", "require_venv", "help",
            "hashes", *_REFUSED,
        ]
    )  # fmt: skip


KNOWN_DESTS = _known_dests()


# --- requirements ---------------------------------------------------------------------------

ARCHIVE_SUFFIXES = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar", ".tar.xz",
                    ".txz", ".tlz", ".tar.lz", ".tar.lzma")  # fmt: skip
"""File names pip takes for an archive (a wheel, or a source archive it would build)."""
_VCS = ("git", "hg", "svn", "bzr")


def _scheme(text: str) -> str | None:
    return text.split(":", 1)[0].lower() if ":" in text else None


def _is_url(text: str) -> bool:
    scheme = _scheme(text)
    if scheme is None:
        return False
    return scheme in ("http", "https", "file", "ftp") or scheme.split("+", 1)[0] in _VCS


def _looks_like_path(text: str) -> bool:
    return os.sep in text or bool(os.altsep and os.altsep in text) or text.startswith(".")


def _strip_extras(text: str) -> tuple[str, str]:
    if text.endswith("]") and "[" in text:
        head, _, tail = text.rpartition("[")
        return head, "[" + tail
    return text, ""


def _url_path(url: str) -> str:
    """The path part of a URL, unquoted: what the file *is* (never its query or fragment)."""
    return unquote(urlsplit(url).path)


def _file_path(url: str, origin: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InputError(f"{origin}: {url} is a file URL on another host")
    return Path(url2pathname(unquote(parts.path)))


@dataclass(frozen=True)
class _Link:
    url: str
    local: Path | None


def _link_input(
    link: _Link, req: Requirement | None, origin: str, *, editable: bool
) -> RequirementInput:
    """A direct reference: one wheel, or something that needs a build."""
    scheme = _scheme(link.url) or ""
    if scheme.split("+", 1)[0] in _VCS and ("+" in scheme or scheme in _VCS):
        raise InputError(
            f"{origin}: {link.url} is a version-control checkout; safe-pip builds only local "
            "trees and files it can hash, so check it out and name the folder"
        )
    name_path = str(link.local) if link.local is not None else _url_path(link.url)
    base = name_path.rstrip("/").rsplit("/", 1)[-1]
    if link.local is not None and link.local.is_dir():
        if not editable and not (
            (link.local / "pyproject.toml").is_file() or (link.local / "setup.py").is_file()
        ):
            raise InputError(f"{origin}: {link.local} is not an installable project folder")
        return RequirementInput(
            req, origin, editable=editable, local_path=str(link.local), kind="local-tree",
            url=link.url,
        )  # fmt: skip
    if editable:
        raise InputError(f"{origin}: -e needs a local project folder, not {link.url}")
    if base.lower().endswith(".whl"):
        try:
            wname, wversion, _b, _t = parse_wheel_filename(base)
        except InvalidWheelFilename as exc:
            raise InputError(f"{origin}: {base} is not a valid wheel file name: {exc}") from exc
        if req is None:
            req = Requirement(f"{wname}=={wversion}")
        elif canonicalize_name(req.name) != wname:
            raise InputError(f"{origin}: {req.name} names the wheel {base} of another project")
        kind: RequirementKind = "wheel-file" if link.local is not None else "wheel-url"
        local = str(link.local) if link.local is not None else None
        return RequirementInput(req, origin, local_path=local, kind=kind, url=link.url)
    if not base.lower().endswith(ARCHIVE_SUFFIXES) and link.local is None:
        raise InputError(
            f"{origin}: {link.url} is not a wheel or a source archive safe-pip recognises"
        )
    kind = "sdist-file" if link.local is not None else "sdist-url"
    local = str(link.local) if link.local is not None else None
    return RequirementInput(req, origin, local_path=local, kind=kind, url=link.url)


def requirement_input(
    text: str,
    origin: str,
    *,
    editable: bool = False,
    cwd: Path,
    hashes: Iterable[str] = (),
    config_settings: Iterable[str] = (),
) -> RequirementInput:
    """One requirement as pip would take it: a name, a URL, a path, or ``name @ URL``."""
    result = _requirement_input(text.strip(), origin, editable=editable, cwd=cwd)
    return replace(
        result,
        hashes=frozenset(_hash_values(hashes, origin)),
        config_settings=tuple(config_settings),
    )


def _requirement_input(text: str, origin: str, *, editable: bool, cwd: Path) -> RequirementInput:
    if editable:
        path_text, extras = _strip_extras(text)
        if _is_url(path_text) and _scheme(path_text) != "file":
            return _link_input(_Link(path_text, None), None, origin, editable=True)
        path = (
            _file_path(path_text, origin)
            if _scheme(path_text) == "file"
            else cwd / os.path.expanduser(path_text)
        )
        path = Path(os.path.abspath(path))
        req = _named_from_extras(extras, origin)
        return _link_input(_Link(path.as_uri(), path), req, origin, editable=True)
    marker_sep = "; " if _is_url(text) else ";"
    head, _, marker = text.partition(marker_sep)
    if _is_url(head):
        link = _Link(head.strip(), _file_path(head, origin) if _scheme(head) == "file" else None)
        return _link_input(link, _named_with_marker(None, marker, origin), origin, editable=False)
    path_text, extras = _strip_extras(head.strip())
    local = _local_from_path(path_text, head.strip(), cwd, origin)
    if local is not None:
        req = _named_from_extras(extras, origin, marker)
        return _link_input(_Link(local.as_uri(), local), req, origin, editable=False)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"{origin}: not a requirement pip and safe-pip read alike: {exc}") from exc
    if req.url is None:
        return RequirementInput(req, origin)
    url = req.url
    local_file = _file_path(url, origin) if _scheme(url) == "file" else None
    return _link_input(_Link(url, local_file), req, origin, editable=False)


def _local_from_path(path_text: str, whole: str, cwd: Path, origin: str) -> Path | None:
    """pip's rule for an argument that is a path rather than a name (``_get_url_from_path``)."""
    path = Path(os.path.abspath(cwd / os.path.expanduser(path_text)))
    if _looks_like_path(whole) and path.is_dir():
        return path
    if not path_text.lower().endswith(ARCHIVE_SUFFIXES):
        return None
    if path.is_file():
        return path
    at = whole.split("@", 1)
    if len(at) >= 2 and not _looks_like_path(at[0]):
        return None  # ``name@...``: a PEP 508 requirement, not a file name
    return path


def _named_from_extras(extras: str, origin: str, marker: str = "") -> Requirement | None:
    """A nameless local requirement keeps its extras and marker for the build stage."""
    if not extras and not marker.strip():
        return None
    # The project name is unknown until built; a placeholder carries extras and marker.
    return _named_with_marker(Requirement(f"UNKNOWN{extras}"), marker, origin)


def _named_with_marker(req: Requirement | None, marker: str, origin: str) -> Requirement | None:
    if not marker.strip():
        return req
    try:
        base = str(req) if req is not None else "UNKNOWN"
        return Requirement(f"{base}; {marker.strip()}")
    except InvalidRequirement as exc:
        raise InputError(f"{origin}: invalid marker {marker!r}: {exc}") from exc


_STRONG = ("sha256", "sha384", "sha512")


def _hash_values(values: Iterable[str], origin: str) -> list[str]:
    out = []
    for value in values:
        algo, sep, digest = value.partition(":")
        if not sep or algo not in _STRONG or not digest:
            raise InputError(
                f"{origin}: --hash {value!r} must be ALGORITHM:DIGEST with one of "
                f"{', '.join(_STRONG)}"
            )
        out.append(f"{algo}:{digest.lower()}")
    return out


# --- putting it together ------------------------------------------------------------------


@dataclass
class _Reading:
    grammar: PipGrammar
    cwd: Path
    environ: Mapping[str, str]
    state: _State
    requirements: list[RequirementInput] = field(default_factory=list)
    constraints: list[RequirementInput] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    no_index: bool = False
    sources: list[str] = field(default_factory=list)


def _line_options(line: req_files.FileLine, dest: str) -> list[str]:
    return [str(o.value) for o in line.options if o.option.dest == dest]


def _read_file(reading: _Reading, location: str, origin: str, *, constraint: bool) -> None:
    reading.sources.append(f"{location} ({origin})")
    try:
        lines = list(
            req_files.read_file(location, reading.grammar, reading.environ, constraint=constraint)
        )
    except req_files.RequirementFileError as exc:
        raise InputError(str(exc)) from exc
    for line in lines:
        state = reading.state
        for occ in line.options:  # pip's format/release callbacks act on every line
            if occ.option.dest in ("format_control", "release_control"):
                state.apply(_Setting(occ.option, occ.value, line.origin))
        if line.requirement is not None:
            _file_requirement(reading, line)
        else:
            _file_options(reading, line)


def _file_requirement(reading: _Reading, line: req_files.FileLine) -> None:
    scoped = (
        reading.grammar.editable_line_dests if line.editable else reading.grammar.req_line_dests
    )
    if "global_options" in scoped and _line_options(line, "global_options"):
        raise InputError(f"{line.origin}: --global-option passes options to setup.py")
    assert line.requirement is not None
    item = requirement_input(
        line.requirement,
        line.origin,
        editable=line.editable,
        cwd=reading.cwd,
        hashes=_line_options(line, "hashes") if "hashes" in scoped else (),
        config_settings=_line_options(line, "config_settings")
        if "config_settings" in scoped
        else (),
    )
    if line.constraint:
        reading.constraints.append(_as_constraint(item))
    else:
        reading.requirements.append(item)


def _file_options(reading: _Reading, line: req_files.FileLine) -> None:
    """An option line changes the run's settings (pip's ``handle_option_line``)."""
    state = reading.state
    for occ in line.options:
        dest = occ.option.dest
        if dest == "require_hashes":
            state.values["require_hashes"], state.origins["require_hashes"] = True, line.origin
        elif dest == "no_require_hashes":
            state.values["no_require_hashes"] = True
        elif dest in ("pre", "prefer_binary"):
            state.values[dest], state.origins[dest] = True, line.origin
    if any(o.option.dest == "no_index" for o in line.options):
        reading.no_index = True
        reading.index_urls = []
    index = _line_options(line, "index_url")
    if index and not reading.no_index:
        reading.index_urls = [index[-1]]
    extra = _line_options(line, "extra_index_urls")
    if extra and not reading.no_index:
        reading.index_urls.extend(extra)
    links = _line_options(line, "find_links")
    if links:
        relative = os.path.join(os.path.dirname(os.path.abspath(line.path)), links[0])
        reading.find_links.append(relative if os.path.exists(relative) else links[0])
    reading.trusted_hosts.extend(_line_options(line, "trusted_hosts"))


def _as_constraint(item: RequirementInput) -> RequirementInput:
    if item.editable or item.kind != "name" or item.requirement is None:
        raise InputError(
            f"{item.origin}: a constraint must be a name with a version range; "
            f"{item.url or 'an editable'} would make pip fetch or build it"
        )
    return item


def read_inputs(
    args: Sequence[str],
    *,
    python: Path,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    target: PipTarget | None = None,
) -> InstallRequest:
    """Read ``pip install ARGS`` and everything pip would read with it, for ``python``.

    ``environ`` defaults to this process's environment (``PIP_*``, ``HOME``, ``XDG_*``,
    ``${VAR}`` in requirement files); ``cwd`` to the working directory. Raises
    :class:`InputError` for anything that cannot be represented exactly.
    """
    env = dict(os.environ if environ is None else environ)
    here = Path(os.path.abspath(cwd or os.getcwd()))
    target = target or probe_target(python)
    grammar = grammar_for(target)
    try:
        parsed = parse_options(args, grammar.command("install"))
    except PipGrammarError as exc:
        raise InputError(f"pip install arguments: {exc}") from exc
    if parsed.stopped_at_help:
        raise InputError("pip install --help asks for pip's help, not an install; run pip for it")
    pip_python = _pip_python(parsed, env)
    if pip_python is not None and Path(pip_python) != python:
        target = replace(probe_target(Path(pip_python)), pip_dir=target.pip_dir)
    cli = [_Setting(o.option, o.value, "command line") for o in parsed.occurrences]
    isolated = "--isolated" in args
    settings = [*_config_settings(grammar, target, env, isolated), *cli]
    for s in settings:
        if s.option.dest not in KNOWN_DESTS:
            raise InputError(
                f"{s.origin}: pip's {s.option.long_name} is an option safe-pip does not model; "
                "it refuses rather than guess what it changes"
            )
    state = _State(grammar)
    for s in settings:
        state.apply(s)
    return _finish(state, parsed.positionals, grammar, target, here, env, pip_python)


def _pip_python(parsed: Any, env: Mapping[str, str]) -> str | None:
    values = [str(o.value) for o in parsed.occurrences if o.option.dest == "python"]
    if not values or "_PIP_RUNNING_IN_SUBPROCESS" in env:
        return None
    path = Path(values[-1])
    if path.is_dir():
        for exe in ("bin/python", "Scripts/python.exe"):
            if (path / exe).exists():
                return str(path / exe)
    if not path.exists():
        raise InputError(f"command line: pip's --python {values[-1]}: no such interpreter")
    return str(path)


def _finish(
    state: _State,
    positionals: Sequence[str],
    grammar: PipGrammar,
    target: PipTarget,
    cwd: Path,
    env: Mapping[str, str],
    pip_python: str | None,
) -> InstallRequest:
    if state.flag("require_venv") and not target.is_venv:
        raise InputError(
            f"{state.origins.get('require_venv', 'pip')}: --require-virtualenv, and "
            f"{target.python} is not in a virtual environment"
        )
    primary = state.text("index_url") or grammar.default_index_url
    reading = _Reading(grammar, cwd, env, state)
    reading.no_index = state.flag("no_index")
    if not reading.no_index:
        reading.index_urls = [u for u in [primary] if u] + [
            v for v, _ in state.items("extra_index_urls")
        ]
    reading.find_links = [v for v, _ in state.items("find_links")]
    reading.trusted_hosts = [v for v, _ in state.items("trusted_hosts")]
    for value, origin in state.items("constraints"):
        _read_file(reading, value, origin, constraint=True)
    for text in positionals:
        reading.requirements.append(requirement_input(text, "command line", cwd=cwd))
    for value, origin in state.items("editables"):
        reading.requirements.append(requirement_input(value, origin, editable=True, cwd=cwd))
    for value, origin in state.items("requirements"):
        _read_file(reading, value, origin, constraint=False)
    index = IndexSettings(
        index_url=reading.index_urls[0] if reading.index_urls else None,
        extra_index_urls=tuple(reading.index_urls[1:]),
        find_links=tuple(reading.find_links),
        no_index=reading.no_index,
        trusted_hosts=tuple(reading.trusted_hosts),
        cert=state.text("cert"),
        client_cert=state.text("client_cert"),
        proxy=state.text("proxy"),
        timeout=_number(state, "timeout", float),
        retries=_number(state, "retries", int),
        keyring_provider=state.text("keyring_provider"),
        ignore_proxy_env=state.flag("no_proxy_env"),
    )
    all_releases = frozenset(state.all_releases)
    options = ResolveOptions(
        pre=state.flag("pre") or ":all:" in all_releases,
        upgrade=state.flag("upgrade"),
        upgrade_strategy=state.text("upgrade_strategy") or "only-if-needed",
        force_reinstall=state.flag("force_reinstall"),
        ignore_installed=state.flag("ignore_installed"),
        no_deps=state.flag("ignore_dependencies"),
        prefer_binary=state.flag("prefer_binary"),
        require_hashes=state.flag("require_hashes") and not state.flag("no_require_hashes"),
        no_binary=frozenset(state.no_binary),
        only_binary=frozenset(state.only_binary),
        ignore_requires_python=state.flag("ignore_requires_python"),
        python_version=state.text("python_version"),
        platforms=tuple(v for v, _ in state.items("platforms")),
        abis=tuple(v for v, _ in state.items("abis")),
        implementation=state.text("implementation"),
        prerelease_names=all_releases - {":all:"},
        final_only_names=frozenset(state.only_final),
        uploaded_prior_to=state.text("uploaded_prior_to"),
    )
    if state.items("global_options") or state.items("build_options"):
        origin = (state.items("global_options") or state.items("build_options"))[0][1]
        raise InputError(f"{origin}: --global-option/--build-option pass options to setup.py")
    settings = tuple(v for v, _ in state.items("config_settings"))
    requirements = tuple(
        replace(r, config_settings=(*settings, *r.config_settings)) if r.needs_build else r
        for r in reading.requirements
    )
    return InstallRequest(
        requirements=requirements,
        constraints=tuple(reading.constraints),
        index=index,
        options=options,
        install_args=_install_args(state),
        placement=Placement(
            target_dir=state.text("target_dir"),
            prefix=state.text("prefix_path"),
            root=state.text("root_path"),
            user=state.flag("use_user_site"),
        ),
        python=pip_python,
        dry_run=state.flag("dry_run"),
        pip_report=state.text("json_report_file"),
        build_constraints=tuple(v for v, _ in state.items("build_constraints")),
        pip_version=grammar.pip_version,
        sources=tuple(reading.sources),
    )


def _number(state: _State, dest: str, kind: type[float] | type[int]) -> Any:
    value = state.text(dest)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"{state.origins.get(dest, 'pip')}: {value!r} is not a number") from None


def _install_args(state: _State) -> tuple[str, ...]:
    """Placement and behaviour options for the final pip, in canonical spelling."""
    args: list[str] = []
    for dest, (when_true, when_false) in _INSTALL_FLAGS.items():
        if dest not in state.values:
            continue
        flag = when_true if state.values[dest] else when_false
        if flag:
            args.append(flag)
    for dest, option in _INSTALL_VALUES.items():
        value = state.text(dest)
        if value is not None:
            args += [option, value]
    return tuple(args)


def describe(request: InstallRequest) -> dict[str, Any]:
    """A plain summary of the request for reports and ``--debug`` output."""
    return {
        "requirements": [
            {"requirement": str(r.requirement) if r.requirement else None, "kind": r.kind,
             "origin": r.origin, "editable": r.editable, "path": r.local_path}
            for r in request.requirements
        ],
        "constraints": [str(c.requirement) for c in request.constraints],
        "index_urls": list(request.index.index_urls),
        "find_links": list(request.index.find_links),
        "pip_version": request.pip_version,
        "sources": list(request.sources),
    }  # fmt: skip


__all__ = [
    "IndexSettings",
    "InputError",
    "InstallRequest",
    "PipTarget",
    "Placement",
    "RequirementInput",
    "ResolveOptions",
    "describe",
    "probe_target",
    "read_inputs",
    "requirement_input",
]
