"""Memory bounds for the interpreter's unpickler, enforced before the memory is spent.

The C unpickler allocates without asking anyone: one ``LONG_BINPUT`` with a huge index
grows its memo table to twice that many entries (16 bytes each, zeroed at once), and a
run of ``EMPTY_SET`` bytes builds a 216-byte object per input byte.  Two guards:

* while a load runs, the process's data-segment limit (``RLIMIT_DATA``, Linux) is set to
  what it uses now plus the budget, so an allocation beyond it fails with ``MemoryError``
  instead of being made — the scan reports a limit, the machine keeps its memory;
* between chunks of input the engine compares anonymous resident memory with the budget
  (``check``), which also works where the kernel limit is not available.

The budget is a multiple of the bytes being unpickled (ordinary pickles need under 10x:
every float, tuple and string becomes an object), never less than a floor so that small
streams are not starved.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

RATIO = 32
FLOOR = 256 * 1024 * 1024

_lock = threading.Lock()
_armed = 0
_saved: tuple[int, int] | None = None


class Budget:
    """How much memory unpickling one member may add to the process."""

    def __init__(self, stream_bytes: int, *, ratio: int = RATIO, floor: int = FLOOR) -> None:
        self.limit = max(floor, ratio * stream_bytes)
        self._base = -1

    def describe(self) -> str:
        return f"{self.limit >> 20} MiB"

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Hold allocations to the budget for the duration of a load (nesting is fine)."""
        global _armed, _saved
        with _lock:
            if _armed == 0:
                _saved = _set_data_limit(self.limit)
            _armed += 1
        self._base = _anon_bytes()
        try:
            yield
        finally:
            with _lock:
                _armed -= 1
                if _armed == 0 and _saved is not None:
                    _restore(_saved)
                    _saved = None

    def grown(self) -> int:
        """Anonymous memory added since the budget was armed (0 where unknown)."""
        now = _anon_bytes()
        return max(0, now - self._base) if self._base >= 0 and now >= 0 else 0

    def check(self) -> None:
        """Raise ``MemoryError`` when resident memory grew past the budget."""
        if self._base < 0:
            return
        now = _anon_bytes()
        if now >= 0 and now - self._base > self.limit:
            raise MemoryError


class _ProcFile:
    """A ``/proc/self`` file kept open and read again from offset 0.

    The kernel generates such a file afresh on every read from its start, so a kept
    descriptor gives the same numbers as opening the file each time, at a fraction of
    the cost (the open is most of it: ~50 us against ~2 us, twice per load).  Before each
    read the descriptor is checked to still be the file it opened (a descriptor some
    other code closed may have been reused for another file), and ``/proc/self`` names
    the process that opened it: a forked child opens its own.  When the check fails the
    file is opened again, as it was on every read before; when that fails, ``OSError``.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._pid = -1
        self._id = (-1, -1)
        self._lock = threading.Lock()

    def read(self, limit: int = 1 << 16) -> bytes:
        """The file's text (at most ``limit`` bytes); ``OSError`` when unreadable."""
        pid = os.getpid()
        ours = self._ours()
        if ours and self._pid == pid:
            with contextlib.suppress(OSError):
                return os.pread(self._fd, limit, 0)
        with self._lock:
            if ours:  # broken, or a forked child's copy of its parent's file
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            self._fd, self._pid, self._id = -1, -1, (-1, -1)
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                st = os.fstat(fd)
                data = os.pread(fd, limit, 0)
            except OSError:
                os.close(fd)
                raise
            self._fd, self._pid, self._id = fd, pid, (st.st_dev, st.st_ino)
            return data

    def _ours(self) -> bool:
        """The kept descriptor is still open on the file it was opened on."""
        if self._fd < 0:
            return False
        try:
            st = os.fstat(self._fd)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._id


_STATM = _ProcFile("/proc/self/statm")
_STATUS = _ProcFile("/proc/self/status")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _anon_bytes() -> int:
    """Anonymous (heap) resident bytes of this process, or -1 where unknown."""
    try:
        fields = _STATM.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE
    except (OSError, ValueError, IndexError):
        return -1


def _vm_data() -> int:
    """The data segment's size (``VmData``, what ``RLIMIT_DATA`` bounds), or -1."""
    limit = 1 << 16
    try:
        text = _STATUS.read(limit)
        if len(text) >= limit:  # a huge Groups line: read the whole file
            with open("/proc/self/status", "rb") as fh:
                text = fh.read()
        at = text.find(b"\nVmData:")
        if at >= 0:
            return int(text[at + 8 : text.index(b"\n", at + 8)].split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _set_data_limit(extra: int) -> tuple[int, int] | None:
    """Cap the data segment at its current size plus ``extra``; returns the old limits."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return None
    used = _vm_data()
    if used < 0:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = used + extra
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft <= want:
        return None  # already tighter
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    except (ValueError, OSError):
        return None
    return soft, hard


def _restore(saved: tuple[int, int]) -> None:
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_DATA, saved)
