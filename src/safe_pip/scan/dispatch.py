"""Route a blob to the reader for its content, recursing into containers.

One function, :func:`scan_blob`, is the single entry for every member at every
depth: it sniffs, enforces the depth limit, turns unexpected reader failures
into findings (a crash must never mean "clean"), and records what it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from safe_pip.scan import sniff as S
from safe_pip.scan.blob import Blob
from safe_pip.scan.context import BudgetExhausted, ScanContext

Reader = Callable[[ScanContext, Blob, str, int], None]


@cache
def _readers() -> dict[str, Reader]:
    # Imported here: readers call back into scan_blob for nested members.
    from safe_pip.scan import archive, compressed, numpy, pickle_reader

    return {
        S.ZIP: archive.read_zip,
        S.ZIP_EMPTY: archive.read_zip,
        S.TAR: archive.read_tar,
        S.GZIP: compressed.read_gzip,
        S.BZIP2: compressed.read_bz2,
        S.XZ: compressed.read_xz,
        S.LZMA: compressed.read_lzma,
        S.ZLIB: compressed.read_zlib,
        S.PICKLE: pickle_reader.read_pickle,
        S.PICKLE_PROBE: pickle_reader.probe_pickle,
        S.NUMPY: numpy.read_npy,
    }


def scan_blob(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Scan one member (or top-level file) found at ``location``."""
    fmt = S.sniff(blob.head(S.HEAD), blob.size)
    if depth > ctx.limits.max_depth and fmt not in (S.DATA, S.EMPTY):
        ctx.report(
            "ARCHIVE-LIMIT",
            f"nested deeper than {ctx.limits.max_depth} containers; not opened",
            location,
        )
        return
    unsupported = S.unsupported_name(fmt)
    if unsupported is not None:
        ctx.saw(fmt)
        ctx.report(
            "ARCHIVE-UNSUPPORTED",
            f"{unsupported}: safe-pip cannot look inside, so its content is unknown",
            location,
            format=fmt,
        )
        return
    reader = _readers().get(fmt)
    if reader is None:
        ctx.saw(fmt)
        return
    try:
        reader(ctx, blob, location, depth)
    except BudgetExhausted:
        raise
    except RecursionError:
        ctx.report("ARCHIVE-LIMIT", "nesting too deep to follow", location)
    except Exception as exc:
        ctx.report(
            "SCAN-ERROR",
            f"{fmt} reader failed: {type(exc).__name__}: {exc}",
            location,
            format=fmt,
        )
