"""The root group's attributes of an HDF5 file, read the way the HDF5 library reads them.

Keras' legacy loader reads ``f.attrs["model_config"]`` (and ``training_config`` when it
compiles) from the root group: a JSON string that names every class Keras will import.
To judge *that* string, not any JSON-looking bytes elsewhere in the file, this module
follows the file's own structure with bounds on every read and no dependency (no h5py,
no numpy at run time): superblock (versions 0–3, at offset 0 or after a user block at
512, 1024, 2048… bytes, as the library searches), the root group's object header
(version 1, or version 2 ``OHDR`` with ``OCHK`` continuations), its compact attribute
messages (versions 1–3), and their values: fixed-length strings, or variable-length
strings whose bytes sit in a global heap collection (``GCOL``) — which is how h5py stores
a Python ``str``.

Anything else that could hold an attribute — dense attribute storage (fractal heap,
possibly filtered), shared datatypes, other value types — raises :class:`Hdf5Error`;
the caller fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safe_pip.scan.core.blob import Blob

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_MESSAGES = 100_000
MAX_CONTINUATIONS = 10_000
MAX_VALUE = 256 * 1024 * 1024


class Hdf5Error(Exception):
    """The structure cannot be followed; what the library would read is unknown."""


@dataclass(frozen=True)
class Attribute:
    name: bytes
    values: tuple[bytes, ...]
    """Each element's bytes (strings only: anything else raised :class:`Hdf5Error`)."""


def find_superblock(blob: Blob) -> int | None:
    """Offset of the superblock: 0, or 512·2^k (the library's search after a user block)."""
    off = 0
    while off + 8 <= blob.size:
        if blob.read(off, 8) == SIGNATURE:
            return off
        off = 512 if off == 0 else off * 2
    return None


class _File:
    def __init__(self, blob: Blob, base: int) -> None:
        self.blob = blob
        self.base = base
        self.o = 8
        self.l = 8

    def raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self.blob.size:
            raise Hdf5Error(f"read of {n} bytes at {pos} is outside the file")
        return self.blob.read(pos, n)

    def uint(self, pos: int, n: int) -> int:
        return int.from_bytes(self.raw(pos, n), "little")

    def addr(self, pos: int) -> int:
        value = self.uint(pos, self.o)
        if value == (1 << (8 * self.o)) - 1:
            raise Hdf5Error(f"undefined address at {pos}")
        return self.base + value


def root_attributes(blob: Blob) -> list[Attribute]:
    """Every attribute message of the root group, in the order the header lists them."""
    sb = find_superblock(blob)
    if sb is None:
        raise Hdf5Error("no HDF5 superblock")
    f = _File(blob, sb)
    version = f.uint(sb + 8, 1)
    if version in (0, 1):
        f.o, f.l = f.uint(sb + 13, 1), f.uint(sb + 14, 1)
        _check_sizes(f)
        entry = sb + 24 + (4 if version == 1 else 0) + 4 * f.o
        root = f.addr(entry + f.o)
    elif version in (2, 3):
        f.o, f.l = f.uint(sb + 9, 1), f.uint(sb + 10, 1)
        _check_sizes(f)
        root = f.addr(sb + 12 + 3 * f.o)
    else:
        raise Hdf5Error(f"superblock version {version}")
    attrs: list[Attribute] = []
    for mtype, start, size in _messages(f, root):
        if mtype == 0x0C:
            attrs.append(_attribute(f, start, size))
        elif mtype == 0x15 and _dense(f, start):
            raise Hdf5Error("attributes kept in dense storage (fractal heap) are not read")
    return attrs


def _check_sizes(f: _File) -> None:
    if f.o not in (2, 4, 8) or f.l not in (2, 4, 8):
        raise Hdf5Error(f"sizes of offsets/lengths {f.o}/{f.l}")


def _dense(f: _File, start: int) -> bool:
    """Attribute Info message: is a fractal heap address set?"""
    flags = f.uint(start + 1, 1)
    pos = start + 2 + (2 if flags & 1 else 0)
    heap = f.uint(pos, f.o)
    return heap != (1 << (8 * f.o)) - 1


