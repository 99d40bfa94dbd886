"""Raw pickle files and members, under any name (``.bin``, ``.json``, none).

``pickle.load`` reads from byte 0; code that calls it again on the same file reads on
from wherever the previous load left the file, so every stream is followed to its end
and the next one started there (at each place loaders disagree on).  A legacy torch
file is recognised by its first stream, the magic number, and read on the way
``torch.load`` reads it.  Bytes after the last complete stream that do not make a
loader import or call anything are data, not a finding.
"""

from __future__ import annotations

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import PLAIN, Loader, PickleRead, Stream, plausible
from safe_pip.scan.formats.pickle.analyze import TORCH_LEGACY_MAGIC


def read_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data with a protocol 2+ header: a pickle for certain."""
    scan(ctx, blob, location)


def probe_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data that may be a header-less protocol 0/1 pickle: report only if it parses."""
    if not scan(ctx, blob, location, probe=True):
        ctx.saw("data")


def scan(ctx: ScanContext, blob: Blob, location: str, *, probe: bool = False) -> bool:
    """Read ``blob`` as ``pickle.load`` would, again and again; report what it does.

    With ``probe`` nothing is reported, and False returned, unless the data really is a
    pickle that would do something (see :func:`plausible`).
    """
    read = PickleRead(ctx, blob, location)
    first = read.load(0)
    if probe and not plausible(read):
        return False
    if first.complete and type(first.value) is int and first.value == TORCH_LEGACY_MAGIC:
        from safe_pip.scan.formats import torch

        torch.follow_legacy(read, first)
    else:
        follow(read, first)
    from safe_pip.scan.formats import joblib

    joblib.report_pickle(read)
    return True


def follow(read: PickleRead, stream: Stream, loader: Loader = PLAIN) -> None:
    """Load again wherever ``stream`` may have left the file, until nothing follows."""
    limit = read.ctx.limits.max_streams
    frontier = list(stream.ends)
    seen = {stream.start}
    while frontier:
        pos = frontier.pop(0)
        if pos in seen or pos >= read.blob.size:
            continue
        seen.add(pos)
        if len(seen) > limit:
            read.ctx.report(
                "PICKLE-LIMIT",
                f"more than {limit} concatenated pickle streams; the rest was not read",
                f"{read.location}@{pos}",
            )
            return
        nxt = read.load(pos, loader, keep=False)
        if nxt.complete:
            frontier.extend(nxt.ends)
