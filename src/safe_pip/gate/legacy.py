"""Today's inputs, resolver and fetch loop, adapted to the stage contracts.

``read_inputs`` (gate/inputs.py) and ``resolve`` (gate/resolve.py) are being built by their
owners; until they land, the pipeline runs on these adapters, which keep the behaviour the
gate had: pip's own ``--dry-run --report`` with the user's arguments chooses the files,
``pip config list`` supplies the index settings, requirement files give the ``--hash``
pins. Everything here returns the contract types (``InstallRequest``, ``Resolution``), so
switching is a change of one import in the command. Delete this module then.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from safe_pip.errors import SafePipError, UsageError
from safe_pip.gate.build import sdist_refused
from safe_pip.gate.inputs import IndexSettings, InstallRequest, RequirementInput, ResolveOptions
from safe_pip.gate.pipeline import Stages
from safe_pip.gate.resolve import Resolution, ResolvedArtifact
from safe_pip.gate.state import ArtifactRun, ProgressFactory, StageBlocked
from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.fetch import Fetcher, NetSettings
    from safe_pip.policy.model import Policy
    from safe_pip.resolve import PipArgs, Resolved

FETCH_WORKERS = 8


def target_python(explicit: Path | None) -> Path:
    """``--python``, else the active virtual environment, else this interpreter."""
    if explicit is not None:
        return explicit
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        candidate = Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if candidate.exists():
            return candidate
    return Path(sys.executable)


def pip_env() -> dict[str, str]:
    """The environment for the dry run: the user's (pip reads its configuration from it)."""
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@dataclass(frozen=True)
class LegacyInputs:
    request: InstallRequest
    pip_args: PipArgs


def _requirement(
    spec: str, origin: str, hashes: frozenset[str], editable: bool
) -> RequirementInput:
    from safe_pip.resolve import is_local_build

    local = editable or is_local_build(spec)
    try:
        req = Requirement(spec)
        local_path = None if not local else (req.url or spec)
    except InvalidRequirement:
        # A path or URL without a name: named after its last component until it is built.
        stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(spec.rstrip("/")).name or "local").strip("-")
        req = Requirement(canonicalize_name(stem or "local"))
        local_path = spec
    return RequirementInput(
        requirement=req,
        origin=origin,
        hashes=frozenset(f"sha256:{h}" for h in hashes),
        editable=editable,
        local_path=os.path.abspath(local_path)
        if local_path and "://" not in local_path
        else local_path,
    )


def read_inputs(args: Sequence[str], python: Path) -> LegacyInputs:
    """The user's pip arguments, requirement files and pip configuration, as a request."""
    from safe_pip import resolve as rs
    from safe_pip.verify.hashes import read_requirement_files

    pip_args = rs.parse_pip_args(args)
    if not (pip_args.requirements or pip_args.requirement_files or pip_args.editables):
        raise UsageError("nothing to install: name a requirement, -r FILE or -e PATH")
    reqs = [_requirement(e, "command line", frozenset(), True) for e in pip_args.editables]
    reqs += [_requirement(r, "command line", frozenset(), False) for r in pip_args.requirements]
    for line in read_requirement_files(pip_args.requirement_files):
        reqs.append(_requirement(line.spec, line.where, line.hashes, line.editable))
    settings = net_settings(python, pip_args)
    urls = settings.index_urls
    request = InstallRequest(
        requirements=tuple(reqs),
        constraints=(),
        index=IndexSettings(
            index_url=urls[0] if urls else None,
            extra_index_urls=tuple(urls[1:]),
            find_links=pip_args.find_links,
            no_index=pip_args.no_index,
            trusted_hosts=settings.trusted_hosts,
            cert=settings.cert,
            client_cert=settings.client_cert,
            proxy=settings.proxy,
            timeout=settings.timeout,
        ),
        options=ResolveOptions(),
        install_args=pip_args.install,
    )
    return LegacyInputs(request, pip_args)


