"""Vet artifacts the way the install gate does: fetch, verify, scan, decide.

The install pipeline runs these stages over every artifact of one resolution; the
organisation's index (:mod:`safe_pip.server`) runs them over one file at a time, the first
time a client asks for it. Both go through :func:`vet`, so a file the index serves was judged
by exactly the code that judges it in ``safe-pip install`` (same verifiers, same scanner,
same policy arithmetic) -- there is no second, server-only notion of "vetted".

:func:`vet` works on :class:`~safe_pip.gate.state.ArtifactRun` records in place, the shape
every report already renders; :func:`vet_artifact` wraps it for a caller that holds one
resolved file and no install request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from safe_pip.gate import build, scan, verify
from safe_pip.gate.inputs import IndexSettings, InstallRequest, ResolveOptions
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.state import ArtifactRun, ProgressFactory, no_progress
from safe_pip.models import Decision, Verdict

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from safe_pip.gate.fetch import Fetcher
    from safe_pip.gate.scan_cache import ScanResultCache
    from safe_pip.policy.model import Policy

Timer = Callable[[str], AbstractContextManager[object]]
"""``stage name -> context manager`` around each stage (the pipeline times them)."""


def _untimed(stage: str) -> AbstractContextManager[object]:
    return nullcontext()


def vet(
    runs: Sequence[ArtifactRun],
    *,
    request: InstallRequest,
    policy: Policy,
    fetcher: Fetcher,
    cache: ScanResultCache,
    progress: ProgressFactory = no_progress,
    timed: Timer = _untimed,
    fetch: Callable[..., None] | None = None,
) -> None:
    """Fetch, verify, scan and decide every run; each ends with a verdict.

    ``fetch`` is the fetch stage (default :func:`safe_pip.gate.fetch.fetch_stage`); a failure
    to fetch raises :class:`~safe_pip.errors.FetchError` and nothing is decided, so nothing
    can be allowed.
    """
    from safe_pip.gate.fetch import fetch_stage

    build.refuse_sdists(runs, policy)
    digest = policy.digest()
    with timed("fetch"):
        (fetch or fetch_stage)(runs, fetcher, progress, build.needs_fetch)
    with timed("verify"):
        for note in verify.verify_all(runs, request=request, policy=policy, fetcher=fetcher):
            _log.warning("%s", note)  # the server's operator sees it; the file is still vetted
    with timed("scan"):
        scan.scan_all(
            runs,
            limits=policy.scan.limits.to_limits(),
            policy_digest=digest,
            cache=cache,
            progress=progress,
        )
    decide_all(runs, policy)


def decide_all(runs: Sequence[ArtifactRun], policy: Policy) -> None:
    """Set every run's verdict from its findings; nothing unfetched is ever allowed."""
    from safe_pip.decide import decide

    for run in runs:
        verdict = decide(
            run.findings,
            target=run.label,
            policy=policy,
            package=run.artifact.name if run.artifact else None,
            version=run.version,
            sha256=run.sha256,
        )
        if verdict.allowed and run.artifact is not None and run.path is None:
            # Never allow what was not fetched and hashed in this run.
            verdict = Verdict(
                run.label,
                Decision.BLOCK,
                verdict.blocking,
                verdict.warnings,
                notes=("not fetched",),
            )
        run.verdict = verdict


def vet_artifact(
    artifact: ResolvedArtifact,
    *,
    indexes: Sequence[str],
    policy: Policy,
    fetcher: Fetcher,
    cache: ScanResultCache,
) -> ArtifactRun:
    """Vet one file found on ``indexes`` (primary first) outside any install request.

    The indexes stand in for the request's index settings: the signature checks look for
    the file's PEP 740 provenance on their pages. No hash pins but the policy's apply.
    """
    urls = tuple(dict.fromkeys(indexes))
    request = InstallRequest(
        requirements=(),
        constraints=(),
        index=IndexSettings(index_url=urls[0] if urls else None, extra_index_urls=urls[1:]),
        options=ResolveOptions(),
    )
    run = ArtifactRun(artifact=artifact, label=artifact.filename)
    vet([run], request=request, policy=policy, fetcher=fetcher, cache=cache)
    return run


__all__ = ["Timer", "decide_all", "vet", "vet_artifact"]
