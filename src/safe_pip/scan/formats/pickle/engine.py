"""Run CPython's own unpickler over the real bytes, with inert stand-ins for every name.

The opcode semantics (stack, memo, MARK, POP on a mark, FRAME, every protocol) are the
interpreter's own: this module only decides *what file object* the unpickler reads from,
so that the bytes each ``load`` consumes are exactly those a loader's would.

How a loader hands bytes to the unpickler matters only around FRAMEs.  From a file
without ``peek`` (``io.BytesIO`` in ``torch.load``'s zip path, a raw ``FileIO``) the C
unpickler reads a whole frame first; an opcode whose argument runs past the frame's end
loses the frame's last bytes, and a STOP inside a frame leaves the file at the frame's
end.  From memory (``pickle.loads``), or through a ``peek`` that returned the whole frame
(a ``BufferedReader``), frames are mere bounds checks.  The pure-Python unpickler
(joblib's) raises on both.  Ordinary picklers never produce either case, and then every
loader reads the same opcodes.

:class:`Feed` serves the C unpickler through ``peek`` and so learns, at C speed, exactly
how far it has consumed (the unpickler hands back what it used before asking for more).
It stops its chunks before every ``0x95`` byte so that a FRAME opcode is always seen, and
serves each frame as exactly one chunk, so a read crossing the frame's end, or a STOP
before it, is detected.  The main run reproduces the ``peek``-less file exactly; a
second run from memory is made only when frames make loaders disagree (or a frame is too
big to serve through ``peek``), and the pure-Python unpickler runs when the C one fails,
because it accepts some streams the C one rejects (REDUCE with a list of arguments).
"""

from __future__ import annotations

import _pickle
import contextlib
import gc
import pickle
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from safe_pip.scan.formats.pickle import bounds
from safe_pip.scan.formats.pickle.standins import (
    MAX_REAL_VALUE,
    HandOver,
    Instance,
    Position,
    Trace,
    make_global,
    persistent,
)

PREFETCH = 128 * 1024
"""The C unpickler asks ``peek`` only for reads shorter than this (CPython 3.8+)."""

CHUNK = 256 * 1024
"""Most bytes served at once outside frames: time and memory are checked between chunks."""

FRAME_OP = 0x95

_FRAME_HEADER = re.compile(b"\x95.{5}\x00\x00\x00", re.DOTALL)
"""The FRAME headers ``Feed._frame_at`` may accept (a length below 2**40), found at C speed:
the ``0x95`` bytes inside data (floats, strings) are mostly not followed by three zeros."""

ENCODING = "latin1"
"""Py2 ``str`` opcodes decode to ``str`` under any byte values: every loader's ``encoding``
agrees on ASCII, so this never fails where theirs would succeed (a superset of opcodes)."""


KEEP_VALUE = 4096
"""Containers with more items than this are not kept as a stream's value."""


class _Big:
    def __repr__(self) -> str:
        return "<a large container>"


BIG_VALUE = _Big()
"""Stands for a loaded container too large to keep (callers only read small values)."""


class Limit(Exception):
    """A scanner bound was reached inside a load (time, memory, line length)."""


@dataclass
class Loader:
    """How a loader drives the unpickler: which one, and what its hooks do."""

    python: bool = False
    """The pure-Python ``pickle._Unpickler`` (joblib) instead of the C one."""
    persistent: str = "generic"
    """What ``persistent_load`` hands back: ``generic`` a stand-in (plain ``pickle.load``
    has no hook and stops at PERSID; reading on is the superset of every loader that has
    one), ``torch`` a storage (``torch.load`` of a zip), ``torch-legacy`` also the object
    of a ``('module', obj, ...)`` id, ``torch-tar`` the first item of any tuple id."""
    build_hook: Callable[[Any, Feed], None] | None = None
    """Called after each BUILD of the pure-Python unpickler (joblib's array wrappers)."""