def net_settings(python: Path, pip_args: PipArgs) -> NetSettings:
    """pip's effective network settings: its config files and env, then the command line."""
    from safe_pip.fetch import NetSettings, credentials_from_urls

    values: dict[str, str] = {}
    env = pip_env()
    try:
        out = subprocess.run(
            [str(python), "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        for line in out.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    except (OSError, subprocess.SubprocessError):
        pass
    for key, value in env.items():
        if key.startswith("PIP_"):
            values[key[4:].lower().replace("_", "-")] = value
    urls = [*pip_args.index_urls]
    urls += values.get("index-url", "").split() + values.get("extra-index-url", "").split()
    trusted = list(pip_args.trusted_hosts) + values.get("trusted-host", "").split()
    timeout = values.get("timeout") or values.get("default-timeout")
    try:
        timeout_value = float(timeout) if timeout else 60.0
    except ValueError:
        timeout_value = 60.0
    return NetSettings(
        cert=pip_args.cert or values.get("cert") or None,
        client_cert=pip_args.client_cert or values.get("client-cert") or None,
        trusted_hosts=tuple(trusted),
        proxy=pip_args.proxy or values.get("proxy") or None,
        credentials=credentials_from_urls(urls),
        index_urls=tuple(dict.fromkeys(u for u in urls if u)),
        timeout=timeout_value,
    )


def fetch_settings(request: InstallRequest) -> NetSettings:
    """The fetcher's settings for a request (credentials come from the index URLs)."""
    from safe_pip.fetch import NetSettings, credentials_from_urls

    index = request.index
    urls = ([index.index_url] if index.index_url else []) + list(index.extra_index_urls)
    return NetSettings(
        cert=index.cert,
        client_cert=index.client_cert,
        trusted_hosts=index.trusted_hosts,
        proxy=index.proxy,
        credentials=credentials_from_urls(urls),
        index_urls=tuple(urls),
        timeout=index.timeout or 60.0,
    )


def _artifact(
    item: Resolved, upload_time: object = None, yanked: str | None = None
) -> ResolvedArtifact:
    import datetime as dt

    kind = {"wheel": "wheel", "sdist": "sdist"}.get(item.kind, "local")
    return ResolvedArtifact(
        name=item.name,
        version=item.version,
        filename=item.filename,
        url=item.url,
        kind=kind,  # type: ignore[arg-type]
        index_url=item.page_url,
        requested_as=(item.display_name or item.name) if item.requested else None,
        hashes={"sha256": item.advertised_sha256} if item.advertised_sha256 else {},
        yanked=yanked,
        upload_time=upload_time if isinstance(upload_time, dt.datetime) else None,
    )


def resolve_with_pip(
    pip_args: PipArgs, python: Path, policy: Policy, request: InstallRequest, fetcher: Fetcher
) -> Resolution:
    """The target pip's dry run, as a :class:`Resolution`."""
    from safe_pip import resolve as rs
    from safe_pip.verify.index import lookup_file_info

    env = pip_env()
    rs.check_pip_version(rs.pip_version(python, env=env), python)
    try:  # never let pip build: sdists are built by the gate's build stage, if at all
        resolution = rs.resolve(python, pip_args, allow_sdist=False, env=env)
    except rs.ResolveError as exc:
        sdist = _explain_failure(exc, request, policy, fetcher)
        if sdist is not None:
            return Resolution((sdist,))
        raise
    indexes = resolution.index_urls or fetcher.settings.index_urls

    def one(item: Resolved) -> ResolvedArtifact:
        info = None
        if policy.install.min_age.total_seconds() > 0:
            info = lookup_file_info(item, indexes, lambda u, a: fetcher.get(u, accept=a))
        yanked = None
        if item.is_yanked or (info is not None and info.yanked):
            yanked = info.yanked_reason if info is not None else ""
        return _artifact(item, info.upload_time if info else None, yanked)

    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        return Resolution(tuple(pool.map(one, resolution.items)))


def stages(args: Sequence[str], python: Path, policy: Policy) -> Stages:
    """The pipeline's outside stages for ``safe-pip install ARGS`` with today's pieces."""
    from safe_pip.fetch import Fetcher, Quarantine
    from safe_pip.gate.scan import default_cache

    read: list[LegacyInputs] = []

    def read_request() -> InstallRequest:
        read.append(read_inputs(args, python))
        return read[-1].request

    def resolve(request: InstallRequest, fetcher: Fetcher) -> Resolution:
        mine = read[-1]
        args = mine.pip_args if request is mine.request else pip_args_for(request)
        return resolve_with_pip(args, python, policy, request, fetcher)

    return Stages(
        read_inputs=read_request,
        resolve=resolve,
        fetcher=lambda request: Fetcher(Quarantine.default(), fetch_settings(request)),
        fetch=fetch_all,
        cache=default_cache(),
    )


def pip_args_for(request: InstallRequest) -> PipArgs:
    """pip arguments for a request the gate made (build dependencies, built wheels)."""
    from safe_pip import resolve as rs

    index = request.index
    args: list[str] = []
    if index.index_url:
        args += ["-i", index.index_url]
    for url in index.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in index.find_links:
        args += ["-f", link]
    for host in index.trusted_hosts:
        args += ["--trusted-host", host]
    if index.no_index:
        args.append("--no-index")
    if request.options.ignore_installed:
        args.append("--ignore-installed")
    args += list(request.install_args)
    args += [str(r.requirement) for r in request.requirements]
    return rs.parse_pip_args(args)


def _explain_failure(
    exc: Exception, request: InstallRequest, policy: Policy, fetcher: Fetcher
) -> ResolvedArtifact | None:
    """Resolver failures that are really policy refusals become findings (exit 1); a
    source-only project the policy lets the gate build is returned as its sdist."""
    from safe_pip import resolve as rs

    stderr = getattr(exc, "stderr", "") or ""
    pinned = any(r.hashes for r in request.requirements)
    if rs.HASH_FAILURE in stderr:
        # pip checked the bytes itself (older pip downloads during the dry run): against
        # the user's --hash values if there are any, else against the index's hashes.
        label = "requirements" if pinned else "index"
        rule = "INSTALL-HASH-PIN-MISMATCH" if pinned else "INSTALL-HASH-MISMATCH"
        what = "the --hash values in the requirements" if pinned else "the index's hashes"
        finding = Finding(
            rule,
            Severity.CRITICAL,
            f"pip reports that downloaded files do not match {what}: " + rs.last_error(stderr),
            label,
            {"source": label},
        )
        raise StageBlocked(label, [finding]) from exc
    missing = rs.unmatched_requirement(stderr)
    if missing is None:
        return None
    try:
        wanted = Requirement(missing)
    except InvalidRequirement:
        return None
    name = canonicalize_name(wanted.name)
    for index in fetcher.settings.index_urls:
        page = index.rstrip("/") + f"/{name}/"
        try:
            doc = json.loads(fetcher.get(page, accept="application/vnd.pypi.simple.v1+json"))
        except (SafePipError, ValueError):
            continue
        sdist = _newest_sdist(doc, page, name, wanted)
        if sdist is None:
            continue
        if not policy.install.allow_sdist:
            why = f"has no wheel for this environment, only an sdist on {page}"
            raise StageBlocked(name, [sdist_refused(name, why)]) from exc
        return sdist
    return None


def _newest_sdist(
    doc: object, page: str, name: str, wanted: Requirement
) -> ResolvedArtifact | None:
    """The newest sdist on a PEP 691 page that satisfies ``wanted``."""
    from urllib.parse import urljoin

    from packaging.utils import InvalidSdistFilename, parse_sdist_filename
    from packaging.version import Version

    files = doc.get("files", []) if isinstance(doc, dict) else []
    best: tuple[Version, dict[str, object]] | None = None
    for entry in files:
        if not isinstance(entry, dict) or entry.get("yanked"):
            continue
        try:
            _, version = parse_sdist_filename(str(entry.get("filename", "")))
        except InvalidSdistFilename:
            continue
        if wanted.specifier.contains(version, prereleases=True) and (
            best is None or version > best[0]
        ):
            best = (version, entry)
    if best is None:
        return None
    version, entry = best
    hashes = entry.get("hashes")
    return ResolvedArtifact(
        name=name,
        version=str(version),
        filename=str(entry["filename"]),
        url=urljoin(page, str(entry.get("url", ""))),
        kind="sdist",
        index_url=page,
        requested_as=wanted.name,
        hashes={"sha256": str(hashes["sha256"])}
        if isinstance(hashes, dict) and "sha256" in hashes
        else {},
    )


def fetch_all(
    runs: Sequence[ArtifactRun],
    fetcher: Fetcher,
    progress: ProgressFactory,
    todo: Callable[[ArtifactRun], bool],
) -> None:
    """Bring every artifact ``todo`` selects into quarantine; network errors raise."""
    from safe_pip.fetch import FetchError, HashMismatch

    chosen = [r for r in runs if todo(r)]
    bar = progress(len(chosen), "downloading")
    errors: list[str] = []

    def one(run: ArtifactRun) -> None:
        art = run.artifact
        assert art is not None
        try:
            got = fetcher.fetch(art.url, expected_sha256=art.hashes.get("sha256"))
        except HashMismatch as exc:
            run.findings.append(
                Finding(
                    "INSTALL-HASH-MISMATCH",
                    Severity.CRITICAL,
                    str(exc),
                    art.filename,
                    {"expected": exc.expected, "actual": exc.actual, "url": exc.url},
                )
            )
            return
        except FetchError as exc:
            errors.append(str(exc))
            return
        finally:
            bar.advance(art.filename)
        run.path, run.sha256, run.size, run.cached_file = got.path, got.sha256, got.size, got.cached

    try:
        with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
            list(pool.map(one, chosen))
    finally:
        bar.close()
    if errors:
        raise FetchError("; ".join(errors[:3]) + ("" if len(errors) <= 3 else " ..."))
