"""safetensors: a JSON header of tensor descriptors followed by raw bytes.

The format cannot carry code, which is why attackers *name* pickles
``.safetensors``, and why loaders that trust the header can be pushed to read
out of bounds.  This reader checks what the ``safetensors`` crate checks: the
header length is bounded, the header is a JSON object, every dtype is known,
shapes are non-negative integers whose byte size matches the offsets, and the
offsets are in bounds, sorted, non-overlapping and cover the data exactly.
Tensor bytes are never read.  ``__metadata__`` must map strings to strings.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext

MAX_HEADER = 100_000_000
"""The limit the safetensors crate enforces on the JSON header."""

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def read_safetensors(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("safetensors")
    problems, end = _check(blob)
    for problem in problems[:20]:
        ctx.report("MODEL-MALFORMED", f"safetensors: {problem}", location)
    if end is not None and end < blob.size:
        from safe_pip.scan.core.dispatch import unaccounted

        unaccounted(ctx, blob, end, location, "after the safetensors payload", depth)


def _check(blob: Blob) -> tuple[list[str], int | None]:
    """The header's problems, and where the data it describes ends (None if unknown)."""
    if blob.size < 8:
        return ["file shorter than its 8-byte header length"], None
    (n,) = struct.unpack("<Q", blob.read(0, 8))
    if n > MAX_HEADER:
        return [f"header length {n} exceeds the {MAX_HEADER}-byte limit"], None
    if 8 + n > blob.size:
        return [f"header length {n} runs past the end of the file"], None
    try:
        header = json.loads(blob.read(8, n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [f"header is not valid UTF-8 JSON ({exc})"], None
    if not isinstance(header, dict):
        return ["header is not a JSON object"], None
    data_size = blob.size - 8 - n
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, desc in header.items():
        if name == "__metadata__":
            if not isinstance(desc, dict) or not all(isinstance(v, str) for v in desc.values()):
                problems.append("__metadata__ must map strings to strings")
            continue
        span = _tensor(name, desc, problems)
        if span is not None:
            spans.append(span)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else "leaves a gap before it"
            problems.append(f"tensor {name!r} at {begin} {what}")
        pos = max(pos, end)
    if pos > data_size:
        problems.append(f"tensor data ends at {pos}, past the {data_size} bytes present")
    # bytes after the last tensor (or after the header, with no tensors at all) are no
    # tensor's: the caller reports and scans them
    return problems, 8 + n + pos


def _tensor(name: str, desc: Any, problems: list[str]) -> tuple[int, int, str] | None:
    if not isinstance(desc, dict):
        problems.append(f"tensor {name!r} is not described by an object")
        return None
    dtype, shape, offsets = desc.get("dtype"), desc.get("shape"), desc.get("data_offsets")
    if dtype not in DTYPE_BITS:
        problems.append(f"tensor {name!r} has unknown dtype {dtype!r}")
        return None
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        problems.append(f"tensor {name!r} has an invalid shape {shape!r}")
        return None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        problems.append(f"tensor {name!r} has invalid data_offsets {offsets!r}")
        return None
    bits = math.prod(shape) * DTYPE_BITS[str(dtype)]
    if (bits + 7) // 8 != offsets[1] - offsets[0]:
        problems.append(
            f"tensor {name!r}: {dtype}{shape} needs {(bits + 7) // 8} bytes, offsets give "
            f"{offsets[1] - offsets[0]}"
        )
    return offsets[0], offsets[1], name
