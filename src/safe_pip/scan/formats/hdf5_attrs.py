"""The root group's attributes of an HDF5 file, read the way the HDF5 library reads them.

Keras' legacy loader reads ``f.attrs["model_config"]`` (and ``training_config`` when it
compiles) from the root group: a JSON string that names every class Keras will import.
To judge *that* string, not any JSON-looking bytes elsewhere in the file, this module
follows the file's own structure with bounds on every read and no dependency (no h5py,
no numpy at run time): superblock (versions 0–3, at offset 0 or after a user block at
512, 1024, 2048… bytes, as the library searches), the root group's object header
(version 1, or version 2 ``OHDR`` with ``OCHK`` continuations), its attribute messages
(versions 1–3), and their values: fixed-length strings, or variable-length strings whose
bytes sit in a global heap collection (``GCOL``) — which is how h5py stores a Python
``str``.  An attribute of any other datatype is listed by name without a value.

Attributes in *dense* storage (an Attribute Info message: more than 8 attributes, or a
large one, under the 1.8 format) are read too, as the library reads them: every record
of the v2 B-tree name index (and of the creation-order index, when there is one) is
followed to its heap ID in the fractal heap — a managed object in a direct block reached
through the doubling table's indirect blocks, a huge object tracked by the heap's own v2
B-tree or addressed by its ID, or a tiny object inside the ID — and decoded as the same
attribute message.  Every record is listed, not looked up by name, so a duplicate or a
decoy cannot hide a ``model_config``.  Metadata checksums (Jenkins lookup3) are verified
where the library verifies them.

Anything else — filtered heaps, shared attribute messages or datatypes, unknown versions,
an offset outside the file, a loop — raises :class:`Hdf5Error`; the caller fails closed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from safe_pip.scan.core.blob import Blob

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_MESSAGES = 100_000
MAX_CONTINUATIONS = 10_000
MAX_VALUE = 256 * 1024 * 1024
MAX_RECORDS = 100_000
"""Attribute records read from one dense index (the library allows 2^32; no model has 10^5)."""
MAX_DEPTH = 64
"""v2 B-tree depth and fractal heap indirect-block nesting: 64 levels exceed any 64-bit file."""

_ATTR_NAME_RECORD = 8  # v2 B-tree type: attribute name index of dense storage
_ATTR_ORDER_RECORD = 9  # v2 B-tree type: attribute creation-order index
_HUGE_RECORD = 1  # v2 B-tree type: a fractal heap's huge objects, unfiltered, by ID
_ATTR_HEAP_ID = 8  # bytes of a heap ID in an attribute record (the library's fixed length)


class Hdf5Error(Exception):
    """The structure cannot be followed; what the library would read is unknown."""


@dataclass(frozen=True)
class Attribute:
    name: bytes
    values: tuple[bytes, ...]
    """Each element's bytes when the datatype is a string; empty otherwise."""
    is_string: bool = True
    """False: a datatype other than a string (numbers, enums...), whose value is not read."""


def find_superblock(blob: Blob) -> int | None:
    """Offset of the superblock: 0, or 512·2^k (the library's search after a user block).

    Asked of nearly every member of every wheel (anything without a magic number), so each
    probe is a search bounded to the probe's 8 bytes, which builds no bytes object.
    """
    find, start, size = blob.buf.find, blob.start, blob.size
    off = 0
    while off + 8 <= size:
        if find(SIGNATURE, start + off, start + off + 8) >= 0:
            return off
        off = 512 if off == 0 else off * 2
    return None