def _messages(f: _File, header: int) -> Iterator[tuple[int, int, int]]:
    """(type, data offset, data size) of every message, following continuations."""
    if f.raw(header, 4) == b"OHDR":
        blocks = _v2_blocks(f, header)
    else:
        if f.uint(header, 1) != 1:
            raise Hdf5Error(f"object header version {f.uint(header, 1)}")
        size = f.uint(header + 8, 4)
        blocks = [(header + 16, header + 16 + size, 1, False)]
    seen = 0
    done: set[int] = set()
    while blocks:
        start, end, version, track = blocks.pop(0)
        if start in done or len(done) > MAX_CONTINUATIONS:
            raise Hdf5Error("object header continuations loop or are too many")
        done.add(start)
        pos = start
        head = 8 if version == 1 else 4
        while pos + head <= end:
            seen += 1
            if seen > MAX_MESSAGES:
                raise Hdf5Error("too many object header messages")
            if version == 1:
                mtype, size = f.uint(pos, 2), f.uint(pos + 2, 2)
                flags = f.uint(pos + 4, 1)
                data = pos + 8
                nxt = data + size
            else:
                mtype, size, flags = f.uint(pos, 1), f.uint(pos + 1, 2), f.uint(pos + 3, 1)
                data = pos + 4 + (2 if track else 0)
                nxt = data + size
            if nxt > end:
                raise Hdf5Error(f"message at {pos} runs past its header block")
            if flags & 0x02 and mtype == 0x0C:
                raise Hdf5Error("shared attribute message")
            if mtype == 0x10:
                cont, length = f.addr(data), f.uint(data + f.o, f.l)
                if version == 1:
                    blocks.append((cont, cont + length, 1, False))
                else:
                    if f.raw(cont, 4) != b"OCHK":
                        raise Hdf5Error("continuation block without OCHK")
                    blocks.append((cont + 4, cont + length - 4, 2, track))
            else:
                yield mtype, data, size
            pos = nxt
            if version == 1:
                pos = start + ((pos - start + 7) & ~7)  # version 1 messages are 8-aligned


def _v2_blocks(f: _File, header: int) -> list[tuple[int, int, int, bool]]:
    if f.uint(header + 4, 1) != 2:
        raise Hdf5Error("OHDR version")
    flags = f.uint(header + 5, 1)
    pos = header + 6
    if flags & 0x20:
        pos += 16
    if flags & 0x10:
        pos += 4
    width = 1 << (flags & 0x03)
    size = f.uint(pos, width)
    pos += width
    return [(pos, pos + size, 2, bool(flags & 0x04))]


def _attribute(f: _File, start: int, size: int) -> Attribute:
    version = f.uint(start, 1)
    flags = f.uint(start + 1, 1)
    name_size, type_size, space_size = (f.uint(start + 2 + 2 * i, 2) for i in range(3))
    if version not in (1, 2, 3):
        raise Hdf5Error(f"attribute message version {version}")
    align = 8 if version == 1 else 1  # version 1 pads name, datatype and dataspace to 8
    pos = start + 8 + (1 if version == 3 else 0)

    def pad(n: int) -> int:
        return (n + align - 1) // align * align

    if flags & 0x03:
        raise Hdf5Error("attribute with a shared datatype or dataspace")
    name = f.raw(pos, name_size).split(b"\x00", 1)[0]
    pos += pad(name_size)
    dtype = pos
    pos += pad(type_size)
    count = _elements(f, pos)
    pos += pad(space_size)
    end = start + size
    return Attribute(name, tuple(_values(f, dtype, pos, end, count)))


def _elements(f: _File, space: int) -> int:
    version, rank = f.uint(space, 1), f.uint(space + 1, 1)
    if version == 1:
        dims = space + 8
    elif version == 2:
        if f.uint(space + 3, 1) == 2:
            return 0  # null dataspace: no value
        dims = space + 4
    else:
        raise Hdf5Error(f"dataspace version {version}")
    n = 1
    for i in range(rank):
        n *= f.uint(dims + i * f.l, f.l)
        if n > MAX_MESSAGES:
            raise Hdf5Error("attribute with too many elements")
    return n


def _values(f: _File, dtype: int, pos: int, end: int, count: int) -> Iterator[bytes]:
    cls = f.uint(dtype, 1) & 0x0F
    size = f.uint(dtype + 4, 4)
    if cls == 3:  # fixed-length string
        if pos + size * count > end:
            raise Hdf5Error("attribute value runs past its message")
        for i in range(count):
            yield f.raw(pos + i * size, size).rstrip(b"\x00 ")
    elif cls == 9 and f.uint(dtype + 1, 1) & 0x0F == 1:  # variable-length string
        step = 4 + f.o + 4
        for i in range(count):
            at = pos + i * step
            if at + step > end:
                raise Hdf5Error("attribute value runs past its message")
            length = f.uint(at, 4)
            if length == 0:
                yield b""
                continue
            yield _heap_object(f, f.addr(at + 4), f.uint(at + 4 + f.o, 4), length)
    else:
        raise Hdf5Error(f"attribute of datatype class {cls}, not a string")


def _heap_object(f: _File, collection: int, index: int, length: int) -> bytes:
    """Object ``index`` of the global heap collection at ``collection``."""
    if f.raw(collection, 4) != b"GCOL":
        raise Hdf5Error(f"no global heap collection at {collection}")
    total = f.uint(collection + 8, f.l)
    pos, end = collection + 8 + f.l, collection + total
    while pos + 8 + f.l <= end:
        idx = f.uint(pos, 2)
        osize = f.uint(pos + 8, f.l)
        if idx == 0:
            break
        if idx == index:
            if osize > MAX_VALUE or length > osize:
                raise Hdf5Error("global heap object is too large or shorter than its string")
            return f.raw(pos + 8 + f.l, length)
        pos += 8 + f.l + ((osize + 7) & ~7)
    raise Hdf5Error(f"global heap object {index} not found")
