"""Hypothesis strategies for the differential fuzzer: pickles and the containers that hold them.

The pickles are built opcode by opcode from a small alphabet chosen for what broke
scanners before: MARK / POP / POP_MARK / DUP stack games, memo tricks (PUT over PUT, GET of
strings for STACK_GLOBAL), FRAMEs whose announced length lies or which hold a STOP, several
streams in a row, protocol changes mid-stream, persistent ids, and a pool of names from the
allowlist, the gadget list and nowhere.  Containers wrap them the way each loader expects:
torch zip and legacy files, npy/npz, joblib (compressed, and with hand-built array wrappers
whose dtype state decides how many bytes joblib skips).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

NAMES: list[tuple[str, str]] = [
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("builtins", "str"),
    ("builtins", "getattr"),
    ("builtins", "hash"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("functools", "partial"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "FloatStorage"),
    ("numpy", "dtype"),
    ("copyreg", "_reconstructor"),
    ("zzz_unknown_mod", "gadget"),
    ("subprocess", "Popen"),
    ("__builtin__", "eval"),
]


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


@st.composite
def _item(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 13))
    if kind == 0:
        module, name = draw(st.sampled_from(NAMES))
        how = draw(st.integers(0, 2))
        if how == 0:
            return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        if how == 1:
            return _str(module) + _str(name) + b"\x93"
        return b"i" + module.encode() + b"\n" + name.encode() + b"\n"
    if kind == 1:
        return draw(st.sampled_from([b"N", b"K\x01", b"\x88", b")", b"}", b"]", b"\x8f"]))
    if kind == 2:
        return _str(draw(st.sampled_from(["os", "system", "true", "x", "eval", "builtins"])))
    if kind == 3:
        return draw(st.sampled_from([b"(", b"0", b"1", b"2"]))
    if kind == 4:
        return draw(st.sampled_from([b"t", b"l", b"d", b"\x85", b"\x86", b"\x87", b"\x91"]))
    if kind == 5:
        return draw(st.sampled_from([b"R", b"\x81", b"\x92", b"o", b"b"]))
    if kind == 6:
        return draw(st.sampled_from([b"a", b"e", b"s", b"u", b"\x90"]))
    if kind == 7:
        idx = draw(st.integers(0, 3))
        return draw(
            st.sampled_from(
                [b"q" + bytes([idx]), b"r" + struct.pack("<I", idx), b"p%d\n" % idx, b"\x94"]
            )
        )
    if kind == 8:
        idx = draw(st.integers(0, 3))
        return draw(
            st.sampled_from([b"h" + bytes([idx]), b"j" + struct.pack("<I", idx), b"g%d\n" % idx])
        )
    if kind == 9:
        return b"."
    if kind == 10:
        return b"\x80" + bytes([draw(st.integers(0, 5))])
    if kind == 11:
        return draw(st.sampled_from([b"Q", b"Pid\n"]))
    if kind == 12:
        return draw(st.sampled_from([b"G" + bytes(8), b"B\x02\x00\x00\x00ab", b"\x95"]))
    return b"S'x'\n"


@st.composite
def pickles(draw: st.DrawFn) -> bytes:
    """One or more streams of opcodes, some of them wrapped in (lying) FRAMEs."""
    items = draw(st.lists(_item(), min_size=1, max_size=24))
    # wrap a run of items in a frame whose announced length may lie
    if draw(st.booleans()):
        a = draw(st.integers(0, len(items) - 1))
        b = draw(st.integers(a + 1, len(items)))
        body = b"".join(items[a:b])
        lie = draw(st.sampled_from([0, 0, 0, -1, 1, -2, 3, 9]))
        frame = b"\x95" + struct.pack("<Q", max(0, len(body) + lie)) + body
        items = [*items[:a], frame, *items[b:]]
    header = draw(st.sampled_from([b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"]))
    data = header + b"".join(items) + b"."
    if draw(st.integers(0, 3)) == 0:
        data += draw(pickles())  # a second stream right after
    return data


@dataclass(frozen=True)
class Case:
    """A file and the real loaders that would read it."""

    name: str
    data: bytes
    loaders: tuple[str, ...]


PICKLE_LOADERS = ("pickle-file", "pickle-bytesio", "pickle-memory", "pickle-python", "joblib")

TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
TORCH_PROTOCOL = b"\x80\x02M\xe9\x03."
TORCH_SYS_INFO = b"\x80\x02}q\x00."
TORCH_KEYS = b"\x80\x02]q\x00."


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(payload: bytes, descr: str) -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': (1,), }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "zlib": zlib.compress,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
}


@st.composite
def joblib_wrapped(draw: st.DrawFn) -> bytes:
    """A NumpyArrayWrapper built by hand: its dtype's state, shape and alignment decide how
    many bytes joblib takes as array data before the opcodes go on."""
    typestr = draw(st.sampled_from(["f8", "i4", "O8", "V8", "U2", "b1"]))
    flags = draw(st.sampled_from([0, 0, 63, 1, 16]))
    elsize = draw(st.sampled_from([-1, 8, 4, 0]))
    count = draw(st.integers(0, 3))
    align = draw(st.sampled_from([None, 0, 16, 8]))
    dtype = (
        b"cnumpy\ndtype\n"
        + _str(typestr)
        + b"\x89\x88\x87R"
        + b"(K\x03"
        + _str("|")
        + b"NNN"
        + struct.pack("<cI", b"J", elsize & 0xFFFFFFFF)
        + b"J\xff\xff\xff\xff"
        + b"K"
        + bytes([flags])
        + b"tb"
    )
    state = (
        b"}" + _str("shape") + b"K" + bytes([count]) + b"\x85" + b"s" + _str("dtype") + dtype + b"s"
    )
    state += _str("order") + _str("C") + b"s"
    if align is not None:
        state += _str("numpy_array_alignment_bytes") + b"K" + bytes([align]) + b"s"
    wrapper = b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81" + state + b"b"
    raw = draw(st.sampled_from([b"", b"\x00" * 8, b"\x03\xff\xff\xff", bytes(range(40))]))
    tail = draw(pickles())
    return b"\x80\x04" + wrapper + raw + tail


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A generated pickle in one of the containers real loaders read."""
    data = draw(pickles())
    kind = draw(st.integers(0, 7))
    if kind <= 2:
        return Case("raw.pkl", data, PICKLE_LOADERS)
    if kind == 3:
        zipped = _zip({"archive/data.pkl": data, "archive/version": b"3\n"})
        return Case("model.pt", zipped, ("torch",))
    if kind == 4:
        slot = draw(st.integers(0, 2))
        streams = [TORCH_MAGIC, TORCH_PROTOCOL, TORCH_SYS_INFO, b"\x80\x02}.", TORCH_KEYS]
        streams[2 + slot] = data
        return Case("legacy.pt", b"".join(streams), ("torch", "pickle-file"))
    if kind == 5:
        npy = _npy(data, draw(st.sampled_from(["|O", "O", "object", "<f8"])))
        if draw(st.booleans()):
            return Case("a.npz", _zip({"a.npy": npy}), ("numpy",))
        return Case("a.npy", npy, ("numpy",))
    if kind == 6:
        method = draw(st.sampled_from(sorted(COMPRESS)))
        return Case("model.joblib", COMPRESS[method](data), ("joblib",))
    return Case("wrapped.joblib", draw(joblib_wrapped()), ("joblib", "pickle-file"))
