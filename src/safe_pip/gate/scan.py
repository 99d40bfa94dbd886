"""Scan stage: every quarantined file through the scanner, or its cached, MAC-checked result.

The scanner itself (:mod:`safe_pip.scan`) takes bytes and limits and knows nothing of pip;
this stage feeds it the files the run fetched or built, with the target environment they
will be installed into (so shadowing is computed against what that environment holds), keyed
in the scan-result cache by sha256, scanner version, policy digest and that environment's
digest. Uncached files are scanned in a small process
pool when there are several: one large checkpoint then no longer holds up twenty small
wheels, and the two cores of a laptop are both used.

After the per-file scans, :func:`scan_together` judges the wheels of one install as a set
(two of them writing the same file: ``WHEEL-OVERLAP``). That depends on the set, not on one
file's bytes, so it is never cached; and it exists only where there is a set (``safe-pip
install``, ``lock``, a build's requirements), not in ``safe-pip serve``, which vets one file
at a time.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.gate.state import ArtifactRun, ProgressFactory
from safe_pip.models import ScanResult, TargetEnvironment
from safe_pip.scan import SCANNER_VERSION
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits
from safe_pip.scan.dist import overlap
from safe_pip.scan.dist.shadowing import environment_digest

POOL_MIN_BYTES = 256 << 20
"""Below this much uncached data the pool's start-up (a forkserver importing the scanner)
costs more than it saves (bench/install: 40 MB of models scan in about a second in-thread,
while verify's requests run beside it)."""


def default_cache() -> ScanResultCache:
    from safe_pip.gate.fetch import cache_dir

    return ScanResultCache(cache_dir() / "scan-results")


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: workers are forked from a clean single-threaded server
    that has the scanner imported already (forking this process, whose other threads hold
    locks of their own while verify works, could leave a worker stuck on one)."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["safe_pip.scan.core.engine"])
        return ctx
    return multiprocessing.get_context(None)


def _scan_one(
    path: str, limits: Limits | None, display: str, target: TargetEnvironment | None
) -> ScanResult:
    return scan_path(Path(path), limits=limits, display=display, target=target)


def scan_all(
    runs: Sequence[ArtifactRun],
    *,
    limits: Limits | None,
    policy_digest: str,
    cache: ScanResultCache,
    progress: ProgressFactory,
    workers: int | None = None,
    attach: bool = True,
    target: TargetEnvironment | None = None,
) -> None:
    """Attach a scan result to every run that has a quarantined file; ``attach``: also add
    its findings to the run's (the caller does it itself when verify runs meanwhile).

    ``target``: the environment the files go into (None: the scanner's shipped default
    stands in); a cached result counts only for the environment it was judged against.
    """
    todo = [r for r in runs if r.path is not None and r.sha256 is not None]
    environment = environment_digest(target)
    bar = progress(len(todo), "scanning")
    try:
        uncached: list[ArtifactRun] = []
        for run in todo:
            assert run.sha256 is not None
            cached = cache.get(run.sha256, SCANNER_VERSION, policy_digest, environment=environment)
            if cached is None:
                uncached.append(run)
                continue
            run.scan, run.scan_cached = cached, True
            bar.advance(run.label)
        size = sum(r.size or 0 for r in uncached)
        workers = workers if workers is not None else min(len(uncached), os.cpu_count() or 1, 4)
        if workers > 1 and size >= POOL_MIN_BYTES:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
                # Largest first: the long scans start at once, small ones fill the gaps.
                order = sorted(uncached, key=lambda r: -(r.size or 0))
                futures: list[tuple[ArtifactRun, Future[ScanResult]]] = [
                    (r, pool.submit(_scan_one, str(r.path), limits, r.label, target)) for r in order
                ]
                for run, future in futures:
                    run.scan = future.result()
                    bar.advance(run.label)
        else:
            for run in uncached:
                assert run.path is not None
                run.scan = scan_path(run.path, limits=limits, display=run.label, target=target)
                bar.advance(run.label)
        for run in uncached:
            assert run.sha256 is not None and run.scan is not None
            cache.put(run.sha256, SCANNER_VERSION, policy_digest, run.scan, environment=environment)
        for run in todo if attach else ():
            assert run.scan is not None
            run.findings.extend(run.scan.findings)
    finally:
        bar.close()


def scan_together(
    runs: Sequence[ArtifactRun], *, target: TargetEnvironment | None, limits: Limits | None
) -> None:
    """Add ``WHEEL-OVERLAP`` findings to the wheels of ``runs`` (one install: pip installs
    them all into one place) that write the same file with different content.

    Names are compared as the file system of the target interpreter's folder compares them
    (case-folded only where it folds case); without a target (a build's requirements, which
    go into an environment of this interpreter) as this interpreter's prefix does.
    """
    wheels = {
        r.label: r.path
        for r in runs
        if r.path is not None and r.artifact is not None and r.artifact.kind == "wheel"
    }
    if len(wheels) < 2:
        return
    where = (
        os.path.dirname(target.python_executable)
        if target is not None and target.python_executable
        else sys.prefix
    )
    found, unreadable = overlap.overlaps(
        wheels,
        python=target.python_version if target is not None else None,
        fold_case=overlap.case_insensitive(where),
        max_member_bytes=(limits or Limits()).max_member_bytes,
    )
    by_wheel = overlap.findings(found, unreadable)
    for run in runs:
        run.findings.extend(by_wheel.get(run.label, ()))