class _File:
    def __init__(self, blob: Blob, base: int) -> None:
        self.blob = blob
        self.base = base
        self.o = 8
        self.l = 8
        self.collections: dict[int, dict[int, tuple[int, int]]] = {}

    def raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self.blob.size:
            raise Hdf5Error(f"read of {n} bytes at {pos} is outside the file")
        return self.blob.read(pos, n)

    def uint(self, pos: int, n: int) -> int:
        return int.from_bytes(self.raw(pos, n), "little")

    def undefined(self, pos: int) -> bool:
        """Is the address at ``pos`` the undefined address (all bits set)?"""
        return self.uint(pos, self.o) == (1 << (8 * self.o)) - 1

    def addr(self, pos: int) -> int:
        if self.undefined(pos):
            raise Hdf5Error(f"undefined address at {pos}")
        return self.base + self.uint(pos, self.o)

    def signature(self, pos: int, magic: bytes) -> None:
        """The 4-byte signature and version 0 every 1.8 metadata structure starts with."""
        if self.raw(pos, 4) != magic:
            raise Hdf5Error(f"no {magic.decode()} at {pos}")
        if self.uint(pos + 4, 1) != 0:
            raise Hdf5Error(f"{magic.decode()} version {self.uint(pos + 4, 1)} at {pos}")

    def checksum(self, start: int, end: int) -> None:
        """The lookup3 checksum stored at ``end`` covers ``[start, end)``."""
        if lookup3(self.raw(start, end - start)) != self.uint(end, 4):
            raise Hdf5Error(f"metadata checksum mismatch at {start}")


def root_attributes(blob: Blob) -> list[Attribute]:
    """Every attribute of the root group: compact messages in header order, then dense ones."""
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
        elif mtype == 0x15:
            attrs.extend(_dense_attributes(f, start, size))
    return attrs


def _check_sizes(f: _File) -> None:
    if f.o not in (2, 4, 8) or f.l not in (2, 4, 8):
        raise Hdf5Error(f"sizes of offsets/lengths {f.o}/{f.l}")


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
    """An attribute message (versions 1-3) of ``size`` bytes at ``start``."""
    end = start + size
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
    if pos + pad(name_size) + pad(type_size) + pad(space_size) > end:
        raise Hdf5Error(f"attribute message at {start} runs past its {size} bytes")
    name = f.raw(pos, name_size).split(b"\x00", 1)[0]
    pos += pad(name_size)
    dtype = pos
    pos += pad(type_size)
    count = _elements(f, pos)
    pos += pad(space_size)
    if not _is_string(f, dtype):
        return Attribute(name, (), is_string=False)
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


def _is_string(f: _File, dtype: int) -> bool:
    """A fixed-length string (class 3), or a variable-length one (class 9, type string)."""
    cls = f.uint(dtype, 1) & 0x0F
    return cls == 3 or (cls == 9 and f.uint(dtype + 1, 1) & 0x0F == 1)


def _values(f: _File, dtype: int, pos: int, end: int, count: int) -> Iterator[bytes]:
    cls = f.uint(dtype, 1) & 0x0F
    size = f.uint(dtype + 4, 4)
    if cls == 3:  # fixed-length string
        if pos + size * count > end:
            raise Hdf5Error("attribute value runs past its message")
        for i in range(count):
            yield f.raw(pos + i * size, size).rstrip(b"\x00 ")
    else:  # variable-length string: (length, global heap collection, index) per element
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


def _heap_object(f: _File, collection: int, index: int, length: int) -> bytes:
    """Object ``index`` of the global heap collection at ``collection``."""
    objects = f.collections.get(collection)
    if objects is None:
        objects = f.collections[collection] = _collection(f, collection)
    if index not in objects:
        raise Hdf5Error(f"global heap object {index} not found")
    data, osize = objects[index]
    if length > osize:
        raise Hdf5Error("global heap object is shorter than its string")
    return f.raw(data, length)


def _collection(f: _File, collection: int) -> dict[int, tuple[int, int]]:
    """Index -> (data position, size) of every object of a global heap collection.

    The collection's header and each object's header are padded to 8 bytes (so with 4-byte
    lengths they are 16 bytes, not 12), and so is each object's data.  The library keeps the
    last of two objects with one index; such a collection is refused instead.
    """
    if f.raw(collection, 4) != b"GCOL":
        raise Hdf5Error(f"no global heap collection at {collection}")
    total = f.uint(collection + 8, f.l)
    header = _align8(8 + f.l)
    pos, end = collection + header, collection + total
    if end > f.blob.size:
        raise Hdf5Error(f"global heap collection at {collection} runs past the end of the file")
    objects: dict[int, tuple[int, int]] = {}
    while pos + header <= end:
        idx = f.uint(pos, 2)
        osize = f.uint(pos + 8, f.l)
        if idx == 0:
            break  # the free space: the rest of the collection
        if idx in objects:
            raise Hdf5Error(f"global heap collection at {collection} repeats object {idx}")
        if osize > MAX_VALUE:
            raise Hdf5Error("global heap object is too large")
        objects[idx] = (pos + header, osize)
        pos += header + _align8(osize)
    return objects


