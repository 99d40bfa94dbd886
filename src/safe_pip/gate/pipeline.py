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

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, SafePipError
from safe_pip.gate import build, install, scan, verify
from safe_pip.gate.inputs import InstallRequest
from safe_pip.gate.journal import Journal
from safe_pip.gate.resolve import Resolution
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.gate.state import ArtifactRun, ProgressFactory, StageBlocked, no_progress

if TYPE_CHECKING:
    from safe_pip.gate.fetch import Fetcher
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


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived before pip started: stop, install nothing, record it."""


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
    """The pieces a run needs from outside: the resolver, the fetcher, the caches."""

    resolve: Callable[[InstallRequest], Resolution]
    fetcher: Fetcher
    fetch: Callable[..., None]
    cache: ScanResultCache


@contextmanager
def _timed(result: InstallResult, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        spent = result.timings.get(stage, 0.0) + time.perf_counter() - start
        result.timings[stage] = round(spent, 4)


def run(
    request: InstallRequest,
    *,
    policy: Policy,
    target: Path,
    stages: Stages,
    journal: Journal,
    command: Sequence[str],
    dry_run: bool = False,
    confirm: Callable[[InstallResult], bool] | None = None,
    progress: ProgressFactory = no_progress,
) -> InstallResult:
    """Run the gate for ``request`` into ``target``; never raises for a failed install."""
    result = InstallResult(target=target, dry_run=dry_run, policy_digest=policy.digest())
    try:
        result.notes += [u.describe() for u in journal.recover()]
        _stages(request, policy, stages, journal, command, result, confirm, progress)
    except StageBlocked as exc:
        result.artifacts.append(ArtifactRun(artifact=None, label=exc.label))
        result.artifacts[-1].findings.extend(exc.findings)
        _decide(result.artifacts, policy)
        result.outcome, result.exit_code = "blocked", EXIT_BLOCKED
    except SafePipError as exc:
        result.outcome, result.exit_code, result.error = "error", exc.exit_code, str(exc)
    except (KeyboardInterrupt, Interrupted):
        result.outcome, result.exit_code, result.error = "interrupted", EXIT_ERROR, "interrupted"
    except Exception as exc:  # fail closed on bugs too, and say so
        result.outcome, result.exit_code = "error", EXIT_ERROR
        result.error = f"internal error: {type(exc).__name__}: {exc}"
    _record(journal, command, result)
    return result


def _stages(
    request: InstallRequest,
    policy: Policy,
    stages: Stages,
    journal: Journal,
    command: Sequence[str],
    result: InstallResult,
    confirm: Callable[[InstallResult], bool] | None,
    progress: ProgressFactory,
) -> None:
    runs = result.artifacts
    runs += build.refuse_local(request, policy)
    if runs:
        return _blocked(result, policy)
    with _timed(result, "resolve"):
        resolution = stages.resolve(request)
    if not resolution.artifacts:
        result.notes.append("nothing to install: every requirement is already satisfied")
        result.outcome, result.exit_code = "allowed", EXIT_OK
        return None
    runs += [ArtifactRun(artifact=a, label=a.filename) for a in resolution.artifacts]
    build.refuse_sdists(runs, policy)
    with _timed(result, "fetch"):
        stages.fetch(runs, stages.fetcher, progress, build.needs_fetch)
    with _timed(result, "verify"):
        verify.verify_all(runs, request=request, policy=policy, fetcher=stages.fetcher)
    with _timed(result, "scan"):
        scan.scan_all(
            runs,
            limits=policy.scan.limits.to_limits(),
            policy_digest=result.policy_digest or policy.digest(),
            cache=stages.cache,
            progress=progress,
        )
    result.notes += [
        f"the cached scan of {sha[:16]}… failed its integrity check and was discarded; "
        "the file was scanned again"
        for sha in stages.cache.discarded
    ]
    _decide(runs, policy)
    if not all(r.vetted for r in runs):
        return _blocked(result, policy)
    if dry_run_done(result):
        return None
    if confirm is not None and not confirm(result):
        result.outcome, result.exit_code = "declined", EXIT_BLOCKED
        return None
    with _timed(result, "install"):
        _install(request, policy, journal, command, result)
    return None


def dry_run_done(result: InstallResult) -> bool:
    if result.dry_run:
        result.outcome, result.exit_code = "would-install", EXIT_OK
    return result.dry_run


def _blocked(result: InstallResult, policy: Policy) -> None:
    _decide(result.artifacts, policy)
    result.outcome, result.exit_code = "blocked", EXIT_BLOCKED


def _decide(runs: Sequence[ArtifactRun], policy: Policy) -> None:
    from safe_pip.gate.vet import decide_all

    decide_all(runs, policy)


def _install(
    request: InstallRequest,
    policy: Policy,
    journal: Journal,
    command: Sequence[str],
    result: InstallResult,
) -> None:
    runs = result.artifacts
    files = [
        install.VettedFile(r.path, r.sha256, r.name, r.version or "")
        for r in runs
        if r.path is not None and r.sha256 is not None
    ]
    journal.intent(
        command=command, target=str(result.target), artifacts=[r.to_dict() for r in runs]
    )
    done = install.install(
        result.target,
        files,
        request.install_args,
        allow_sdist=policy.install.allow_sdist,
    )
    if done.interrupted:
        result.notes.append(
            f"{done.interrupted} arrived while pip was installing the vetted files; pip was "
            "allowed to finish so that the environment is not left half-installed"
        )
    if done.ok:
        result.installed = [f"{f.name} {f.version}" for f in files]
        result.outcome, result.exit_code = "installed", EXIT_OK
        return
    present = done.present
    if present is None:
        result.notes.append("could not tell which of the vetted files pip installed")
    else:
        result.installed = [
            f"{f.name} {f.version}" for f in files if present.get(f.name) == f.version
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


__all__ = ["InstallResult", "Interrupted", "Stages", "dt", "run"]
