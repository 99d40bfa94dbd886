"""Raw pickle files and members, under any name (``.bin``, ``.json``, none)."""

from __future__ import annotations

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import scan_pickle


def read_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data with a protocol 2+ header: a pickle for certain."""
    scan_pickle(ctx, blob.buf, location, start=blob.start, end=blob.end)


def probe_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data that may be a header-less protocol 0/1 pickle: report only if it parses."""
    if scan_pickle(ctx, blob.buf, location, start=blob.start, end=blob.end, probe=True) is None:
        ctx.saw("data")