def _align8(n: int) -> int:
    return (n + 7) & ~7


# -- dense attribute storage -------------------------------------------------------------


def _dense_attributes(f: _File, start: int, size: int) -> list[Attribute]:
    """The attributes an Attribute Info message (0x15) keeps in a fractal heap.

    Both indexes are walked when present (the name index serves lookups by name, the
    creation-order index iteration by order); a heap object reached from both is read once.
    """
    if size < 2 + 2 * f.o:
        raise Hdf5Error(f"attribute info message at {start} is {size} bytes")
    if f.uint(start, 1) != 0:
        raise Hdf5Error(f"attribute info message version {f.uint(start, 1)}")
    flags = f.uint(start + 1, 1)
    if flags & ~0x03:
        raise Hdf5Error(f"attribute info flags {flags:#x}")
    pos = start + 2 + (2 if flags & 0x01 else 0)
    if pos + (3 if flags & 0x02 else 2) * f.o > start + size:
        raise Hdf5Error(f"attribute info message at {start} runs past its {size} bytes")
    if f.undefined(pos):
        return []  # compact storage: the attributes are messages of the header itself
    heap = _FractalHeap(f, f.addr(pos))
    indexes = [(f.addr(pos + f.o), _ATTR_NAME_RECORD, _ATTR_HEAP_ID + 1 + 4 + 4)]
    if flags & 0x02 and not f.undefined(pos + 2 * f.o):
        indexes.append((f.addr(pos + 2 * f.o), _ATTR_ORDER_RECORD, _ATTR_HEAP_ID + 1 + 4))
    attrs: list[Attribute] = []
    seen: set[bytes] = set()
    for btree, rtype, rsize in indexes:
        for record in _btree_records(f, btree, rtype, rsize):
            heap_id = f.raw(record, _ATTR_HEAP_ID)
            if f.uint(record + _ATTR_HEAP_ID, 1) & 0x02:
                raise Hdf5Error("shared attribute message in dense storage")
            if heap_id in seen:
                continue
            seen.add(heap_id)
            obj, length = heap.locate(record)
            attrs.append(_attribute(f, obj, length))
    return attrs


