"""safe-pip install: resolve, fetch, verify, scan, decide, then install exactly the vetted files.

Usage: ``safe-pip install [safe-pip options] [--] <pip install arguments>``.
safe-pip's own options are ``--python``, ``--policy``, ``--dry-run``,
``--format``, ``--report`` and ``--yes``; every other argument is pip's and
reaches pip's resolver as the user wrote it.

Exit codes: 0 installed (or, with --dry-run, would install); 1 blocked by
policy, nothing installed; 2 error, nothing installed.  Atomic: one blocked
artifact blocks the whole install, including its clean dependencies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.commands.policy_flags import add_policy_flags, flags_toml
from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, SafePipError, UsageError
from safe_pip.models import Artifact, Decision, Finding, ScanResult, Severity, Verdict
from safe_pip.progress import Progress
from safe_pip.report import Report, Subject

if TYPE_CHECKING:
    from safe_pip.fetch import Fetcher
    from safe_pip.policy.model import Policy
    from safe_pip.resolve import PipArgs, Resolution, Resolved

TAKES_UNKNOWN_ARGS = True
FETCH_WORKERS = 8


def register(parser: argparse.ArgumentParser) -> None:
    """safe-pip's own options; everything else is passed to pip."""
    # pip's options must never be taken for abbreviations of ours (--pre vs --prefix...).
    parser.allow_abbrev = False
    parser.usage = "safe-pip install [safe-pip options] [--] <pip install arguments>"
    parser.add_argument(
        "--python",
        type=Path,
        metavar="PATH",
        help="target interpreter (default: the active virtual environment, else this Python)",
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    add_policy_flags(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="resolve, verify and decide; install nothing"
    )
    add_report_flags(parser)
    parser.add_argument(
        "--yes", "-y", action="store_true", help="never ask; proceed when the policy allows"
    )


# --- the run's state -------------------------------------------------------------------------


@dataclass
class ArtifactState:
    """Everything learnt about one artifact on its way through the pipeline."""

    item: Resolved | None
    label: str
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    cached_file: bool = False
    findings: list[Finding] = field(default_factory=list)
    scan: ScanResult | None = None
    scan_cached: bool = False
    verdict: Verdict | None = None

    def subject(self) -> Subject:
        """This artifact as the report model takes it."""
        artifact = None
        if self.item is not None:
            artifact = Artifact(
                name=self.item.name,
                path=str(self.path) if self.path else self.item.filename,
                version=self.item.version,
                url=self.item.url,
                sha256=self.sha256,
                size=self.size,
                requested=self.item.requested,
            )
        return Subject(
            "artifact",
            self.label,
            self.verdict,
            pending=tuple(self.findings),
            scan=self.scan,
            distribution=artifact,
            cached=self.scan_cached,
        )

    def to_dict(self) -> dict[str, Any]:
        item = self.item
        verdict = self.verdict
        return {
            "name": item.name if item else self.label,
            "version": item.version if item else None,
            "url": item.url if item else None,
            "filename": item.filename if item else None,
            "requested": item.requested if item else None,
            "sha256": self.sha256,
            "size": self.size,
            "path": str(self.path) if self.path else None,
            "verdict": str(verdict.decision) if verdict else "block",
            "findings": [f.to_dict() for f in self.findings],
            "blocking": [f.rule_id for f in verdict.blocking] if verdict else [],
            "skipped": [s.to_dict() for s in self.scan.skipped] if self.scan else [],
            "inventory": dict(self.scan.inventory) if self.scan else {},
            "scan_cached": self.scan_cached,
        }


@dataclass
class Run:
    argv: list[str]
    python: Path
    dry_run: bool
    artifacts: list[ArtifactState] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    outcome: str = "error"
    exit_code: int = EXIT_ERROR
    policy_digest: str | None = None
    notes: list[str] = field(default_factory=list)

    def timed(self, stage: str, start: float) -> None:
        self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - start, 4)


