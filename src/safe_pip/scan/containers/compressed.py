"""gzip, bzip2, xz, lzma, zlib and LZ4-frame wrappers: decompress with bounds, scan what is inside.

Compressed pickles (``torch.save`` to a ``.gz``, joblib's zlib/lzma/lz4 dumps) load
transparently in many tools, so the scanner must look through them.  Output is
bounded by the member and total byte limits and by a compression-ratio check,
so a bomb costs a finding, not the machine.  A truncated stream is a finding,
and whatever was decompressed before the damage is still scanned: a loader
would have run it.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from safe_pip.scan.core.blob import SPILL_AT, Blob, Spool, Tap
from safe_pip.scan.core.context import ScanContext

_IN_CHUNK = 1 << 16
_OUT_CHUNK = 1 << 22
_RATIO_FLOOR = 256 << 20
"""The ratio check starts here: a test fixture of zeros (onnx ships some) legitimately
inflates ~1000:1, while a bomb is caught long before it costs real time or disk."""
_DRAIN_CAP = 1 << 28


class _Bomb(Exception):
    pass


def inflate(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    make: Callable[[], Any],
    *,
    kind: str,
    multi_member: bool = False,
    spool: Spool | None = None,
) -> tuple[Spool, str | None]:
    """Decompress ``blob`` into ``spool`` (a new one by default); returns it and an error
    message or None. A :class:`Tap` given as ``spool`` learns the cap and whether a limit
    stopped the inflation, for :func:`again`."""
    lim = ctx.limits
    cap = min(lim.max_member_bytes, max(0, lim.max_total_bytes - ctx.bytes_read))
    out = Spool() if spool is None else spool
    if isinstance(out, Tap):
        out.cap = cap
    try:
        return out, _pump(ctx, blob, location, make, out, cap, kind, multi_member)
    except _Bomb as exc:
        if isinstance(out, Tap):
            out.stopped = True
        ctx.report("ARCHIVE-LIMIT", f"{kind} data {exc}", location)
        return out, None
    finally:
        ctx.charge_bytes(out.size, location)


def again(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    make: Callable[[], Any],
    tap: Tap,
    *,
    kind: str,
    multi_member: bool = False,
) -> Spool:
    """The bytes a dropped ``tap`` saw, inflated again into a Spool: the same input, cap
    and decompressor give the same output, to the same point. Nothing is reported or
    charged (:func:`inflate` did both once); the time budget is still checked."""
    spool = Spool()
    with contextlib.suppress(_Bomb):
        _pump(ctx, blob, location, make, spool, tap.cap, kind, multi_member)
    if spool.size != tap.size:  # cannot happen (deterministic); never scan other bytes
        raise RuntimeError(f"inflating again gave {spool.size} bytes, not {tap.size}")
    return spool


def _pump(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    make: Callable[[], Any],
    spool: Spool,
    cap: int,
    kind: str,
    multi_member: bool,
) -> str | None:
    """Inflate into ``spool``; the error message, or None. Raises _Bomb at a limit."""
    lim = ctx.limits
    d = make()
    consumed = 0

    def emit(out: bytes) -> None:
        spool.write(out)
        if spool.size > cap:
            raise _Bomb(f"decompresses to more than {cap} bytes")
        if spool.size > _RATIO_FLOOR and spool.size > lim.max_ratio * max(consumed, 1):
            raise _Bomb(f"compression ratio above {lim.max_ratio:.0f}:1 (decompression bomb)")

    try:
        ended = False  # the current stream reached its end marker
        for piece in blob.chunks(_IN_CHUNK):  # releases the input pages as it goes
            chunk = bytes(piece)
            consumed += len(chunk)
            # ``pending``: the last call filled the output cap and left no input over, so
            # the decompressor may hold more output for input it has already taken (zlib
            # does, at the end of highly compressible data): ask again with no new input.
            pending = False
            while chunk or pending:
                if ended:
                    # A next stream may follow (gzip skips zero padding before it), also
                    # when the previous one ended exactly where an input chunk did.
                    chunk = chunk.lstrip(b"\x00") if multi_member else b""
                    if not chunk:
                        break
                    d = make()
                    ended = False
                out = _step(d, chunk)
                emit(out)
                chunk = _leftover(d)
                pending = not chunk and len(out) >= _OUT_CHUNK
                if getattr(d, "eof", False):
                    ended = True
                    chunk = getattr(d, "unused_data", None) or b""
                    pending = False
            ctx.check_time(location)
            if ended and not multi_member:
                break  # trailing bytes after the stream are ignored
        if not ended:
            return f"{kind} stream is truncated"
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, RuntimeError) as exc:
        # (lz4 raises RuntimeError on any decode error)
        return f"{kind} data is corrupt: {exc}"
    return None


WHOLE_MAX = 1 << 20
"""Compressed size up to which :func:`inflate_at_once` tries one call first."""


def inflate_at_once(
    ctx: ScanContext, blob: Blob, location: str, make: Callable[[], Any]
) -> Spool | None:
    """What :func:`inflate` returns for one small stream that ends cleanly within every
    bound, from one decompressor call instead of its loop over 64 KiB pieces: most wheel
    members are a few KiB, and the loop's bookkeeping per piece cost more than inflating
    them. None when anything would make ``inflate`` report or stop early (corrupt or
    truncated data, output past a cap or past what stays in memory): the caller then runs
    ``inflate``, which says what happened. Same bytes, same charges, same time check."""
    if blob.size > WHOLE_MAX:
        return None
    lim = ctx.limits
    cap = min(lim.max_member_bytes, max(0, lim.max_total_bytes - ctx.bytes_read), SPILL_AT)
    d = make()
    try:
        out = d.decompress(blob.read(0, blob.size), cap + 1)
    except zlib.error:
        return None
    if not d.eof or len(out) > cap:
        return None
    spool = Spool()
    try:
        spool.write(out)
        ctx.check_time(location)
    finally:
        ctx.charge_bytes(spool.size, location)
    return spool


def _step(d: Any, chunk: bytes) -> bytes:
    return bytes(d.decompress(chunk, _OUT_CHUNK))


def _leftover(d: Any) -> bytes:
    """Input the decompressor has not consumed yet because of the output cap."""
    tail = getattr(d, "unconsumed_tail", None)
    if tail is not None:  # zlib
        return bytes(tail)
    if not getattr(d, "needs_input", True) and not getattr(d, "eof", False):
        return b""  # bz2/lzma keep it internally: ask again with no new input
    return b""


def _drain(d: Any) -> bytes:
    out = bytearray()
    while not getattr(d, "needs_input", True) and not getattr(d, "eof", False):
        piece = d.decompress(b"", _OUT_CHUNK)
        if not piece:
            break
        out += piece
        if len(out) > _DRAIN_CAP:
            raise _Bomb(f"one input chunk expands past {_DRAIN_CAP} bytes (decompression bomb)")
    return bytes(out)


def _read(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    depth: int,
    make: Callable[[], Any],
    kind: str,
    *,
    multi_member: bool = False,
    quiet_if_bogus: bool = False,
) -> None:
    from safe_pip.scan.core.dispatch import scan_blob

    ctx.saw(kind)
    spool, error = inflate(
        ctx, blob, location, lambda: _Draining(make()), kind=kind, multi_member=multi_member
    )
    if error is not None and spool.size == 0 and quiet_if_bogus:
        ctx.saw(kind, -1)  # through saw: a split wheel's child journals it
        ctx.saw("data")
        return
    if error is not None:
        ctx.report(
            "ARCHIVE-CORRUPT", f"{error}; scanned the {spool.size} bytes before it", location
        )
    with spool.blob() as inner:
        if inner.size:
            scan_blob(ctx, inner, location, depth + 1)


class _Draining:
    """Adapts bz2/lzma decompressors so one call returns all output for the input given."""

    def __init__(self, d: Any) -> None:
        self._d = d

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._d.decompress(data, max_length)
        if hasattr(self._d, "unconsumed_tail"):
            return bytes(out)
        return bytes(out) + _drain(self._d)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._d, name)


def read_gzip(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    _read(ctx, blob, location, depth, lambda: zlib.decompressobj(31), "gzip", multi_member=True)


def read_zlib(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    _read(ctx, blob, location, depth, zlib.decompressobj, "zlib", quiet_if_bogus=True)


def read_bz2(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    _read(ctx, blob, location, depth, bz2.BZ2Decompressor, "bzip2", multi_member=True)


def read_xz(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    _read(
        ctx,
        blob,
        location,
        depth,
        lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
        "xz",
        multi_member=True,
    )


def read_lzma(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    _read(
        ctx,
        blob,
        location,
        depth,
        lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE),
        "lzma",
        multi_member=True,  # lzma.LZMAFile (joblib's reader) goes on into a next stream
        quiet_if_bogus=True,
    )


def read_lz4(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """LZ4 frames, read as ``lz4.frame.LZ4FrameFile`` (joblib's lz4 reader) reads them.

    That reader goes on into a next frame after one ends and, unlike bz2's or lzma's, ignores
    no trailing garbage: a decode error there is an error of the load, so here a finding.
    """
    import lz4.frame  # imported on first use: most scans meet no LZ4 data

    _read(ctx, blob, location, depth, lz4.frame.LZ4FrameDecompressor, "lz4", multi_member=True)
