"""Raw pickle files and members, under any name (``.bin``, ``.json``, none).

``pickle.load`` reads from byte 0; code that calls it again on the same file reads on
from wherever the previous load left the file, so every stream is followed to its end
and the next one started there (at each place loaders disagree on).  A legacy torch
file is recognised by its first stream, the magic number, and read on the way
``torch.load`` reads it.  Bytes after the last complete stream that do not make a
loader import or call anything are data, not a finding.
"""

from __future__ import annotations

import pickletools

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import PLAIN, Loader, PickleRead, Stream, plausible
from safe_pip.scan.formats.pickle.analyze import TORCH_LEGACY_MAGIC


def read_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data with a protocol 2+ header: a pickle for certain."""
    scan(ctx, blob, location)


def probe_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Data that may be a header-less protocol 0/1 pickle: report only if it parses."""
    if not _may_import(blob) or not scan(ctx, blob, location, probe=True):
        ctx.saw("data")


_OPCODES = frozenset(op.code.encode("latin-1")[0] for op in pickletools.opcodes)
"""Bytes the unpickler accepts as an opcode: any other first byte fails the load at once."""

_NEEDS_STACK = frozenset(b"dltueoasR\x93")
"""First opcodes that take a MARK (DICT, LIST, TUPLE, APPENDS, SETITEMS, OBJ) or a value
(APPEND, SETITEM, REDUCE, STACK_GLOBAL's two strings) off the stack before reading anything
else. At byte 0 the stack is empty: CPython's C and pure-Python unpicklers both stop right
there, having imported nothing, so no reading of the data can be :func:`plausible` (Python
source starting with ``def``, ``try`` or ``async`` is such data, and every ``.npy`` file:
its magic ``\x93NUMPY`` starts with STACK_GLOBAL)."""
_INST = ord("i")
_DOTTED_NAME = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_LINE_LOOKAHEAD = 4096
"""Bytes :func:`_may_import` reads (``core.dispatch.KEEP_HEAD`` keeps at least as many)."""


def _may_import(blob: Blob) -> bool:
    """Could ``pickle.load`` from byte 0 import a global :func:`plausible` counts (module
    and name both dotted identifiers)? False only where both unpicklers provably cannot.

    INST (``i``) at byte 0: the C unpickler looks for its MARK first and stops; the
    pure-Python one reads the module line and the name line, imports, then stops on the
    missing MARK. Its one import's module is the rest of the first line, so a first line
    with anything but letters, digits, ``_`` and ``.`` (``import os``: a space) imports
    no dotted name, and nothing else is read.
    """
    first = blob.head(_LINE_LOOKAHEAD)
    if not first:
        return False
    if first[0] in _NEEDS_STACK:
        return False
    if first[0] == _INST:
        end = first.find(b"\n", 1)
        if end > 0 and not _DOTTED_NAME.issuperset(first[1:end]):
            return False
    return True


def may_load(blob: Blob) -> bool:
    """Could :func:`try_as_pickle` read anything of ``blob``? It reads nothing when the first
    byte is no opcode or :func:`_may_import` rules an import out; both look at the first
    4096 bytes only (``core.dispatch`` decides from them whether a streamed member needs
    its bytes)."""
    return bool(blob.size) and blob.read(0, 1)[0] in _OPCODES and _may_import(blob)


def try_as_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int = 0) -> None:
    """``pickle.load`` from byte 0 of data another reader claimed: reported only if it
    would import and call something (see :func:`plausible`)."""
    if may_load(blob):
        scan(ctx, blob, location, probe=True)


def scan(ctx: ScanContext, blob: Blob, location: str, *, probe: bool = False) -> bool:
    """Read ``blob`` as ``pickle.load`` would, again and again; report what it does.

    With ``probe`` nothing is reported, and False returned, unless the data really is a
    pickle that would do something (see :func:`plausible`).
    """
    read = PickleRead(ctx, blob, location)
    first = read.load(0)
    if first.complete and type(first.value) is int and first.value == TORCH_LEGACY_MAGIC:
        from safe_pip.scan.formats import torch

        torch.follow_legacy(read, first)
    else:
        follow(read, first)
    # judged after every stream is read: a harmless first stream can be followed by one
    # that imports and calls (a loader that loads again reads it)
    if probe and not plausible(read):
        return False
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