# --- entry point -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from safe_pip import audit_log

    python = target_python(args.python)
    state = Run(argv=["safe-pip", *sys.argv[1:]], python=python, dry_run=bool(args.dry_run))
    policy: Policy | None = None
    audit_path = audit_log.default_path()
    try:
        from safe_pip.policy import load_policy
        from safe_pip.report import check_report_file

        check_report_file(args.report)
        policy = load_policy(args.policy, flags=flags_toml(args))
        state.policy_digest = policy.digest()
        if policy.audit.log is not None:
            audit_path = Path(policy.audit.log).expanduser()
        audit_log.check_writable(audit_path)
        _pipeline(args, state, policy)
    except SafePipError as exc:
        state.error = str(exc)
        state.outcome = "error"
        state.exit_code = exc.exit_code
    except KeyboardInterrupt:
        state.error = "interrupted"
        state.outcome = "error"
        state.exit_code = EXIT_ERROR
    except Exception as exc:  # fail closed on bugs too, and say so
        state.error = f"internal error: {type(exc).__name__}: {exc}"
        state.outcome = "error"
        state.exit_code = EXIT_ERROR
    _emit(args, state)
    record = audit_log.make_record(
        command=state.argv,
        target=str(python),
        outcome=state.outcome,
        exit_code=state.exit_code,
        artifacts=[a.to_dict() for a in state.artifacts],
        policy_digest=state.policy_digest,
        error=state.error,
        dry_run=state.dry_run,
    )
    try:
        audit_log.append(audit_path, record)
    except SafePipError as exc:
        print(f"safe-pip: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return state.exit_code


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
    """The environment for pip subprocesses: the user's, minus things that would redirect it."""
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


# --- the pipeline ----------------------------------------------------------------------------


def _pipeline(args: argparse.Namespace, state: Run, policy: Policy) -> None:
    from safe_pip import resolve as rs
    from safe_pip.verify.hashes import pins_from_requirements, read_requirement_files

    pip_args = rs.parse_pip_args(args.extra_args)
    if not (pip_args.requirements or pip_args.requirement_files or pip_args.editables):
        raise UsageError("nothing to install: name a requirement, -r FILE or -e PATH")
    allow_sdist = policy.install.allow_sdist
    env = pip_env()

    t0 = time.perf_counter()
    req_lines = read_requirement_files(pip_args.requirement_files)
    user_pins = pins_from_requirements(req_lines)
    local_builds = [f"-e {e}" for e in pip_args.editables]
    local_builds += [r for r in pip_args.requirements if rs.is_local_build(r)]
    local_builds += [
        (f"-e {ln.spec}" if ln.editable else ln.spec) + f" ({ln.where})"
        for ln in req_lines
        if ln.editable or rs.is_local_build(ln.spec)
    ]
    if local_builds and not allow_sdist:
        for spec in local_builds:
            art = ArtifactState(item=None, label=spec)
            art.findings.append(_sdist_refused(spec, "requires a local build"))
            state.artifacts.append(art)
        _finish_blocked(state, policy)
        return

    version = rs.pip_version(state.python, env=env)
    rs.check_pip_version(version, state.python)
    state.timed("prepare", t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        settings_future = pool.submit(_net_settings, state.python, pip_args, env)
        try:
            resolution = rs.resolve(state.python, pip_args, allow_sdist=allow_sdist, env=env)
        except rs.ResolveError as exc:
            state.timed("resolve", t0)
            blocked = _explain_resolve_failure(
                exc, state, policy, settings_future, pinned=bool(user_pins)
            )
            if blocked:
                _finish_blocked(state, policy)
                return
            raise
        settings = settings_future.result()
    state.timed("resolve", t0)
    if not resolution.items:
        state.notes.append("nothing to install: every requirement is already satisfied")
        state.outcome = "allowed"
        state.exit_code = EXIT_OK
        return

    from safe_pip.fetch import Fetcher, Quarantine

    fetcher = Fetcher(Quarantine.default(), settings)
    try:
        _fetch_and_verify(state, resolution, fetcher, policy, user_pins, allow_sdist)
    finally:
        fetcher.close()
    _scan_all(state, policy)
    _decide_all(state, policy)

    if any(a.verdict is None or not a.verdict.allowed for a in state.artifacts):
        state.outcome = "blocked"
        state.exit_code = EXIT_BLOCKED
        return
    if state.dry_run:
        state.outcome = "would-install"
        state.exit_code = EXIT_OK
        return
    if not _confirm(args, state):
        state.outcome = "declined"
        state.exit_code = EXIT_BLOCKED
        return
    from safe_pip.install import VettedFile, install

    t0 = time.perf_counter()
    files = [VettedFile(a.path, a.sha256) for a in state.artifacts if a.path and a.sha256]
    install(state.python, files, pip_args.install, env=env, allow_sdist=allow_sdist)
    state.timed("install", t0)
    state.outcome = "installed"
    state.exit_code = EXIT_OK


def _sdist_refused(what: str, why: str) -> Finding:
    return Finding(
        "SDIST-REFUSED",
        Severity.HIGH,
        f"{what} {why}: building runs the project's code before it can be scanned; "
        "the policy refuses it ([install] allow_sdist = false)",
        what,
        {"policy_key": "install.allow_sdist"},
    )


def _finish_blocked(state: Run, policy: Policy) -> None:
    _decide_all(state, policy)
    state.outcome = "blocked"
    state.exit_code = EXIT_BLOCKED


def _net_settings(python: Path, pip_args: PipArgs, env: dict[str, str]) -> Any:
    """pip's effective network settings: its config files and env, then the command line."""
    import subprocess

    from safe_pip.fetch import NetSettings, credentials_from_urls

    values: dict[str, str] = {}
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


def _explain_resolve_failure(
    exc: Any, state: Run, policy: Policy, settings_future: Any, *, pinned: bool
) -> bool:
    """Turn resolver failures that are really policy refusals into findings (exit 1)."""
    from safe_pip import resolve as rs

    stderr = getattr(exc, "stderr", "") or ""
    if rs.HASH_FAILURE in stderr:
        # pip checked the bytes itself (older pip downloads during the dry run): against
        # the user's --hash values if there are any, else against the index's hashes.
        art = ArtifactState(item=None, label="requirements" if pinned else "index")
        rule = "INSTALL-HASH-PIN-MISMATCH" if pinned else "INSTALL-HASH-MISMATCH"
        what = "the --hash values in the requirements" if pinned else "the index's hashes"
        art.findings.append(
            Finding(
                rule,
                Severity.CRITICAL,
                f"pip reports that downloaded files do not match {what}: " + rs.last_error(stderr),
                art.label,
                {"source": art.label},
            )
        )
        state.artifacts.append(art)
        return True
    missing = rs.unmatched_requirement(stderr)
    if missing is None or policy.install.allow_sdist:
        return False
    # Only a wheel was acceptable; is there an sdist pip could have built?
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        name = canonicalize_name(Requirement(missing).name)
    except Exception:
        return False
    from safe_pip.fetch import Fetcher, Quarantine

    fetcher = Fetcher(Quarantine.default(), settings_future.result())
    try:
        for index in fetcher.settings.index_urls:
            page = index.rstrip("/") + f"/{name}/"
            try:
                raw = fetcher.get(page, accept="application/vnd.pypi.simple.v1+json")
                doc = json.loads(raw)
            except (SafePipError, ValueError):
                continue
            files = [f.get("filename", "") for f in doc.get("files", []) if isinstance(f, dict)]
            if any(f.endswith((".tar.gz", ".zip", ".tar.bz2")) for f in files):
                art = ArtifactState(item=None, label=name)
                art.findings.append(
                    _sdist_refused(
                        name, f"has no wheel for this environment, only an sdist on {page}"
                    )
                )
                state.artifacts.append(art)
                return True
    finally:
        fetcher.close()
    return False


def _fetch_and_verify(
    state: Run,
    resolution: Resolution,
    fetcher: Fetcher,
    policy: Policy,
    user_pins: dict[str, frozenset[str]],
    allow_sdist: bool,
) -> None:
    from safe_pip.fetch import FetchError, HashMismatch
    from safe_pip.verify.hashes import hash_findings
    from safe_pip.verify.index import FileInfo, index_findings, lookup_file_info
    from safe_pip.verify.names import name_findings

    arts = [ArtifactState(item=item, label=item.filename) for item in resolution.items]
    state.artifacts.extend(arts)
    need_age = policy.install.min_age > dt.timedelta(0)
    index_urls = resolution.index_urls or fetcher.settings.index_urls

    def get(url: str, accept: str) -> bytes:
        return fetcher.get(url, accept=accept)

    t0 = time.perf_counter()
    progress = Progress(
        sum(1 for a in arts if a.item and a.item.kind in ("wheel", "sdist")), "downloading"
    )
    errors: list[str] = []

    def fetch_one(art: ArtifactState) -> None:
        item = art.item
        assert item is not None
        if item.kind in ("dir", "vcs"):
            art.findings.append(
                Finding(
                    "INSTALL-UNVETTABLE",
                    Severity.HIGH,
                    f"{item.name} resolves to a {item.kind} ({item.url}), not a file that "
                    "could be hashed and scanned",
                    item.url,
                )
            )
            return
        if item.kind == "sdist" and not allow_sdist:
            art.findings.append(_sdist_refused(item.filename, "is a source distribution"))
            return
        try:
            got = fetcher.fetch(item.url, expected_sha256=item.advertised_sha256)
        except HashMismatch as exc:
            art.findings.append(
                Finding(
                    "INSTALL-HASH-MISMATCH",
                    Severity.CRITICAL,
                    str(exc),
                    item.filename,
                    {"expected": exc.expected, "actual": exc.actual, "url": exc.url},
                )
            )
            return
        except FetchError as exc:
            errors.append(str(exc))
            return
        finally:
            progress.advance(item.filename)
        art.path, art.sha256, art.size, art.cached_file = got.path, got.sha256, got.size, got.cached

    def age_one(art: ArtifactState) -> FileInfo | None:
        if not need_age or art.item is None:
            return None
        return lookup_file_info(art.item, index_urls, get)

    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        infos = list(pool.map(age_one, arts)) if need_age else [None] * len(arts)
        list(pool.map(fetch_one, arts))
    progress.close()
    state.timed("fetch", t0)
    if errors:
        raise FetchError("; ".join(errors[:3]) + ("" if len(errors) <= 3 else " ..."))

    t0 = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    for art, info in zip(arts, infos, strict=True):
        item = art.item
        assert item is not None
        loc = item.filename
        art.findings += name_findings(
            item.name, policy.names, location=loc, requested=item.requested
        )
        art.findings += index_findings(item, policy=policy, info=info, now=now, location=loc)
        if art.sha256 is not None:
            art.findings += hash_findings(
                item.name,
                item.version,
                art.sha256,
                user_pins=user_pins,
                policy=policy,
                location=loc,
            )
    _verify_signatures(arts, policy, fetcher, index_urls)
    state.timed("verify", t0)


def _verify_signatures(
    arts: Sequence[ArtifactState],
    policy: Policy,
    fetcher: Fetcher,
    index_urls: Sequence[str] = (),
) -> None:
    """SIGNATURES HOOK: find each artifact's signatures, verify them via safe_pip.verify.

    Where signatures are looked for, in order (docs/signatures.md, "How the gate
    finds signatures"):

    1. The index's PEP 691 JSON entry for the file.  If it has a ``provenance`` key
       (PEP 740), the index has spoken: a URL is fetched and *must* be readable, a
       ``null`` means "none" and nothing else is probed, which keeps PyPI at one
       request per project rather than several per file.  A page that fails with
       anything but 404/406/410 ("no JSON API here") blocks: it might have stated one.
    2. Otherwise (HTML-only or older indexes, HTTP find-links), the sidecars
       ``<file url>.provenance``, ``.publish.attestation``, ``.sigstore`` and
       ``.sigstore.json``.  A 404/410 means absent; any other failure blocks, so an
       index that errors cannot make a bad signature look like a missing one.
    3. For ``file://`` and find-links folders, the same sidecar names next to the file.

    ``require = "off"`` skips all of it; what absence means is decided by
    ``verify_artifact_signatures`` from ``require`` and the package's publishers.
    """
    if policy.signatures.require == "off":
        return
    import tempfile

    from safe_pip.verify import parse_expected, sources, verify_artifact_signatures
    from safe_pip.verify.index import JSON_ACCEPT, candidate_pages

    todo = [
        a
        for a in arts
        if a.item is not None and a.path is not None and a.item.kind in ("wheel", "sdist")
    ]
    if not todo:
        return
    pages = list(
        dict.fromkeys(
            page
            for a in todo
            if a.item is not None and not a.item.is_local_file
            for page in candidate_pages(a.item, tuple(index_urls))
        )
    )

    page_errors: dict[str, str] = {}

    def json_page(url: str) -> tuple[str, Any]:
        from safe_pip.fetch import FetchError

        try:
            return url, json.loads(fetcher.get(url, accept=JSON_ACCEPT))
        except ValueError:  # HTML, not PEP 691: this index has no JSON API
            return url, None
        except FetchError as exc:
            if sources.http_status(exc) not in sources.NO_JSON_STATUSES:
                # The page might state a provenance we cannot see: fail closed.
                page_errors[url] = str(exc)
            return url, None

    with tempfile.TemporaryDirectory(prefix="safe-pip-sig-") as tmp:

        def one(pos: int, art: ArtifactState) -> None:
            item, path = art.item, art.path
            assert item is not None and path is not None
            if item.is_local_file:
                found = sources.local_sidecars(item.url)
            else:
                pages = candidate_pages(item, tuple(index_urls))
                found = sources.remote_signatures(
                    item.url,
                    item.filename,
                    art.sha256,
                    [(p, docs.get(p), page_errors.get(p)) for p in pages],
                    fetcher,
                    Path(tmp) / str(pos),
                    project=item.name,
                    version=item.version,
                )
            art.findings.extend(
                Finding(
                    "SIG-INVALID",
                    Severity.HIGH,
                    f"a signature source for {item.filename} could not be read, so what it "
                    f"holds could not be checked: {source}: {why}",
                    item.filename,
                    {"reason": "unavailable", "source": source},
                )
                for source, why in found.unreadable
            )
            pubs = policy.for_package(item.name, item.version).publishers or ()
            expected = parse_expected(
                publishers=[str(p) for p in pubs if p.kind != "identity"],
                identities=[(p.identity, p.issuer) for p in pubs if p.kind == "identity"],
            )
            art.findings.extend(
                verify_artifact_signatures(
                    path,
                    name=item.name,
                    version=item.version,
                    sidecars=found.sidecars,
                    provenance_json=found.provenance,
                    expected=expected,
                    require=policy.signatures.require,
                    trusted_root=policy.signatures.trusted_root,
                    filename=item.filename,
                )
            )

        with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
            docs = dict(pool.map(json_page, pages))
            list(pool.map(one, range(len(todo)), todo))


def _scan_all(state: Run, policy: Policy) -> None:
    from safe_pip.fetch import cache_dir
    from safe_pip.scan import SCANNER_VERSION
    from safe_pip.scan.core.engine import scan_path
    from safe_pip.verdict_cache import VerdictCache

    cache = VerdictCache(cache_dir() / "verdicts")
    digest = state.policy_digest or policy.digest()
    limits = policy.scan.limits.to_limits()
    t0 = time.perf_counter()
    todo = [a for a in state.artifacts if a.path is not None and a.sha256 is not None]
    progress = Progress(len(todo), verb="scanning")
    for art in todo:
        assert art.path is not None and art.sha256 is not None
        cached = cache.get(art.sha256, SCANNER_VERSION, digest)
        if cached is not None:
            art.scan, art.scan_cached = cached, True
        else:
            result = scan_path(art.path, limits=limits, display=art.label)
            art.scan = result
            cache.put(art.sha256, SCANNER_VERSION, digest, result)
        art.findings.extend(art.scan.findings)
        progress.advance(art.label)
    progress.close()
    state.timed("scan", t0)


_DECIDE: Callable[..., Verdict] | None = None


def _decide(findings: Sequence[Finding], art: ArtifactState, policy: Policy) -> Verdict:
    """Call ``safe_pip.decide.decide`` with as much context as its signature takes."""
    from safe_pip.decide import decide

    params = inspect.signature(decide).parameters
    kwargs: dict[str, Any] = {"target": art.label}
    item = art.item
    extra = {
        "policy": policy,
        "package": item.name if item else None,
        "version": item.version if item else None,
        "sha256": art.sha256,
    }
    kwargs.update({k: v for k, v in extra.items() if k in params})
    return decide(findings, **kwargs)


def _decide_all(state: Run, policy: Policy) -> None:
    for art in state.artifacts:
        art.verdict = _decide(art.findings, art, policy)
        if not art.verdict.allowed:
            continue
        if art.item is not None and art.path is None:
            # Never allow something that was not fetched and hashed in this run.
            art.verdict = Verdict(
                art.label,
                Decision.BLOCK,
                art.verdict.blocking,
                art.verdict.warnings,
                notes=("not fetched",),
            )


def _confirm(args: argparse.Namespace, state: Run) -> bool:
    warned = any(a.verdict and a.verdict.warnings for a in state.artifacts)
    if args.yes or not warned or not sys.stdin.isatty():
        return True
    _emit(args, state, partial=True)
    answer = input("safe-pip: install despite the warnings above? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


# --- output ----------------------------------------------------------------------------------


_OUTCOMES = {"allowed": "nothing-to-do"}


def _report(state: Run) -> Report:
    from safe_pip.report import EnvironmentInfo, RunInfo

    return Report(
        command="install",
        subjects=tuple(a.subject() for a in state.artifacts),
        outcome=_OUTCOMES.get(state.outcome, state.outcome),  # type: ignore[arg-type]
        exit_code=state.exit_code,
        error=state.error,
        notes=tuple(state.notes),
        environment=EnvironmentInfo(python=str(state.python)),
        run=RunInfo(state.dry_run, state.policy_digest, dict(state.timings)),
    )


def _emit(args: argparse.Namespace, state: Run, *, partial: bool = False) -> None:
    from safe_pip.report import ReportWriteError, emit
    from safe_pip.report.text import use_colour, verdict_lines

    if partial:
        colour = use_colour(sys.stderr)
        print("\n".join(verdict_lines(_report(state), colour=colour)), file=sys.stderr)
        return
    try:
        emit(_report(state), args.format, args.report)
    except ReportWriteError as exc:
        print(f"safe-pip: error: {exc}", file=sys.stderr)
        state.exit_code = EXIT_ERROR
