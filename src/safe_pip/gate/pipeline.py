"""The install gate, start to finish: one short loop over the stages.

    inputs -> resolve -> fetch -> verify -> build -> scan -> decide -> install

Each stage lives in its own module; this one only runs them in order, times them and turns
what happened into an :class:`InstallResult`. It parses no arguments and prints nothing:
the command hands in the request, the policy, a progress factory and a confirmation
callback, and renders the result. Every failure ends here as a result (blocked: exit 1,
error: exit 2) and is recorded in the audit journal; nothing is installed unless every
artifact was fetched, hashed, verified and scanned in this run (or found intact in the
scan-result cache) and allowed.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, SafePipError, UsageError
from safe_pip.gate import build, install, scan, verify
from safe_pip.gate.early_scan import EarlyScans
from safe_pip.gate.inputs import InstallRequest, RequirementInput, ResolveOptions
from safe_pip.gate.journal import Journal
from safe_pip.gate.resolve import BuildMetadata, Resolution, ResolutionBlocked, ResolvedArtifact
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.gate.state import ArtifactRun, ProgressFactory, StageBlocked, no_progress
from safe_pip.gate.target import target_environment

if TYPE_CHECKING:
    from safe_pip.gate.fetch import Fetched, Fetcher
    from safe_pip.gate.target import Target
    from safe_pip.models import TargetEnvironment
    from safe_pip.policy.model import Policy

OUTCOMES = {
    "installed": "installed",
    "would-install": "would install (dry run): nothing was installed",
    "blocked": "blocked by policy: nothing was installed",
    "declined": "declined: nothing was installed",
    "allowed": "nothing to do",
    "error": "error: nothing was installed",
    "interrupted": "interrupted: nothing was installed",
    "install-failed": "pip failed",
}


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) arrived before pip started: stop as Ctrl-C does, install nothing."""


@dataclass
class InstallResult:
    """What one run did: per-artifact records, the outcome, and what is now installed."""

    target: Path
    dry_run: bool
    artifacts: list[ArtifactRun] = field(default_factory=list)
    outcome: str = "error"
    exit_code: int = EXIT_ERROR
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    installed: list[str] = field(default_factory=list)
    """``name version`` of each distribution this run put into the target."""
    policy_digest: str | None = None
    pip_version: str | None = None
    """The target's pip, as the inputs stage read it (the command warns when it is old)."""
    pip_report: str | None = None
    """pip's own ``--report FILE`` from the request: written in pip's format by the command."""
    cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def summary(self) -> str:
        """One honest line on what happened to the target."""
        if self.outcome == "installed":
            return "installed: " + ", ".join(self.installed)
        if self.outcome == "install-failed":
            what = ", ".join(self.installed) if self.installed else "none of the vetted files"
            return f"pip failed after it started; now installed from this run: {what}"
        return OUTCOMES.get(self.outcome, self.outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "error": self.error,
            "policy_digest": self.policy_digest,
            "timings": self.timings,
            "notes": self.notes,
            "installed": self.installed,
            "artifacts": [a.to_dict() for a in self.artifacts],
        }


@dataclass(frozen=True)
class Stages:
    """The stages that come from outside the loop: inputs, resolver, fetcher, cache."""

    read_inputs: Callable[[], InstallRequest]
    resolve: Callable[[InstallRequest, Fetcher, BuildMetadata | None], Resolution]
    """``(request, fetcher, build hook or None) -> Resolution``."""
    fetcher: Callable[[InstallRequest], Fetcher]
    fetch: Callable[..., None]
    cache: ScanResultCache
    probed: list[Callable[[Target], None]] = field(default_factory=list)
    """Told the target as the resolver probed it (the run's early scans listen)."""