class _FractalHeap:
    """A fractal heap's header, and the file position of any object its heap IDs name."""

    def __init__(self, f: _File, addr: int) -> None:
        self.f, self.addr = f, addr
        f.signature(addr, b"FRHP")
        o, ln = f.o, f.l
        self.id_len = f.uint(addr + 5, 2)
        if f.uint(addr + 7, 2):
            raise Hdf5Error("fractal heap with I/O filters")
        hflags = f.uint(addr + 9, 1)
        self.checksummed_blocks = bool(hflags & 0x02)
        self.max_man = f.uint(addr + 10, 4)
        pos = addr + 14 + ln  # next huge object ID
        self.huge_btree = None if f.undefined(pos) else f.addr(pos)
        pos += o + ln + o  # free space amount and manager
        self.man_size = f.uint(pos, ln)
        pos += 8 * ln  # managed, allocated and iterator sizes; object counts
        self.width = f.uint(pos, 2)
        self.start_block = f.uint(pos + 2, ln)
        self.max_direct = f.uint(pos + 2 + ln, ln)
        self.max_index = f.uint(pos + 2 + 2 * ln, 2)
        pos += 4 + 2 * ln + 2  # starting rows of the root indirect block
        self.root = None if f.undefined(pos) else f.addr(pos)
        self.root_rows = f.uint(pos + o, 2)
        f.checksum(addr, pos + o + 2)
        # (kind, address, heap offset, size or rows) of blocks already verified in full
        self._checked: set[tuple[bytes, int, int, int]] = set()
        self._huge_index: dict[int, tuple[int, int]] | None = None
        self._check_table()

    def _check_table(self) -> None:
        """The doubling table's parameters, as the library requires them."""

        def power_of_two(n: int) -> bool:
            return n > 0 and n & (n - 1) == 0

        if not (power_of_two(self.width) and power_of_two(self.start_block)):
            raise Hdf5Error("fractal heap table width or start block is not a power of two")
        if not power_of_two(self.max_direct) or self.max_direct < self.start_block:
            raise Hdf5Error("fractal heap maximum direct block size")
        self.start_bits = self.start_block.bit_length() - 1
        self.first_row_bits = self.start_bits + self.width.bit_length() - 1
        direct_bits = self.max_direct.bit_length() - 1
        if not direct_bits < self.max_index <= 64 or self.max_man == 0:
            raise Hdf5Error("fractal heap maximum size")
        self.max_direct_rows = direct_bits - self.start_bits + 2
        if self.root_rows > self.max_index - self.first_row_bits + 1:
            raise Hdf5Error("fractal heap root indirect block has too many rows")
        self.off_size = (self.max_index + 7) // 8
        # bytes of an object's length in a managed heap ID: enough for the largest direct
        # block or the largest managed object, whichever is smaller
        self.len_size = min((direct_bits + 7) // 8, (self.max_man.bit_length() - 1) // 8 + 1)
        if self.id_len != _ATTR_HEAP_ID:
            raise Hdf5Error(f"fractal heap IDs of {self.id_len} bytes, not {_ATTR_HEAP_ID}")

    def locate(self, heap_id: int) -> tuple[int, int]:
        """(file position, length) of the object whose heap ID is stored at ``heap_id``."""
        flag = self.f.uint(heap_id, 1)
        if flag & 0xC0:
            raise Hdf5Error(f"heap ID version {flag >> 6}")
        kind = flag & 0x30
        if kind == 0x00:
            return self._managed(heap_id)
        if kind == 0x10:
            return self._huge(heap_id)
        if kind == 0x20:
            return self._tiny(heap_id, flag)
        raise Hdf5Error("heap ID of a reserved type")

    def _tiny(self, heap_id: int, flag: int) -> tuple[int, int]:
        """An object stored inside its own heap ID (length - 1 in the flag's low bits; with
        8-byte IDs never the extended form, which needs IDs over 18 bytes)."""
        length = (flag & 0x0F) + 1
        if length > self.id_len - 1:
            raise Hdf5Error("tiny heap object longer than its heap ID")
        return heap_id + 1, length

    def _huge(self, heap_id: int) -> tuple[int, int]:
        """An object outside the heap's blocks: address and length in the ID, or by its key
        in the heap's v2 B-tree of huge objects."""
        f = self.f
        if f.o + f.l <= self.id_len - 1:
            addr, length = f.addr(heap_id + 1), f.uint(heap_id + 1 + f.o, f.l)
        else:
            key = f.uint(heap_id + 1, min(self.id_len - 1, 8))
            if self._huge_index is None:
                self._huge_index = self._read_huge_index()
            if key not in self._huge_index:
                raise Hdf5Error(f"huge heap object {key} not in its index")
            addr, length = self._huge_index[key]
        if length > MAX_VALUE or addr + length > f.blob.size:
            raise Hdf5Error(f"huge heap object of {length} bytes at {addr} is outside the file")
        return addr, length

    def _read_huge_index(self) -> dict[int, tuple[int, int]]:
        """Key -> (address, length) of every huge object, read once; a repeated key (which
        the library's search would resolve to one of them) is refused."""
        f = self.f
        if self.huge_btree is None:
            raise Hdf5Error("huge heap object without a huge object index")
        index: dict[int, tuple[int, int]] = {}
        for record in _btree_records(f, self.huge_btree, _HUGE_RECORD, f.o + 2 * f.l):
            key = f.uint(record + f.o + f.l, f.l)
            if key in index:
                raise Hdf5Error(f"huge heap object {key} is indexed twice")
            index[key] = (f.addr(record), f.uint(record + f.o, f.l))
        return index

    def _managed(self, heap_id: int) -> tuple[int, int]:
        """An object in a direct block: its heap offset, found through the doubling table."""
        f = self.f
        if 1 + self.off_size + self.len_size > self.id_len:
            raise Hdf5Error("managed heap ID does not fit its length")
        offset = f.uint(heap_id + 1, self.off_size)
        length = f.uint(heap_id + 1 + self.off_size, self.len_size)
        if length == 0 or offset > self.man_size or length > self.max_direct:
            raise Hdf5Error(f"managed heap object at {offset} of {length} bytes")
        if self.root is None:
            raise Hdf5Error("managed heap object in a heap without blocks")
        block, block_off, block_size = self.root, 0, self.start_block
        if self.root_rows:
            block, block_off, block_size = self._direct_block_of(offset)
        header = self._direct_block(block, block_off, block_size)
        inside = offset - block_off
        if inside < header or inside + length > block_size:
            raise Hdf5Error(f"managed heap object at {offset} is not inside its direct block")
        return block + inside, length

    def _row(self, row: int) -> tuple[int, int]:
        """(offset in the block's heap space, size of each block) of a doubling-table row."""
        if row == 0:
            return 0, self.start_block
        size = self.start_block << (row - 1)
        return self.width * size, size

    def _direct_block_of(self, offset: int) -> tuple[int, int, int]:
        """(address, heap offset, size) of the direct block holding heap ``offset``."""
        f = self.f
        block, block_off, rows = self.root, 0, self.root_rows
        for _ in range(MAX_DEPTH):
            assert block is not None
            f.signature(block, b"FHIB")
            if f.addr(block + 5) != self.addr:
                raise Hdf5Error(f"indirect block at {block} belongs to another heap")
            if f.uint(block + 5 + f.o, self.off_size) != block_off:
                raise Hdf5Error(f"indirect block at {block} has the wrong heap offset")
            entries = block + 5 + f.o + self.off_size
            direct = min(rows, self.max_direct_rows) * self.width
            indirect = max(rows - self.max_direct_rows, 0) * self.width
            if (b"FHIB", block, block_off, rows) not in self._checked:
                f.checksum(block, entries + (direct + indirect) * f.o)
                self._checked.add((b"FHIB", block, block_off, rows))
            inside = offset - block_off
            if inside < self.width * self.start_block:
                row = 0
            else:
                row = inside.bit_length() - self.first_row_bits
            row_off, size = self._row(row)
            col = (inside - row_off) // size
            if row >= rows:
                raise Hdf5Error(f"heap offset {offset} beyond its indirect block's rows")
            child_off = block_off + row_off + col * size
            if row < self.max_direct_rows:
                return f.addr(entries + (row * self.width + col) * f.o), child_off, size
            at = entries + (direct + (row - self.max_direct_rows) * self.width + col) * f.o
            block, block_off = f.addr(at), child_off
            rows = size.bit_length() - 1 - self.first_row_bits + 1
        raise Hdf5Error("fractal heap indirect blocks nest too deep")

    def _direct_block(self, block: int, block_off: int, size: int) -> int:
        """Check the direct block's header (and checksum); return the header's size."""
        f = self.f
        header = 5 + f.o + self.off_size + (4 if self.checksummed_blocks else 0)
        if (b"FHDB", block, block_off, size) in self._checked:
            return header
        f.signature(block, b"FHDB")
        if f.addr(block + 5) != self.addr:
            raise Hdf5Error(f"direct block at {block} belongs to another heap")
        if f.uint(block + 5 + f.o, self.off_size) != block_off:
            raise Hdf5Error(f"direct block at {block} has the wrong heap offset")
        image = f.raw(block, size)
        if self.checksummed_blocks:
            field = header - 4
            stored = int.from_bytes(image[field:header], "little")
            zeroed = image[:field] + b"\0\0\0\0" + image[header:]  # checksummed so
            if lookup3(zeroed) != stored:
                raise Hdf5Error(f"direct block checksum mismatch at {block}")
        self._checked.add((b"FHDB", block, block_off, size))
        return header


def _btree_records(f: _File, header: int, rtype: int, rsize: int) -> Iterator[int]:
    """The file position of every record of a version 2 B-tree, each node visited once."""
    f.signature(header, b"BTHD")
    if f.uint(header + 5, 1) != rtype or f.uint(header + 10, 2) != rsize:
        raise Hdf5Error(f"v2 B-tree at {header} is not of type {rtype} with {rsize}-byte records")
    node_size = f.uint(header + 6, 4)
    depth = f.uint(header + 12, 2)
    root_records = f.uint(header + 16 + f.o, 2)
    f.checksum(header, header + 18 + f.o + f.l)
    if depth > MAX_DEPTH:
        raise Hdf5Error(f"v2 B-tree {depth} levels deep")
    if f.undefined(header + 16):
        return  # an empty tree
    # The sizes of the child pointers' record counts, as the library derives them.
    leaf_max = (node_size - 10) // rsize
    if leaf_max < 1:
        raise Hdf5Error(f"v2 B-tree nodes of {node_size} bytes")
    count_size = (leaf_max.bit_length() - 1) // 8 + 1
    max_records = [leaf_max]
    cumulative = [leaf_max]
    total_sizes = [0]
    for level in range(1, depth + 1):
        pointer = f.o + count_size + total_sizes[level - 1]
        n = (node_size - 10 - pointer) // (rsize + pointer)
        if n < 1:
            raise Hdf5Error(f"v2 B-tree nodes of {node_size} bytes")
        max_records.append(n)
        cumulative.append((n + 1) * cumulative[level - 1] + n)
        total_sizes.append((cumulative[level].bit_length() - 1) // 8 + 1)
    stack = [(f.addr(header + 16), root_records, depth)]
    visited: set[int] = set()
    seen = 0
    while stack:
        node, nrec, level = stack.pop()
        if node in visited:
            raise Hdf5Error(f"v2 B-tree node at {node} is reached twice")
        visited.add(node)
        seen += nrec
        if nrec > max_records[level] or seen > MAX_RECORDS:
            raise Hdf5Error(f"v2 B-tree node at {node} has too many records")
        f.signature(node, b"BTIN" if level else b"BTLF")
        if f.uint(node + 5, 1) != rtype:
            raise Hdf5Error(f"v2 B-tree node at {node} is of another type")
        records = node + 6
        yield from (records + i * rsize for i in range(nrec))
        pos = records + nrec * rsize
        if level:
            pointer = f.o + count_size + (total_sizes[level - 1] if level > 1 else 0)
            for i in range(nrec + 1):
                at = pos + i * pointer
                stack.append((f.addr(at), f.uint(at + f.o, count_size), level - 1))
            pos += (nrec + 1) * pointer
        if pos + 4 - node > node_size:
            raise Hdf5Error(f"v2 B-tree node at {node} runs past its {node_size} bytes")
        f.checksum(node, pos)


# -- Jenkins lookup3 ("hashlittle"), the checksum of HDF5 1.8 metadata -----------------

_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hash of ``data``, as HDF5 checksums its metadata.

    Both of its mixing functions repeat one step with the roles of a, b and c rotated: the
    loops below apply the step, then rename (a, b, c) <- (b, c, a).
    """
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _M32
    if length == 0:
        return c
    padded = data + b"\0" * (-length % 12)
    words = struct.unpack(f"<{len(padded) // 4}I", padded)
    for i in range(0, len(words), 3):
        a = (a + words[i]) & _M32
        b = (b + words[i + 1]) & _M32
        c = (c + words[i + 2]) & _M32
        if i + 3 == len(words):
            break
        for k in (4, 6, 8, 16, 19, 4):  # mix(): six steps, two full rotations
            a = ((a - c) & _M32) ^ _rot(c, k)
            c = (c + b) & _M32
            a, b, c = b, c, a
    for k in (14, 11, 25, 16, 4, 14, 24):  # final(): seven steps, c first
        c = ((c ^ b) - _rot(b, k)) & _M32
        a, b, c = b, c, a
    return b  # seven renames: the value named c at the start of final() is now b