@dataclass
class Stream:
    """One ``load`` from ``start``: where the next one begins, or why it stopped."""

    start: int
    ends: tuple[int, ...] = ()
    """File positions a following ``load`` starts at (two when loaders disagree)."""
    value: Any = None
    error: str | None = None
    error_pos: int = -1
    limit: str | None = None
    kind: str = "malformed"
    """Why it stopped: ``malformed``, ``ext`` (an EXT code this process has not
    registered), ``unresolved`` (STACK_GLOBAL operands that are not strings) or
    ``indirect`` (a call of a value that is not a global); ``handed-over`` when it
    stopped, complete, where another loader's reading takes over."""
    anomalies: list[tuple[int, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.error is None and self.limit is None


class Feed:
    """The file object handed to an unpickler, over ``buf[start:end]`` (bytes or mmap).

    ``pos`` is where a ``peek``-less file would stand.  In ``whole`` mode ``peek``
    returns everything left (the unpickler then reads as from memory); otherwise chunks
    end before each ``0x95`` byte and frames are served one by one (see the module doc).
    """

    def __init__(
        self,
        buf: Any,
        start: int,
        end: int,
        trace: Trace,
        *,
        deadline: float,
        memory: bounds.Budget,
        whole: bool = False,
        max_line: int = 1 << 30,
    ) -> None:
        self.buf = buf
        self.mv = memoryview(buf)
        self.pos = start
        self.end = end
        self.trace_pos: Position = trace.position
        self.deadline = deadline
        self.memory = memory
        self.whole = whole
        self.max_line = max_line
        self.live = 0
        """Bytes of the last ``peek`` the unpickler may still be consuming."""
        self.probe = 0
        """Make the next request a ``read`` whose size shows: 1, it starts at a 0x95 byte;
        2, it follows a one-byte item 0x95 (a FRAME opcode if it asks for 8 bytes);
        3, it follows a read past a frame's end (served exactly, as a file would);
        4, it follows a buffer that ends with a FRAME header for ``maybe_frame`` bytes."""
        self.expect_frame = -1
        """Length of the FRAME whose payload is requested next, else -1."""
        self.frame: tuple[int, int] | None = None
        """The frame served through ``peek`` that the unpickler is inside."""
        self.inside = False
        """It handed back less than the whole frame: a read crossing its end, or STOP."""
        self.opaque = False
        """A frame was served through ``read`` (too big for ``peek``): unseen inside."""
        self.maybe_frame = -1
        self.anomalies: list[tuple[int, str]] = []
        self._next_sentinel = -1
        self._checked_at = start
        self._sync()

    # -- bookkeeping ------------------------------------------------------------------
    def _sync(self) -> None:
        self.trace_pos.pos = self.pos
        self.trace_pos.window = self.live

    def _tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise Limit("time budget exhausted")
        if self.pos - self._checked_at >= CHUNK:
            self._checked_at = self.pos
            self.memory.check()

    def _settle(self) -> None:
        """A data request arrives: if the unpickler left a frame early, it straddled."""
        self.live = 0
        if self.inside and self.frame is not None:
            b = self.frame[1]
            self.anomalies.append(
                (
                    self.pos,
                    f"an opcode at offset {self.pos} reads past the end of its FRAME "
                    f"(offset {b}): files skip the frame's last {b - self.pos} bytes, "
                    "memory does not",
                )
            )
            # a peek-less file has consumed the whole frame: the request is served from
            # its end, exactly; a FRAME opcode right before it makes that a frame length
            self.probe = 3 if self.buf[self.pos - 1] != FRAME_OP else 2
            self.pos = min(b, self.end)
        self.inside = False
        self.frame = None

    # -- the file interface -----------------------------------------------------------
    def peek(self, _n: int = 0) -> memoryview | bytes:
        self._tick()
        self._settle()
        pos = self.pos
        chunk: memoryview | bytes
        if self.whole:
            chunk = self.mv[pos : self.end]
        elif self.expect_frame >= 0:
            length, self.expect_frame = self.expect_frame, -1
            stop = min(pos + length, self.end)
            self.frame = (pos, stop)
            self.inside = False
            chunk = self.mv[pos:stop]
        elif self.probe or self._frame_at(pos):
            # learn the size of the next request: ``read(n)`` follows an empty peek
            self.probe = self.probe or 1
            chunk = b""
        else:
            chunk = self.mv[pos : self._chunk_end(pos)]
        self.live = len(chunk)
        self._sync()
        return chunk

    def _frame_at(self, at: int) -> bool:
        """Could a FRAME opcode at ``at`` hold a frame?  One whose announced length runs
        past the data fails the same way in every reader (truncated), so only the others
        need watching — which keeps random bytes (floats) from stopping the feed."""
        end = self.end
        buf = self.buf
        if at + 9 > end or buf[at] != FRAME_OP or (buf[at + 8] | buf[at + 7] | buf[at + 6]):
            return False  # (a length of 2**40 or more runs past any file)
        return int.from_bytes(buf[at + 1 : at + 9], "little") <= end - at - 9

    def _chunk_end(self, pos: int) -> int:
        limit = min(self.end, pos + CHUNK)
        nxt = self._next_sentinel
        if nxt <= pos:
            # search no further than one chunk: a long argument is never read; a header
            # that starts before ``limit`` may end after it
            buf, search = self.buf, _FRAME_HEADER.search
            stop = min(self.end, limit + 8)
            found = search(buf, pos + 1, stop)
            while found is not None and not self._frame_at(found.start()):
                found = search(buf, found.start() + 1, stop)
            self._next_sentinel = nxt = limit if found is None else found.start()
        return min(nxt, limit)

    def read(self, n: int = -1) -> memoryview | bytes:
        self._tick()
        if 0 <= n <= self.live:  # the unpickler skips what it used of the last peek
            self.pos += n
            self.live = 0
            if self.frame is not None:
                self.inside = self.pos < self.frame[1]
                if not self.inside:
                    self._after_buffer(self.frame[1])
                    self.frame = None
            self._sync()
            return b""
        self._settle()
        if n < 0:
            n = self.end - self.pos
        frame_length = self.probe == 2 and n == 8
        # a frame payload asked for without peek: too big for it, or announced by a FRAME
        # whose header ends a buffer (only a crafted stream nests frames like that)
        opaque = self.expect_frame >= 0 or (self.probe == 4 and n == self.maybe_frame)
        pos = self.pos
        data = self.mv[pos : min(self.end, pos + n)]
        self.pos = pos + len(data)
        self.expect_frame = -1
        self.probe = 0
        if frame_length and len(data) == 8:
            self.expect_frame = int.from_bytes(data, "little") or -1
        else:
            self.opaque = self.opaque or opaque
            self._after_buffer(self.pos)
        self._sync()
        return data

    def _after_buffer(self, end: int) -> None:
        """A frame was used up to its last byte.  If the buffer ends with a FRAME opcode
        (its length read from after it) or a whole FRAME header (its payload read from
        after it), the next request is watched so that frame is served as a file would."""
        if end > 0 and self.buf[end - 1] == FRAME_OP:
            self.probe = 2
        elif end >= 9 and self.buf[end - 9] == FRAME_OP:
            self.probe = 4
            self.maybe_frame = int.from_bytes(self.buf[end - 8 : end], "little")

    def readline(self, _size: int = -1) -> memoryview | bytes:
        self._tick()
        self._settle()
        self.probe = 0
        self.expect_frame = -1
        pos = self.pos
        stop = min(self.end, pos + self.max_line)
        nl = self.buf.find(b"\n", pos, stop)
        if nl < 0:
            if stop < self.end:
                raise Limit(f"a text argument longer than {self.max_line} bytes")
            nl = self.end - 1
        data = self.mv[pos : nl + 1]
        self.pos = nl + 1
        self._sync()
        return data

    def readinto(self, b: Any) -> int:
        self._tick()
        self._settle()
        self.probe = 0
        self.expect_frame = -1
        pos = self.pos
        got = min(self.end, pos + len(b)) - pos
        if len(b) <= MAX_REAL_VALUE:
            b[:got] = self.mv[pos : pos + got]
        # else: a bytes payload this long is never evaluated (the stand-ins refuse values
        # beyond MAX_REAL_VALUE), so its content is not copied: memory stays untouched
        self.pos = pos + got
        self._sync()
        return got


class PlainFile:
    """The feed without ``peek``: what ``io.BytesIO`` or a raw file gives an unpickler.

    The C unpickler then asks for every opcode and argument outside frames separately
    (slow, so used only to settle streams whose frames make loaders disagree); the
    pure-Python unpickler always reads this way and gets ``bytes`` it can keep.
    """

    def __init__(self, feed: Feed, *, copy: bool) -> None:
        self.feed = feed
        self.copy = copy

    def read(self, n: int = -1) -> Any:
        data = self.feed.read(n)
        return bytes(data) if self.copy else data

    def readline(self) -> Any:
        data = self.feed.readline()
        return bytes(data) if self.copy else data

    def readinto(self, b: Any) -> int:
        return self.feed.readinto(b)


# --- the unpicklers ------------------------------------------------------------------------


class _Hooks:
    """find_class / persistent_load shared by the C and pure-Python subclasses."""

    _trace: Trace
    _persistent: str

    def find_class(self, module: str, name: str) -> Any:
        return make_global(self._trace, module, name)

    def persistent_load(self, pid: Any) -> Any:
        value = persistent(self._trace, pid)
        if type(pid) is tuple and pid:
            if self._persistent == "torch-tar":
                return pid[0]  # torch's legacy tar loader hands back the first item
            if self._persistent == "torch-legacy" and len(pid) > 1 and pid[0] in _MODULE:
                return pid[1]  # torch hands back the pickled class itself
        return value


_MODULE = ("module", b"module")


def _unpickler_class(python: bool) -> type:
    base: type = pickle._Unpickler if python else _pickle.Unpickler
    attrs: dict[str, Any] = {}
    if python:
        attrs["dispatch"] = dict(pickle._Unpickler.dispatch)
        attrs["dispatch"][pickle.BUILD[0]] = _python_build
    return type("SafePipUnpickler", (_Hooks, base), attrs)


def _python_build(self: Any) -> None:
    pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
    hook = getattr(self, "_build_hook", None)
    if hook is not None:
        hook(self, self._feed)


_CLASSES: dict[bool, type] = {}


def _unpickler(loader: Loader, feed: Feed, trace: Trace, python: bool, plain: bool) -> Any:
    cls = _CLASSES.get(python)
    if cls is None:
        cls = _CLASSES[python] = _unpickler_class(python)
    file: Any = PlainFile(feed, copy=python) if python or plain else feed
    u = cls(file, encoding=ENCODING)
    u._trace = trace
    u._persistent = loader.persistent
    u._feed = feed
    u._build_hook = loader.build_hook if python else None
    return u


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of containers make the cyclic collector the main cost; pause it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run(
    buf: Any,
    start: int,
    end: int,
    trace: Trace,
    loader: Loader,
    *,
    deadline: float,
    memory: bounds.Budget,
    mode: str = "chunked",
    python: bool = False,
) -> tuple[Stream, Feed]:
    """One ``load`` from ``start``; never raises for bad data.

    ``mode``: ``chunked`` (the C unpickler through the detecting ``peek``, as a
    peek-less file would read), ``plain`` (no ``peek`` at all: exactly ``io.BytesIO``)
    or ``whole`` (``peek`` returns everything: exactly ``pickle.loads``).
    """
    feed = Feed(buf, start, end, trace, deadline=deadline, memory=memory, whole=mode == "whole")
    result = Stream(start)
    try:
        with _no_gc(), memory.armed():
            u = _unpickler(loader, feed, trace, python or loader.python, mode == "plain")
            try:
                value = u.load()
                # Keep what callers read (a magic number, a stand-in, a small table);
                # drop a big object graph here, while the collector is off: freed by
                # reference counting instead of traversed by a collection afterwards.
                big = isinstance(value, (dict, list, tuple, set)) and len(value) > KEEP_VALUE
                result.value = BIG_VALUE if big else value
                del value
            finally:
                del u  # releases the unpickler's view of the buffer and its memo
    except HandOver:
        result.kind = "handed-over"
    except Limit as exc:
        result.limit = str(exc)
    except MemoryError:
        if memory.grown() < memory.limit // 2:
            # one allocation the size of a declared length or memo index: the stream
            # claims more than its bytes can hold
            result.error = (
                "an opcode asks for more memory than the scan allows "
                f"({memory.describe()}): a length or memo index far beyond the data"
            )
        else:
            result.limit = f"more than {memory.describe()} of memory while unpickling"
    except RecursionError:
        result.limit = "nesting too deep"
    except Exception as exc:  # the unpickler's own errors: the loader would stop here
        result.error = _describe_error(exc)
        if isinstance(exc, ValueError) and "extension code" in str(exc):
            result.kind = "ext"
        elif "STACK_GLOBAL requires str" in str(exc):
            result.kind = "unresolved"
        elif isinstance(exc, TypeError) and "object is not callable" in str(exc):
            result.kind = "indirect"  # REDUCE on a value that is not a global
    result.error_pos = feed.pos
    result.anomalies = feed.anomalies
    return result, feed


def _describe_error(exc: BaseException) -> str:
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load(
    buf: Any,
    start: int,
    end: int,
    trace: Trace,
    loader: Loader,
    *,
    deadline: float,
    memory: bounds.Budget,
) -> Stream:
    """What every reading of one ``load`` from ``start`` does (see the module doc).

    The C unpickler runs through the detecting feed.  If frames make loaders disagree,
    it runs again exactly as from a peek-less file and as from memory.  If it stopped on
    an error, the pure-Python unpickler runs too (it is more lenient in places).  All
    runs record into ``trace``; the stream returned carries every place the next load
    may start and the anomalies that make readings differ.
    """
    kw: dict[str, Any] = {"deadline": deadline, "memory": memory}
    main, feed = run(buf, start, end, trace, loader, **kw)
    ends: list[int] = []
    if loader.python:  # the pure-Python unpickler always reads as a peek-less file does
        main.ends = (feed.pos,) if main.complete else ()
        return main
    if feed.anomalies or feed.opaque:
        exact, exact_feed = run(buf, start, end, trace, loader, mode="plain", **kw)
        whole, whole_feed = run(buf, start, end, trace, loader, mode="whole", **kw)
        main.anomalies = feed.anomalies or [
            (feed.pos, "a FRAME too large to check opcode by opcode")
        ]
        for result, where in ((exact, exact_feed.pos), (whole, whole_feed.pos)):
            if result.complete and where not in ends:
                ends.append(where)
        main.value, main.error, main.limit = exact.value, exact.error, exact.limit
        main.limit = main.limit or whole.limit
    elif main.complete and main.kind != "handed-over":
        ends.append(feed.pos)
        if feed.inside and feed.frame is not None:
            b = feed.frame[1]
            main.anomalies.append(
                (
                    feed.pos,
                    f"STOP at offset {feed.pos - 1} is inside a FRAME that runs to offset "
                    f"{b}: a file reader resumes at the frame's end, memory after the STOP",
                )
            )
            ends = [b, feed.pos]
    if main.error is not None:
        alt, alt_feed = run(buf, start, end, trace, loader, python=True, **kw)
        if alt.complete:
            main.anomalies.append(
                (
                    alt_feed.pos,
                    "the pure-Python unpickler reads this stream to its end where the C "
                    f"unpickler stops ({main.error})",
                )
            )
            if alt_feed.pos not in ends:
                ends.append(alt_feed.pos)
    main.ends = tuple(ends)
    return main


def stand_in_value(value: Any) -> bool:
    """True when a load's result is a stand-in (computed by a call), not plain data."""
    return isinstance(value, Instance)
