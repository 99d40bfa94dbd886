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

from safe_pip.models import ScanResult, TargetEnvironment
from safe_pip.scan.core.blob import open_file
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.core.dispatch import scan_blob
from safe_pip.scan.core.limits import Limits


def scan_path(
    path: Path,
    *,
    limits: Limits | None = None,
    display: str | None = None,
    target: TargetEnvironment | None = None,
) -> ScanResult:
    """Scan one file (of any kind) and everything nested inside it.

    ``target`` is the environment the file will be installed into (the install gate builds
    it from the target interpreter): shadowing is computed against what it holds and Python
    source is read with its grammar. Without it (``safe-pip scan``) the shipped default
    environment stands in and every Python reading is considered.
    """
    ctx = ScanContext(limits, target)
    name = display or str(path)
    size: int | None = None
    try:
        size = path.stat().st_size
        # A budget exhausted deep inside has already been reported as a finding.
        with open_file(path) as blob, contextlib.suppress(BudgetExhausted):
            scan_blob(ctx, blob, name, 0)
    except OSError as exc:
        ctx.report("SCAN-UNREADABLE", f"cannot read the file: {exc.strerror or exc}", name)
    return ScanResult(
        target=name,
        findings=tuple(ctx.findings),
        skipped=tuple(ctx.skipped),
        inventory=dict(ctx.inventory),
        size=size,
    )


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
