"""Identify content by its bytes, never by its file name.

Scanners that trusted extensions were bypassed by renaming (``config.p``,
CVE-2025-1889) or by a raw pickle named ``.bin`` (CVE-2025-10155).  Every
member is classified from its first bytes; only formats with no magic number
(protocol 0/1 pickles, protobuf) are probed by actually parsing them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache

HEAD = 512
"""Bytes of a member read for sniffing (tar's magic sits at offset 257)."""

ZIP = "zip"
ZIP_EMPTY = "zip-empty"
TAR = "tar"
GZIP = "gzip"
BZIP2 = "bzip2"
XZ = "xz"
LZMA = "lzma"
ZLIB = "zlib"
SEVEN_ZIP = "7z"
RAR = "rar"
ZSTD = "zstd"
LZ4 = "lz4"
JOBLIB_ZFILE = "joblib-zfile"
PICKLE = "pickle"
PICKLE_PROBE = "pickle?"
NUMPY = "numpy"
GGUF = "gguf"
HDF5 = "hdf5"
SAFETENSORS = "safetensors"
EMPTY = "empty"
DATA = "data"

_UNSUPPORTED = {
    SEVEN_ZIP: "7-Zip archive",
    RAR: "RAR archive",
    ZSTD: "Zstandard-compressed data",
    "cab": "Microsoft Cabinet archive",
    "arj": "ARJ archive",
}

_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP_EMPTY),
    (b"PK\x07\x08", ZIP),
    (b"\x1f\x8b", GZIP),
    (b"BZh", BZIP2),
    (b"\xfd7zXZ\x00", XZ),
    (b"7z\xbc\xaf\x27\x1c", SEVEN_ZIP),
    (b"Rar!\x1a\x07", RAR),
    (b"\x28\xb5\x2f\xfd", ZSTD),
    (b"\x04\x22\x4d\x18", LZ4),
    (b"ZF", JOBLIB_ZFILE),
    (b"MSCF", "cab"),
    (b"\x60\xea", "arj"),
    (b"\x93NUMPY", NUMPY),
    (b"GGUF", GGUF),
    (b"\x89HDF\r\n\x1a\n", HDF5),
)


ONNX_FIRST = b"\x08"
"""First byte of every ONNX ModelProto (field 1, ir_version, a varint): the cheap half of
``formats.onnx.looks_like_onnx``, so data that cannot be one never imports that reader."""

FLATBUFFER_ID = b"PTMF"
"""The file identifier ``torch.jit.load`` checks at bytes 4-8 of a mobile flatbuffer."""


PICKLE_OPCODES = frozenset(
    b"().012BCFGIJKLMNPQRSTUVX]abcdeghijlopqrstu}" + bytes(range(0x80, 0x99))
)
"""Every byte CPython's unpicklers take as an opcode (``pickletools.opcodes``). Data whose
first byte is none of them is no pickle to any loader: both unpicklers stop at once with
"invalid load key", having read nothing else. Written out, not computed, so that sniffing
and routing data that cannot be a pickle never import the pickle reader (the test suite
checks the set against pickletools and against both real unpicklers, byte by byte)."""


def may_be_pickle(head: bytes) -> bool:
    """Could any unpickler read past the first byte of data starting with ``head``? False is
    certain (see :data:`PICKLE_OPCODES`); True only means the pickle reader must look."""
    return head[:1] != b"" and head[0] in PICKLE_OPCODES


def is_torch_flatbuffer(head: bytes, size: int) -> bool:
    """A TorchScript flatbuffer as torch.jit.load recognises one (``head``: the first bytes)."""
    return size >= 8 and head[4:8] == FLATBUFFER_ID


_BY_FIRST_BYTE: dict[int, tuple[tuple[bytes, str], ...]] = {
    b: tuple(m for m in _MAGICS if m[0][0] == b) for b in {m[0][0] for m in _MAGICS}
}
"""``_MAGICS`` by first byte, in the same order: sniffing runs for every member of every
wheel, and a member's first byte rules out all but one or two magic numbers."""


def unsupported_name(fmt: str) -> str | None:
    """A person-readable name when ``fmt`` is a container we cannot open."""
    return _UNSUPPORTED.get(fmt)


def sniff(head: bytes, size: int) -> str:
    """Classify content from its first bytes (``head``) and total ``size``."""
    if size == 0:
        return EMPTY
    for magic, fmt in _BY_FIRST_BYTE.get(head[0], ()) if head else ():
        if head.startswith(magic):
            return fmt
    if len(head) >= 262 and head[257:262] == b"ustar":
        return TAR
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return PICKLE
    if _is_safetensors(head, size):
        return SAFETENSORS
    if head[:3] == b"\x5d\x00\x00":
        return LZMA  # .lzma "alone" format used by joblib
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return ZLIB
    if may_be_pickle(head) and _pickle_start_test()(head):
        return PICKLE_PROBE
    return DATA


@cache
def _pickle_start_test() -> Callable[[bytes], bool]:
    """The pickle reader's start test, imported on first use (a scan that sniffs nothing
    without magic never loads the pickle package) and then looked up once, not per member."""
    from safe_pip.scan.formats.pickle import looks_like_pickle_start

    return looks_like_pickle_start


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack_from("<Q", head)
    return 2 <= n <= size - 8 and head[8:9] == b"{" and head[9:10] in (b'"', b"}")
