"""``.npy`` arrays, parsed without numpy: object arrays are pickles, the rest is data.

``numpy.load(allow_pickle=True)`` unpickles the payload of an array whose dtype holds
objects — by numpy's rules, which :mod:`npdtype` follows: ``'O'``, ``'object'``,
``'O8'``, ``'(2,)O'``, ``'i4,O'``, structured and nested fields of any of them — so that
payload goes through the pickle engine, read as ``pickle.load`` reads it.  A dtype
safe-pip cannot name is treated as one that may hold objects, and even raw numbers are
tried as a pickle (quietly, reported only if they would do something): it is cheap.
Bytes after the array that numpy never reads are a finding.  The header is a Python
literal; it is parsed with ``ast.literal_eval`` under a size bound, never ``eval``.
"""

from __future__ import annotations

import ast
import re
import struct

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats import npdtype
from safe_pip.scan.formats.pickle import PickleRead, plausible, report

_MAX_HEADER = 1 << 20
_PY2_LONG = re.compile(r"\b(\d+)L\b")


def read_npy(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("numpy")
    head = blob.read(0, 12)
    if len(head) < 10:
        ctx.report("ARCHIVE-CORRUPT", "numpy file shorter than its header", location)
        return
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack_from("<I", head, 8)
        start = 12
    else:
        ctx.report("ARCHIVE-CORRUPT", f"unknown numpy format version {major}", location)
        return
    if hlen > _MAX_HEADER or start + hlen > blob.size:
        ctx.report("ARCHIVE-CORRUPT", "numpy header length is out of bounds", location)
        return
    raw = blob.read(start, hlen).decode("utf-8" if major == 3 else "latin-1", "replace")
    raw = _PY2_LONG.sub(r"\1", raw)  # numpy writes (2L,) for shapes saved under Python 2
    try:
        header = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        ctx.report("ARCHIVE-CORRUPT", "numpy header is not a Python literal", location)
        return
    if not isinstance(header, dict) or "descr" not in header:
        ctx.report("ARCHIVE-CORRUPT", "numpy header has no 'descr'", location)
        return
    from safe_pip.scan.formats.pickle_reader import follow, may_load

    payload = start + hlen
    dtype = npdtype.from_descr(header["descr"])
    read = PickleRead(ctx, blob, location)
    if dtype.hasobject is not False:
        ctx.saw("numpy-object")
        follow(read, read.load(payload))
        report(read)
        return
    # Numbers that parse as a pickle which would do something; where their first byte
    # stops both unpicklers before any import (``may_load``), none can be ``plausible``.
    if may_load(blob.sub(payload, blob.size - payload)):
        read.load(payload)
        if plausible(read):
            report(read)
    _check_size(ctx, blob, location, depth, header.get("shape"), dtype, payload)


def _check_size(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    depth: int,
    shape: object,
    dtype: npdtype.DType,
    at: int,
) -> None:
    """numpy reads exactly ``count * itemsize`` bytes: anything after them is unaccounted."""
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        ctx.report("ARCHIVE-CORRUPT", "numpy header has no valid shape", location)
        return
    if dtype.itemsize is None:
        return
    count = 1
    for n in shape:
        count *= n
    end = at + count * dtype.itemsize
    if end > blob.size:
        ctx.report("ARCHIVE-CORRUPT", "numpy array data runs past the end of the file", location)
    elif end < blob.size:
        from safe_pip.scan.core.dispatch import unaccounted

        unaccounted(ctx, blob, end, location, "after the numpy array data", depth)
