"""Resolve: ask the *target* interpreter's pip what it would install, without installing.

safe-pip never re-implements pip's resolver (markers, extras, constraints, the
user's pip configuration all stay pip's business).  It runs
``python -m pip install --dry-run --report FILE`` once with the user's own
arguments, binary-only unless the policy allows sdists, because building an
sdist to read its metadata runs its ``setup.py``.  The report is treated as
untrusted metadata: it names files and the hashes the index *claims*; the
bytes are fetched and hashed later by :mod:`safe_pip.fetch`.

pip's debug log (``--log``) is read for one fact the report lacks: which index
page each file was found on, needed for the upload-time (cooldown) and index
allowlist checks.  If the log cannot be read, those checks see "unknown" and
fail closed.

Any resolver failure raises :class:`ResolveError` (exit 2, nothing installed):
unlike DataDog's scfw, a failed dry run never falls through to a real install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.errors import SafePipError

MIN_PIP = Version("22.2")
"""First pip with ``--dry-run --report`` (the report format is stable since 23.0)."""

RESOLVE_TIMEOUT = 1800.0


class ResolveError(SafePipError):
    """pip could not resolve (or could not be run); nothing is installed."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


# --- pip's command line --------------------------------------------------------------------

# pip install options that take a value (so the value is not mistaken for a requirement).
_VALUE_OPTS = frozenset(
    [
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--proxy",
        "--timeout",
        "--retries",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--src",
        "--upgrade-strategy",
        "--no-binary",
        "--only-binary",
        "--progress-bar",
        "--log",
        "--log-file",
        "--exists-action",
        "--global-option",
        "--config-settings",
        "-C",
        "--keyring-provider",
        "--root-user-action",
        "--use-feature",
        "--use-deprecated",
        "--build-constraint",
        "--group",
        "--cache-dir",
        "--uploaded-prior-to",
        "--resume-retries",
        "--excludes-newer-than",
    ]
)
# Options that change where or how files are installed: repeated in the final install call.
_INSTALL_VALUE_OPTS = frozenset(
    [
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--root-user-action",
        "--exists-action",
    ]
)
_INSTALL_FLAGS = frozenset(
    [
        "--user",
        "-U",
        "--upgrade",
        "--force-reinstall",
        "-I",
        "--ignore-installed",
        "--no-compile",
        "--compile",
        "--no-warn-script-location",
        "--no-warn-conflicts",
        "--break-system-packages",
        "--isolated",
        "--no-cache-dir",
        "-v",
        "--verbose",
        "-q",
        "--quiet",
        "--no-input",
    ]
)
# Options safe-pip must own; a user copy would break the guarantees.
_REFUSED = {
    "--report": "safe-pip writes pip's report itself; use safe-pip's --report FILE",
    "--require-virtualenv": "",
}


@dataclass(frozen=True)
class PipArgs:
    """The user's pip arguments, split by where they are used."""

    resolve: tuple[str, ...]
    """Everything, as the user wrote it: passed to the dry run."""
    install: tuple[str, ...]
    """Install-location and behaviour options repeated in the final install call."""
    requirement_files: tuple[Path, ...]
    editables: tuple[str, ...]
    requirements: tuple[str, ...]
    """Positional requirement specifiers (names, paths, URLs)."""
    index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    no_index: bool
    cert: str | None
    client_cert: str | None
    trusted_hosts: tuple[str, ...]
    proxy: str | None