def default_stages(args: Sequence[str], python: Path, policy: Policy) -> Stages:
    """The stages for ``safe-pip install ARGS`` into ``python``: inputs read with pip's
    grammar, the in-process resolver, the bounded fetcher, the user's scan-result cache."""
    from safe_pip.gate import fetch, inputs
    from safe_pip.gate.resolve import make_resolver

    def fetcher_for(request: InstallRequest) -> Fetcher:
        index = request.index
        urls = ([index.index_url] if index.index_url else []) + list(index.extra_index_urls)
        settings = fetch.NetSettings(
            cert=index.cert,
            client_cert=index.client_cert,
            trusted_hosts=index.trusted_hosts,
            proxy=index.proxy,
            credentials=fetch.credentials_from_urls([*urls, *index.find_links]),
            bounds=fetch.bounds_from_policy(policy.network),
            index_urls=tuple(urls),
        )
        return fetch.Fetcher(fetch.Quarantine.default(), settings)

    # The target's probe (a subprocess) starts now, beside safe-pip's own start-up; the
    # first resolution into ``python`` takes its answer (later ones probe again).
    early_probe = [_probe_soon(python)]

    def resolve(
        request: InstallRequest, fetcher: Fetcher, hook: BuildMetadata | None
    ) -> Resolution:
        threading.Thread(target=_preload, name="safe-pip-preload", daemon=True).start()
        target = Path(request.python) if request.python else python
        soon = early_probe.pop() if early_probe else None
        run = make_resolver(
            target,
            fetcher,
            packages=policy.packages,
            build_metadata=hook,
            on_target=probed,
            probe=soon.result if soon is not None and target == python else None,
        )
        return run(request)

    def probed(target: Target) -> None:
        for tell in listeners:
            tell(target)

    def read() -> InstallRequest:
        request = inputs.read_inputs(args, python=python)
        if not request.requirements:
            raise UsageError("nothing to install: name a requirement, -r FILE or -e PATH")
        return request

    listeners: list[Callable[[Target], None]] = []
    return Stages(
        read_inputs=read,
        resolve=resolve,
        fetcher=fetcher_for,
        fetch=fetch.fetch_stage,
        cache=scan.default_cache(),
        probed=listeners,
    )


def _probe_soon(python: Path) -> Future[Target]:
    """:func:`~safe_pip.gate.target.probe_target` of ``python`` in a daemon thread; its
    error, if any, is raised by ``result()`` where the resolver would have raised it."""
    from safe_pip.gate.target import probe_target

    future: Future[Target] = Future()

    def work() -> None:
        try:
            future.set_result(probe_target(python))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="safe-pip-probe", daemon=True).start()
    return future


def _preload() -> None:
    """Import what verify imports lazily (sigstore's verifier and cryptography: ~0.15 s),
    while the resolver mostly waits on the index and the target probe, instead of while
    verify's threads wait on the import lock. Nothing runs but imports; a failure here is
    left for verify's own import to report."""
    try:
        import safe_pip.intel.check
        import safe_pip.verify.artifact  # noqa: F401
    except Exception:
        return


@dataclass
class Context:
    """How this run is carried out and recorded (not what it installs)."""

    policy: Policy
    target: Path
    journal: Journal
    command: Sequence[str]
    dry_run: bool = False
    confirm: Callable[[InstallResult], bool] | None = None
    progress: ProgressFactory = no_progress
    hold: install.SignalHold = field(default_factory=install.SignalHold)
    """Started before the intent record; the caller releases it once it has reported."""


