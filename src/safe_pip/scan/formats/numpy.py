"""``.npy`` arrays, parsed without numpy: object arrays are pickles, the rest is data.

``numpy.load(allow_pickle=True)`` unpickles the payload of an object-dtype
array, so that payload goes through the pickle engine.  Numeric arrays are raw
numbers and are clean.  The header is a Python literal; it is parsed with
``ast.literal_eval`` under a size bound, never ``eval``.
"""

from __future__ import annotations

import ast
import re
import struct

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import PickleRead, report

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
    if _has_object(header["descr"]):
        ctx.saw("numpy-object")
        from safe_pip.scan.formats.pickle_reader import follow

        read = PickleRead(ctx, blob, location)
        follow(read, read.load(start + hlen))
        report(read)


def _has_object(descr: object) -> bool:
    """True when the dtype description contains an object field anywhere."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):  # structured: [(name, type[, shape]), ...]
        return any(
            _has_object(field[1]) if isinstance(field, tuple) and len(field) >= 2 else True
            for field in descr
        )
    if isinstance(descr, tuple) and descr:  # (type, shape)
        return _has_object(descr[0])
    return True  # an unexpected shape: let the pickle engine decide
