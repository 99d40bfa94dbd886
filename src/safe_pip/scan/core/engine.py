"""Public scanning API: files and folders in, one :class:`ScanResult` per file out.

``scan_path`` is what ``safe-pip scan`` and the install gate call.  A folder is
walked recursively and every regular file in it becomes its own target, so a
verdict names the exact file; symlinks are not followed out of the tree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip import own_hooks
from safe_pip.models import ScanResult, TargetEnvironment
from safe_pip.scan.core.blob import open_file
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.core.dispatch import scan_blob
from safe_pip.scan.core.limits import Limits

if TYPE_CHECKING:
    from concurrent.futures import Executor


def scan_path(
    path: Path,
    *,
    limits: Limits | None = None,
    display: str | None = None,
    target: TargetEnvironment | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Scan one file (of any kind) and everything nested inside it.

    ``target`` is the environment the file will be installed into (the install gate builds
    it from the target interpreter): shadowing is computed against what it holds and Python
    source is read with its grammar. Without it (``safe-pip scan``) the shipped default
    environment stands in and every Python reading is considered.

    ``workers``: processes that analyse Python source while this one inflates and hashes
    (None: one per core, up to 4, for files of at least ``POOL_MIN_BYTES`` on a machine with
    two or more cores, never inside a worker process of its own; 0: none).
    """
    ctx = ScanContext(limits, target)
    name = display or str(path)
    size: int | None = None
    try:
        size = path.stat().st_size
        with _pool_for(size, workers) as pool:
            ctx.pool = pool
            # A budget exhausted deep inside has already been reported as a finding.
            with open_file(path) as blob, contextlib.suppress(BudgetExhausted):
                try:
                    scan_blob(ctx, blob, name, 0)
                finally:
                    ctx.drain()
    except OSError as exc:
        ctx.report("SCAN-UNREADABLE", f"cannot read the file: {exc.strerror or exc}", name)
    _own_hook(ctx, path, name, size)
    return ScanResult(
        target=name,
        findings=tuple(ctx.findings),
        skipped=tuple(ctx.skipped),
        inventory=dict(ctx.inventory),
        size=size,
    )


_HOOK_MAX = 1 << 20


def _own_hook(ctx: ScanContext, path: Path, name: str, size: int | None) -> None:
    """safe-pip's own start-up hook is known by digest; a changed copy is a finding."""
    if not (path.suffix == ".pth" or path.name in own_hooks.HOOK_FILES):
        return
    if size is None or size > _HOOK_MAX:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return
    if not own_hooks.claims_to_be_hook(path.name, data):
        return
    if own_hooks.recognise(path) is not None:
        ctx.saw("safe-pip hook")
        return
    ctx.report(
        "SCAN-HOOK-MODIFIED",
        f"{path.name} presents itself as safe-pip's start-up hook but its content is not "
        "one safe-pip wrote",
        name,
    )


POOL_MIN_BYTES = 1 << 20
"""Below this a worker's start-up (a fork, ~30 ms) costs more than the parsing it takes over."""


@contextlib.contextmanager
def _pool_for(size: int, workers: int | None) -> Iterator[Executor | None]:
    if (workers is None and size < POOL_MIN_BYTES) or (workers is not None and workers <= 0):
        yield None  # decided without importing multiprocessing (a short scan's start-up)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if workers is None:
        nested = multiprocessing.parent_process() is not None
        cores = os.cpu_count() or 1
        workers = 0 if nested or size < POOL_MIN_BYTES or cores < 2 else min(cores, 4)
    if workers <= 0 or "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand folders into their regular files, in a stable order."""
    for p in paths:
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    fp = Path(root) / f
                    if fp.is_symlink() and not fp.resolve().is_relative_to(p.resolve()):
                        continue
                    if fp.is_file():
                        yield fp
        else:
            yield p