@contextmanager
def _timed(result: InstallResult, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        spent = result.timings.get(stage, 0.0) + time.perf_counter() - start
        result.timings[stage] = round(spent, 4)


def run(stages: Stages, ctx: Context) -> InstallResult:
    """Run the gate; never raises for a failed install, always writes the outcome record."""
    policy = ctx.policy
    result = InstallResult(target=ctx.target, dry_run=ctx.dry_run)
    try:
        result.policy_digest = policy.digest()
        result.notes += [u.describe() for u in ctx.journal.recover()]
        with _timed(result, "inputs"):
            request = stages.read_inputs()
        result.pip_report = request.pip_report
        result.pip_version = request.pip_version
        if request.python:  # pip's own --python: the interpreter to install into
            ctx.target = result.target = Path(request.python)
        fetcher = stages.fetcher(request)
        try:
            _stages(request, stages, fetcher, ctx, result)
        finally:
            fetcher.close()
    except ResolutionBlocked as exc:
        result.artifacts.append(ArtifactRun(artifact=None, label="resolution"))
        result.artifacts[-1].findings.extend(exc.findings)
        _blocked(result, policy)
    except StageBlocked as exc:
        if exc.findings:
            result.artifacts.append(ArtifactRun(artifact=None, label=exc.label))
            result.artifacts[-1].findings.extend(exc.findings)
        _blocked(result, policy)
    except SafePipError as exc:
        result.outcome, result.exit_code, result.error = "error", exc.exit_code, str(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into Interrupted
        result.outcome, result.exit_code = "interrupted", EXIT_ERROR
        result.error = f"interrupted ({exc or 'SIGINT'})"
    except Exception as exc:  # fail closed on bugs too, and say so
        result.outcome, result.exit_code = "error", EXIT_ERROR
        result.error = f"internal error: {type(exc).__name__}: {exc}"
    if ctx.hold.arrived:
        result.notes.append(
            f"{', '.join(dict.fromkeys(ctx.hold.arrived))} arrived after pip had started; pip "
            "was allowed to finish so that the environment is not left half-installed"
        )
    _record(ctx.journal, ctx.command, result)
    for clean in result.cleanup:
        clean()
    return result


def _stages(
    request: InstallRequest,
    stages: Stages,
    fetcher: Fetcher,
    ctx: Context,
    result: InstallResult,
) -> None:
    policy, runs = ctx.policy, result.artifacts
    runs += build.refuse_local(request, policy)
    if runs:
        return _blocked(result, policy)
    waiting = None
    if not (ctx.dry_run or request.dry_run):  # pip's start-up overlaps the vetting
        waiting = install.WaitingPip(ctx.target, request.install_args)
        result.cleanup.append(waiting.cancel)
    gate = _Gate(stages, fetcher, ctx, result, request)
    # Wheels the resolver downloads are scanned while it walks on (gate/early_scan.py).
    gate.early = EarlyScans(
        stages.cache, policy.scan.limits.to_limits(), result.policy_digest or policy.digest()
    )
    # ...and their signature discovery's requests start at once (gate/verify.py).
    prefetch = verify.SignaturePrefetch(fetcher, policy, verify.index_urls(request))
    result.cleanup.append(prefetch.close)
    early = gate.early

    def fetched(got: Fetched) -> None:
        early.file(got.path, got.sha256)
        prefetch.fetched(got.url, got.path.name)

    fetcher.on_fetched = fetched
    stages.probed[:] = [early.target]
    result.cleanup.append(early.cancel)  # a run that ended before its scan stage
    builds = build.Builds(
        python=ctx.target,
        policy=policy,
        request=request,
        vet=gate.vet_requirements,
        vet_source=gate.vet_source,
        workdir=gate.workdir,
    )
    with _timed(result, "build"):
        request = builds.name_sources(request)
    with _timed(result, "resolve"):
        resolution = stages.resolve(request, fetcher, builds.hook())
    if resolution.target is not None:
        # What the chosen wheels are scanned against: the target as the resolver probed it
        # (who owns which file and command there, its Python), not a shipped stand-in.
        gate.environment = target_environment(resolution.target)
    chosen = [ArtifactRun(artifact=a, label=a.filename) for a in resolution.artifacts]
    if not chosen:
        result.notes.append("nothing to install: every requirement is already satisfied")
        result.outcome, result.exit_code = "allowed", EXIT_OK
        return None
    build.refuse_sdists(chosen, policy)
    chosen = gate.build_sources(chosen, builds)
    runs += chosen
    gate.vet(chosen, request, target=gate.environment)
    if not all(r.vetted for r in runs):
        return _blocked(result, policy)
    if ctx.dry_run or request.dry_run:
        result.outcome, result.exit_code = "would-install", EXIT_OK
        return None
    if ctx.confirm is not None and not ctx.confirm(result):
        result.outcome, result.exit_code = "declined", EXIT_BLOCKED
        return None
    with _timed(result, "install"):
        _install(request, ctx, result, waiting)
    return None


@dataclass
class _Gate:
    """The vetting steps, for the install's artifacts and for what a build needs."""

    stages: Stages
    fetcher: Fetcher
    ctx: Context
    result: InstallResult
    request: InstallRequest
    sources: dict[str, ArtifactRun] = field(default_factory=dict)
    """Sdists vetted before their backend ran, by file name."""
    environment: TargetEnvironment | None = None
    early: EarlyScans | None = None
    """The target environment the install's wheels are scanned against (set once resolved).
    Sdists and build dependencies, which never land in the target, are scanned without it
    (the scanner's shipped default environment stands in)."""

    def vet_source(self, art: ResolvedArtifact) -> ArtifactRun:
        """An sdist file through verify, scan and decide (build.Builds asks, before any of
        its code runs); blocks the install if it is refused."""
        from safe_pip.gate.fetch import hash_file

        if art.filename in self.sources:
            return self.sources[art.filename]
        if art.local_file is not None and art.sha256 is None:
            art = replace(art, sha256=hash_file(Path(art.local_file)))
        run = ArtifactRun(artifact=art, label=art.filename)
        run.for_build = f"source of {art.name} {art.version}"
        self.result.artifacts.append(run)
        self.vet([run], self.request, target=None)
        self.sources[art.filename] = run
        if not run.vetted:
            raise StageBlocked(art.filename, [])
        return run

    def vet(
        self,
        runs: Sequence[ArtifactRun],
        request: InstallRequest,
        *,
        target: TargetEnvironment | None,
    ) -> None:
        """fetch -> verify -> scan -> decide; the scan judges ``runs`` against ``target``."""
        policy, result = self.ctx.policy, self.result
        with _timed(result, "fetch"):
            self.stages.fetch(runs, self.fetcher, self.ctx.progress, build.needs_fetch)
        # Scanning (CPU, in worker processes) and verifying (index and signature requests)
        # need nothing from each other: the scan runs in a thread while verify works.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="safe-pip-scan") as pool:
            start = time.perf_counter()
            if self.early is not None:  # the early scans end first: their results are cached
                pool.submit(self.early.finish)
            scanning = pool.submit(
                scan.scan_all,
                runs,
                limits=policy.scan.limits.to_limits(),
                policy_digest=result.policy_digest or policy.digest(),
                cache=self.stages.cache,
                progress=self.ctx.progress,
                attach=False,
                target=target,
            )
            with _timed(result, "verify"):
                result.notes += verify.verify_all(
                    runs, request=request, policy=policy, fetcher=self.fetcher
                )
            scanning.result()
            result.timings["scan"] = round(
                result.timings.get("scan", 0.0) + time.perf_counter() - start, 4
            )
        for run in runs:  # verify's findings first, then the scan's: a stable order
            if run.scan is not None:
                run.findings.extend(run.scan.findings)
            if self.early is not None and run.sha256 in self.early.scanned:
                run.scan_cached = False  # scanned in this run, ahead of this stage
        with _timed(result, "scan"):  # the wheels as one install: two writing one file
            scan.scan_together(runs, target=target, limits=policy.scan.limits.to_limits())
        cache = self.stages.cache
        for sha in cache.discarded:
            result.notes.append(
                f"the cached scan of {sha[:16]}… failed its integrity check and was "
                "discarded; the file was scanned again"
            )
        cache.discarded.clear()
        _decide(runs, policy)

    def vet_requirements(self, requirements: Sequence[str], label: str) -> list[ArtifactRun]:
        """A build's requirements through the whole gate (build.Vet); blocks if refused."""
        sub = InstallRequest(
            requirements=tuple(
                RequirementInput(Requirement(r), origin=label) for r in requirements
            ),
            constraints=(),
            index=self.request.index,
            options=ResolveOptions(ignore_installed=True),
        )
        with _timed(self.result, "resolve"):
            resolution = self.stages.resolve(sub, self.fetcher, None)  # no builds for builds
        runs = [
            ArtifactRun(artifact=a, label=a.filename, for_build=label) for a in resolution.artifacts
        ]
        self.result.artifacts.extend(runs)
        self.vet(runs, sub, target=None)
        if not all(r.vetted for r in runs):
            raise StageBlocked(label, [])
        return runs

    def build_sources(
        self, chosen: Sequence[ArtifactRun], builds: build.Builds
    ) -> list[ArtifactRun]:
        """Each sdist is vetted as a file, then every sdist and local tree becomes a wheel."""
        sdists = [r for r in chosen if r.artifact and r.artifact.kind == "sdist"]
        if sdists and not all(build.needs_fetch(r) for r in sdists):
            return list(chosen)  # refused: decide reports it, nothing is built
        for run in sdists:
            assert run.artifact is not None
            vetted = self.vet_source(run.artifact)  # already vetted when the hook ran
            run.path = vetted.path
        out: list[ArtifactRun] = []
        for run in chosen:
            art = run.artifact
            if art is None or art.kind == "wheel":
                out.append(run)
            elif art.kind in ("sdist", "local"):
                out.append(self._built(art, builds, run.path))
        return out

    def _built(
        self, art: ResolvedArtifact, builds: build.Builds, quarantined: Path | None
    ) -> ArtifactRun:
        if quarantined is not None:
            art = replace(art, local_file=quarantined)
        with _timed(self.result, "build"):
            wheel = builds.wheel(art)
        built = ResolvedArtifact(
            name=art.name,
            version=art.version,
            filename=wheel.name,
            url=wheel.resolve().as_uri(),
            kind="wheel",
            index_url=None,
            requested_as=art.requested_as,
            metadata_name=art.metadata_name,
            metadata_version=art.metadata_version,
        )
        return ArtifactRun(artifact=built, label=wheel.name, built_from=builds.label(art))

    @property
    def workdir(self) -> Path:
        if not hasattr(self, "_tmp"):
            self._tmp = tempfile.TemporaryDirectory(prefix="safe-pip-build-")
            self.result.cleanup.append(self._tmp.cleanup)
        return Path(self._tmp.name)


def _blocked(result: InstallResult, policy: Policy) -> None:
    _decide(result.artifacts, policy)
    result.outcome, result.exit_code = "blocked", EXIT_BLOCKED


def _decide(runs: Sequence[ArtifactRun], policy: Policy) -> None:
    from safe_pip.gate.vet import decide_all

    decide_all(runs, policy)


def _install(
    request: InstallRequest,
    ctx: Context,
    result: InstallResult,
    waiting: install.WaitingPip | None = None,
) -> None:
    runs = [r for r in result.artifacts if r.for_build is None]
    files = [
        install.VettedFile(r.path, r.sha256, r.name, r.version or "")
        for r in runs
        if r.path is not None and r.sha256 is not None
    ]
    ctx.hold.start()  # from the intent record to the outcome record, no signal cuts in
    ctx.journal.intent(
        command=ctx.command, target=str(result.target), artifacts=[r.to_dict() for r in runs]
    )
    done = install.install(result.target, files, request.install_args, waiting=waiting)
    if done.ok:
        result.installed = [f"{f.name} {f.version}" for f in files]
        result.outcome, result.exit_code = "installed", EXIT_OK
        return
    present = done.present
    if present is None:
        result.notes.append("could not tell which of the vetted files pip installed")
    else:
        result.installed = [
            f"{f.name} {f.version}"
            for f in files
            if present.get(canonicalize_name(f.name)) == f.version
        ]
    tail = " | ".join(done.stderr.strip().splitlines()[-5:])
    result.outcome, result.exit_code = "install-failed", EXIT_ERROR
    result.error = f"pip install of the vetted files failed (exit {done.returncode}): {tail}"


def _record(journal: Journal, command: Sequence[str], result: InstallResult) -> None:
    """Write the outcome record; a log that refuses it turns the run into an error."""
    from safe_pip.gate.journal import make_record

    record = make_record(
        command=command,
        target=str(result.target),
        outcome=result.outcome,
        exit_code=result.exit_code,
        artifacts=[a.to_dict() for a in result.artifacts],
        policy_digest=result.policy_digest,
        error=result.error,
        dry_run=result.dry_run,
    )
    record["installed"] = list(result.installed)
    record["notes"] = list(result.notes)
    try:
        journal.outcome(record)
    except SafePipError as exc:
        result.error = (result.error + "; " if result.error else "") + str(exc)
        result.exit_code = EXIT_ERROR
