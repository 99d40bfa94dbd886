"""A window onto bytes: a whole file (mmap'd), a stored zip member, or decompressed data.

Readers take a :class:`Blob` instead of ``bytes`` so that a stored member of a
5 GB checkpoint is scanned in place — no copy, constant memory — and so that
data decompressed from a nested member can spill to a temporary file when it is
large.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

SPILL_AT = 16 * 1024 * 1024
"""Decompressed data above this size goes to a temporary file, not memory."""


class Blob:
    """``buf[start:end]`` without copying; ``buf`` is bytes or an mmap."""

    __slots__ = ("buf", "end", "start")

    def __init__(self, buf: Any, start: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.start = start
        self.end = len(buf) if end is None else end

    @property
    def size(self) -> int:
        return self.end - self.start

    def head(self, n: int) -> bytes:
        return bytes(self.buf[self.start : min(self.end, self.start + n)])

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes at ``offset`` relative to this blob (fewer at the end)."""
        a = self.start + offset
        return bytes(self.buf[a : min(self.end, a + n)])

    def find(self, sub: bytes, offset: int = 0) -> int:
        """Where ``sub`` first occurs at or after ``offset`` (relative), or -1; no copy."""
        i: int = self.buf.find(sub, self.start + offset, self.end)
        return i - self.start if i >= 0 else -1

    def view(self, offset: int, n: int) -> memoryview:
        a = self.start + offset
        return memoryview(self.buf)[a : min(self.end, a + n)]

    def sub(self, offset: int, n: int) -> Blob:
        a = self.start + offset
        return Blob(self.buf, a, min(self.end, a + n))

    def chunks(self, size: int = 1 << 22) -> Iterator[memoryview]:
        """The whole blob in pieces, for hashing in constant memory.

        Pages of a memory-mapped file that have been read count towards the
        process's resident memory until they are unmapped; each piece is handed
        back to the kernel (``MADV_DONTNEED``) once consumed, so hashing a 5 GB
        member does not look like using 5 GB.
        """
        mm = self.buf if isinstance(self.buf, mmap.mmap) else None
        pos = self.start
        while pos < self.end:
            n = min(size, self.end - pos)
            with memoryview(self.buf)[pos : pos + n] as view:
                yield view
            if mm is not None:
                _release(mm, pos, n)
            pos += n

    def crc32(self) -> int:
        crc = 0
        for piece in self.chunks():
            crc = zlib.crc32(piece, crc)
        return crc


def _release(mm: mmap.mmap, pos: int, n: int) -> None:
    start = pos - pos % mmap.PAGESIZE
    end = pos + n
    if end < len(mm):
        end -= end % mmap.PAGESIZE  # never drop a page the next piece still needs
    if end > start and hasattr(mm, "madvise"):
        mm.madvise(mmap.MADV_DONTNEED, start, end - start)


def is_zero(blob: Blob) -> bool:
    """True when every byte of ``blob`` is zero (padding), read in pieces."""
    return all(not piece.tobytes().strip(b"\x00") for piece in blob.chunks())


@contextmanager
def open_file(path: Path) -> Iterator[Blob]:
    """Map a file read-only; an empty file becomes an empty blob."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            yield Blob(b"")
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield Blob(mm)


class Spool:
    """Collects decompressed chunks in memory, spilling to a temp file past SPILL_AT."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._file: Any = None

    @property
    def size(self) -> int:
        return self._size

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._file is None and self._size > SPILL_AT:
            self._file = tempfile.TemporaryFile(prefix="safe-pip-")  # noqa: SIM115 - closed in blob()
            for c in self._chunks:
                self._file.write(c)
            self._chunks = []
        if self._file is not None:
            self._file.write(chunk)
        else:
            self._chunks.append(chunk)

    @contextmanager
    def blob(self) -> Iterator[Blob]:
        if self._file is None:
            yield Blob(b"".join(self._chunks))
            return
        self._file.flush()
        try:
            with mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield Blob(mm)
        finally:
            self._file.close()


class Watcher(Protocol):
    """What a :class:`Tap` shows the stream to: whether the bytes may be dropped."""

    def feed(self, chunk: bytes) -> None:
        """Every byte of the stream, in order, from the first."""

    def hopeful(self) -> bool:
        """From what was fed so far: may the bytes be dropped (judged again at the end)?"""


class Digest:
    """What is left of a member streamed past, not kept: its size, CRC-32 and sha256."""

    __slots__ = ("crc", "sha256", "size")

    def __init__(self, size: int, crc: int, sha256: bytes) -> None:
        self.size = size
        self.crc = crc
        self.sha256 = sha256

    def read(self, offset: int, n: int) -> bytes:
        """Never called: a member is streamed only when nothing reads its bytes (a caller
        that would must fail loudly, not see nothing)."""
        raise RuntimeError("the bytes of a streamed member were not kept")


class Tap(Spool):
    """A :class:`Spool` that stops keeping the bytes of a large member nothing will read.

    Up to ``at`` bytes it is a Spool. When a write takes it past ``at`` (if at most
    :data:`SPILL_AT`, so that everything so far is still in memory), ``watcher`` is fed the
    bytes so far and asked :meth:`Watcher.hopeful`; on yes the bytes are dropped and from
    then on only counted, CRC-32'd and sha256'd (and fed to ``watcher``): inflated once,
    hashed on the stream, never written to disk. On no it goes on as a Spool, the same
    bytes to the same temporary file as before. ``dropped`` says which; a dropped tap the
    caller finds it needs the bytes of after all is inflated again (``compressed.again``).
    """

    def __init__(self, at: int, watcher: Watcher) -> None:
        super().__init__()
        self._at = at  # past SPILL_AT the bytes are in a file by then: never dropped
        self._watcher = watcher
        self._decided = False
        self.dropped = False
        self.stopped = False
        """The inflater stopped at a limit before the end of the data."""
        self.cap = 0
        """The output cap the inflater ran with (a second inflation must use the same)."""
        self._crc = 0
        self._sha = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        if self.dropped:
            self._take(chunk)
            return
        if not self._decided and chunk and self._size + len(chunk) > self._at:
            self._decided = True
            if self._file is None:
                kept = [*self._chunks, chunk]
                for c in kept:
                    self._watcher.feed(c)
                if self._watcher.hopeful():
                    self.dropped = True
                    self._chunks = []
                    self._size = 0
                    for c in kept:
                        self._take(c, fed=True)
                    return
        super().write(chunk)

    def _take(self, chunk: bytes, *, fed: bool = False) -> None:
        if not fed:
            self._watcher.feed(chunk)
        self._size += len(chunk)
        self._crc = zlib.crc32(chunk, self._crc)
        self._sha.update(chunk)

    def digest(self) -> Digest:
        return Digest(self._size, self._crc, self._sha.digest())

    @contextmanager
    def blob(self) -> Iterator[Blob]:
        if self.dropped:
            raise RuntimeError("the bytes of a dropped tap were not kept")
        with super().blob() as b:
            yield b
