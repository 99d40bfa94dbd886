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

from safe_pip import own_hooks
from safe_pip.models import ScanResult
from safe_pip.scan.core.blob import open_file
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.core.dispatch import scan_blob
from safe_pip.scan.core.limits import Limits


def scan_path(
    path: Path, *, limits: Limits | None = None, display: str | None = None
) -> ScanResult:
    """Scan one file (of any kind) and everything nested inside it."""
    ctx = ScanContext(limits)
    name = display or str(path)
    size: int | None = None
    try:
        size = path.stat().st_size
        # A budget exhausted deep inside has already been reported as a finding.
        with open_file(path) as blob, contextlib.suppress(BudgetExhausted):
            scan_blob(ctx, blob, name, 0)
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