def _split_opt(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
        return name, value
    return arg, None


def parse_pip_args(args: Sequence[str]) -> PipArgs:
    """Split pip install arguments without interpreting requirement semantics.

    Raises :class:`SafePipError` for options safe-pip must own.
    """
    resolve: list[str] = []
    install: list[str] = []
    req_files: list[Path] = []
    editables: list[str] = []
    reqs: list[str] = []
    index_urls: list[str] = []
    find_links: list[str] = []
    trusted: list[str] = []
    no_index = False
    cert = client_cert = proxy = None
    i = 0
    items = list(args)
    while i < len(items):
        arg = items[i]
        i += 1
        if arg == "--":
            resolve.append(arg)
            reqs.extend(items[i:])
            resolve.extend(items[i:])
            break
        if not arg.startswith("-") or arg == "-":
            reqs.append(arg)
            resolve.append(arg)
            continue
        name, value = _split_opt(arg)
        short_value: str | None = None
        if value is None and len(name) > 2 and name[1] != "-" and name[:2] in _VALUE_OPTS:
            name, short_value = name[:2], name[2:]  # -rreq.txt
            value = short_value
        if name in _REFUSED:
            raise SafePipError(f"pip option {name} is not supported: {_REFUSED[name]}".rstrip(": "))
        if name in _VALUE_OPTS:
            if value is None:
                if i >= len(items):
                    raise SafePipError(f"pip option {name} needs a value")
                value = items[i]
                i += 1
            resolve += [name, value]
            if name in _INSTALL_VALUE_OPTS:
                install += [name, value]
            if name in ("-r", "--requirement"):
                req_files.append(Path(value))
            elif name in ("-e", "--editable"):
                editables.append(value)
            elif name in ("-i", "--index-url"):
                index_urls.insert(0, value)
            elif name == "--extra-index-url":
                index_urls.append(value)
            elif name in ("-f", "--find-links"):
                find_links.append(value)
            elif name == "--trusted-host":
                trusted.append(value)
            elif name == "--cert":
                cert = value
            elif name == "--client-cert":
                client_cert = value
            elif name == "--proxy":
                proxy = value
            continue
        resolve.append(arg)
        if name == "--no-index":
            no_index = True
        if name in _INSTALL_FLAGS or re.fullmatch(r"-[vq]+", name):
            install.append(arg)
    return PipArgs(
        resolve=tuple(resolve),
        install=tuple(install),
        requirement_files=tuple(req_files),
        editables=tuple(editables),
        requirements=tuple(reqs),
        index_urls=tuple(index_urls),
        find_links=tuple(find_links),
        no_index=no_index,
        cert=cert,
        client_cert=client_cert,
        trusted_hosts=tuple(trusted),
        proxy=proxy,
    )


def is_local_build(spec: str) -> bool:
    """Does this requirement point at something pip would have to *build* (run code)?

    Paths and URLs that are not wheels (source trees, sdists, VCS URLs) are
    built even under ``--only-binary :all:``, so they are refused before pip
    ever sees them unless the policy allows sdists.
    """
    s = spec.strip()
    if " @ " in s:
        s = s.split(" @ ", 1)[1].strip()
    s = s.split(";", 1)[0].strip().split("#", 1)[0]
    lowered = s.lower()
    if re.match(r"^(git|hg|svn|bzr)\+", lowered):
        return True
    looks_like_location = (
        "/" in s or "\\" in s or lowered.startswith(("file:", "http:", "https:")) or s == "."
    )
    if not looks_like_location and not os.path.exists(s):
        return False
    return not lowered.endswith(".whl")


# --- the target's pip ------------------------------------------------------------------------


def pip_version(python: Path, *, env: Mapping[str, str] | None = None) -> Version:
    """The version of pip that ``python -m pip`` runs, read from package metadata (fast)."""
    code = "import importlib.metadata as m; print(m.version('pip'))"
    try:
        out = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, env=env
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ResolveError(f"cannot run the target interpreter {python}: {exc}") from exc
    text = out.stdout.strip()
    if out.returncode != 0 or not text:
        # Fall back to asking pip itself (metadata may be missing on odd installs).
        try:
            out = subprocess.run(
                [str(python), "-I", "-m", "pip", "--version"],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ResolveError(f"cannot run pip with {python}: {exc}") from exc
        match = re.match(r"pip (\S+)", out.stdout)
        if out.returncode != 0 or match is None:
            raise ResolveError(
                f"{python} has no usable pip (python -m pip --version failed); "
                "install pip into the target environment first",
                stderr=out.stderr,
            )
        text = match.group(1)
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ResolveError(f"cannot understand the pip version {text!r} of {python}") from exc


def check_pip_version(version: Version, python: Path) -> None:
    if version < MIN_PIP:
        raise ResolveError(
            f"pip {version} in {python} is too old: safe-pip needs pip >= {MIN_PIP} for "
            f"'pip install --dry-run --report'. Upgrade it with: {python} -m pip install "
            f"--upgrade 'pip>={MIN_PIP}'"
        )


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """One entry of pip's installation report."""

    name: str
    """Canonical (PEP 503) project name."""
    version: str
    url: str
    filename: str
    kind: str
    """``wheel``, ``sdist``, ``dir`` (local source tree) or ``vcs``."""
    advertised_sha256: str | None
    requested: bool
    is_direct: bool
    is_yanked: bool
    page_url: str | None = None
    """The index page (or find-links location) pip found the file on, from its log."""
    display_name: str = ""

    @property
    def is_local_file(self) -> bool:
        return self.url.startswith("file:")


@dataclass(frozen=True)
class Resolution:
    items: tuple[Resolved, ...]
    pip_version: str
    environment: dict[str, str] = field(default_factory=dict)
    index_urls: tuple[str, ...] = ()
    """Indexes pip said it looked in (redacted), in order; empty means pip's default."""
    find_links: tuple[str, ...] = ()


def _filename_of(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def parse_report(report: Mapping[str, object], log_text: str = "") -> Resolution:
    """Turn pip's report (plus its debug log) into :class:`Resolved` items."""
    if str(report.get("version")) != "1":
        raise ResolveError(f"unsupported pip report version {report.get('version')!r}")
    pages = _pages_from_log(log_text)
    items: list[Resolved] = []
    raw_items = report.get("install")
    if not isinstance(raw_items, list):
        raise ResolveError("pip's report has no 'install' list")
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise ResolveError("malformed entry in pip's report")
        meta = raw.get("metadata") or {}
        info = raw.get("download_info") or {}
        url = str(info.get("url") or "")
        name = str(meta.get("name") or "")
        version = str(meta.get("version") or "")
        if not url or not name or not version:
            raise ResolveError(f"pip's report lacks a name, version or url: {raw!r:.200}")
        filename = _filename_of(url)
        if "vcs_info" in info:
            kind = "vcs"
        elif "dir_info" in info:
            kind = "dir"
        elif filename.endswith(".whl"):
            kind = "wheel"
        else:
            kind = "sdist"
        hashes = (info.get("archive_info") or {}).get("hashes") or {}
        sha = hashes.get("sha256")
        if sha is None:
            legacy = (info.get("archive_info") or {}).get("hash") or ""
            if legacy.startswith("sha256="):
                sha = legacy.split("=", 1)[1]
        items.append(
            Resolved(
                name=canonicalize_name(name),
                display_name=name,
                version=version,
                url=url,
                filename=filename,
                kind=kind,
                advertised_sha256=sha.lower() if isinstance(sha, str) else None,
                requested=bool(raw.get("requested", False)),
                is_direct=bool(raw.get("is_direct", False)),
                is_yanked=bool(raw.get("is_yanked", False)),
                page_url=pages.get(url.split("#", 1)[0]),
            )
        )
    env = report.get("environment")
    indexes, links = _locations_from_log(log_text)
    return Resolution(
        items=tuple(items),
        pip_version=str(report.get("pip_version", "")),
        environment={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
        index_urls=indexes,
        find_links=links,
    )


_FOUND = re.compile(r"Found link (\S+) \(from (.+?)\)(?:, version|$)")


def _pages_from_log(text: str) -> dict[str, str]:
    pages: dict[str, str] = {}
    for match in _FOUND.finditer(text):
        pages.setdefault(match.group(1).split("#", 1)[0], match.group(2).strip())
    return pages


def _locations_from_log(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    indexes: list[str] = []
    links: list[str] = []
    for line in text.splitlines():
        if "Looking in indexes: " in line and not indexes:
            indexes = [u.strip() for u in line.split("Looking in indexes: ", 1)[1].split(",")]
        elif "Looking in links: " in line and not links:
            links = [u.strip() for u in line.split("Looking in links: ", 1)[1].split(",")]
    return tuple(u for u in indexes if u), tuple(u for u in links if u)


# --- running the dry run -----------------------------------------------------------------------

_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
HASH_FAILURE = "DO NOT MATCH THE HASHES"


def resolve(
    python: Path,
    pip_args: PipArgs,
    *,
    allow_sdist: bool,
    env: Mapping[str, str] | None = None,
    timeout: float = RESOLVE_TIMEOUT,
) -> Resolution:
    """Run the dry run and parse its report.  Raises :class:`ResolveError` on any failure."""
    with tempfile.TemporaryDirectory(prefix="safe-pip-resolve-") as tmp:
        report_path = Path(tmp) / "report.json"
        log_path = Path(tmp) / "pip.log"
        # Our options go last (before any "--") so they win over the user's and pip's config.
        ours = ["--dry-run", "--quiet", "--report", str(report_path), "--log", str(log_path)]
        if not allow_sdist:
            ours += ["--only-binary", ":all:"]
        user = list(pip_args.resolve)
        split = user.index("--") if "--" in user else len(user)
        cmd = [str(python), "-I", "-m", "pip", "install", *user[:split], *ours, *user[split:]]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise ResolveError(f"pip's resolver did not finish within {timeout:.0f}s") from exc
        except OSError as exc:
            raise ResolveError(f"cannot run pip with {python}: {exc}") from exc
        log_text = (
            log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        )
        if proc.returncode != 0:
            detail = last_error(proc.stderr or proc.stdout)
            raise ResolveError(
                f"pip could not resolve the requirements (exit {proc.returncode}): {detail}",
                stderr=proc.stderr,
            )
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResolveError(f"pip wrote no readable report: {exc}") from exc
    if not isinstance(report, dict):
        raise ResolveError("pip's report is not a JSON object")
    return parse_report(report, log_text)


def last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    chosen = errors[-3:] if errors else lines[-3:]
    return " | ".join(chosen) if chosen else "no output"


def unmatched_requirement(stderr: str) -> str | None:
    """The requirement pip found no distribution for, if that is why it failed."""
    match = _NO_MATCH.search(stderr)
    return match.group(1) if match else None
