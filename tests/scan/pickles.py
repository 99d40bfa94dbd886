"""Build pickles and archives from raw opcodes, for tests that must never unpickle.

Every malicious sample in the suite is assembled here byte by byte, so a test
can reproduce a published bypass exactly (a lying FRAME, a memo trick, a zip
whose headers disagree) without ever running ``pickle.dumps`` on a live object.
"""

from __future__ import annotations

import io
import struct
import zipfile

PROTO2 = b"\x80\x02"
PROTO4 = b"\x80\x04"
STOP = b"."
MARK = b"("
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
EMPTY_TUPLE = b")"
REDUCE = b"R"
BUILD = b"b"
POP = b"0"
STACK_GLOBAL = b"\x93"
NEWOBJ = b"\x81"
EMPTY_DICT = b"}"
NONE = b"N"
SETITEM = b"s"


def glob(module: str, name: str) -> bytes:
    """GLOBAL opcode (protocol 0+)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def binput(idx: int) -> bytes:
    return b"q" + bytes([idx])


def binget(idx: int) -> bytes:
    return b"h" + bytes([idx])


def call(module: str, name: str, arg: str = "true", *, stack_global: bool = False) -> bytes:
    """``module.name(arg)`` via REDUCE, as GLOBAL or STACK_GLOBAL."""
    head = ustr(module) + ustr(name) + STACK_GLOBAL if stack_global else glob(module, name)
    return head + ustr(arg) + TUPLE1 + REDUCE


def evil(
    module: str = "os", name: str = "system", arg: str = "true", proto: bytes = PROTO2
) -> bytes:
    """A whole pickle that would call ``module.name(arg)`` when loaded."""
    return proto + call(module, name, arg) + STOP


BENIGN = PROTO2 + EMPTY_DICT + ustr("a") + b"K\x01" + SETITEM + STOP


def torch_like_state_dict() -> bytes:
    """What torch.save writes for {'w': tensor} (protocol 2, persistent storage id)."""
    storage = (
        MARK
        + ustr("storage")
        + glob("torch", "FloatStorage")
        + ustr("0")
        + ustr("cpu")
        + b"K\x04"
        + b"t"
        + b"Q"
    )
    rebuild = (
        glob("torch._utils", "_rebuild_tensor_v2")
        + MARK
        + storage
        + b"K\x00"
        + b"K\x04"
        + TUPLE1
        + b"K\x01"
        + TUPLE1
        + b"\x89"
        + glob("collections", "OrderedDict")
        + EMPTY_TUPLE
        + REDUCE
        + b"t"
        + REDUCE
    )
    return (
        PROTO2
        + glob("collections", "OrderedDict")
        + EMPTY_TUPLE
        + REDUCE
        + ustr("w")
        + rebuild
        + SETITEM
        + STOP
    )


def zip_bytes(members: dict[str, bytes], *, compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def set_flag_bits(data: bytes, bits: int) -> bytes:
    """OR ``bits`` into every local and central header's general-purpose flags."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = out.find(sig)
        while i >= 0:
            (flags,) = struct.unpack_from("<H", out, i + off)
            struct.pack_into("<H", out, i + off, flags | bits)
            i = out.find(sig, i + 4)
    return bytes(out)


def break_crc(data: bytes) -> bytes:
    """Flip the stored CRC-32 of every member (local and central)."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        i = out.find(sig)
        while i >= 0:
            out[i + off] ^= 0xFF
            i = out.find(sig, i + 4)
    return bytes(out)


def rename_local(data: bytes, old: str, new: str) -> bytes:
    """Rename a member in its local header only (same length), as in CVE-2025-1944."""
    assert len(old) == len(new)
    i = data.find(b"PK\x03\x04")
    j = data.find(old.encode(), i)
    return data[:j] + new.encode() + data[j + len(old) :]
