"""One large wheel's members read by two processes, with the result of reading them in one.

Inflating and hashing a 500 MB wheel is one core's work; the machine has more. When a wheel
is large enough to pay for a fork, the members are cut in two contiguous halves by
compressed size: a forked child reads the second half while this process reads the first.
The child does not report; it records every effect on its :class:`ScanContext` (findings,
inventory, skipped members, member and byte charges, the "already scanned" checks that skip
duplicate members) in a journal, and this process replays the journal afterwards, in member
order, exactly as if it had read those members itself:

* findings are de-duplicated on replay, as ``report`` would have;
* a member (at any depth) the child scanned but this process had already scanned (same
  digest, same reading: ``WheelCheck.scanned_before``) is skipped with everything it found,
  as the serial scan skips it;
* member and byte budgets are charged on replay, so a limit stops the scan at the same
  member;
* if the child's view and this process's disagree (the child skipped a member as a
  duplicate this process never scanned), the child failed, hit a budget, ran past the
  deadline or died, its half is read again here, serially: never less work than one process.

Only whole wheels at the top of a scan are split (no TorchScript or Keras archive hooks,
no member name twice), and never in a process that runs other threads (a fork copies their
locks) or is itself a worker.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
import pickle
import select
import signal
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from safe_pip.models import Finding
from safe_pip.scan.containers.zipreader import ZipEntry
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.dist.wheel import WheelCheck

SPLIT_MIN_BYTES = 2 << 20
"""Compressed bytes below which a fork (and replaying its journal) costs more than the
second core saves (measured: babel's 10 MiB, numba's 3 MiB gain; keras' 2 MiB breaks even)."""

_in_child = False


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worth_splitting(entries: Sequence[ZipEntry]) -> bool:
    """Large enough, on a machine and in a process where forking is sound and useful."""
    return (
        not _in_child
        and hasattr(os, "fork")
        and sum(e.compressed_size for e in entries if e.data_offset >= 0) >= SPLIT_MIN_BYTES
        and cores() >= 2
        and threading.active_count() == 1
        and multiprocessing.parent_process() is None
        and len({e.name for e in entries}) == len(entries)
    )


MEMBER_COST = 128 << 10
"""What reading one member costs besides its bytes (sniffing, dispatch, hooks), in bytes
inflated in the same time: tensorflow's 15,000 small members weigh as much as its one
750 MB library."""
SOURCE_FACTOR = 4
"""A byte of Python source costs this many inflated bytes (decoding, filters, parsing)."""


def cost(entry: ZipEntry) -> int:
    """Estimated work of reading one member (its declared size steers the estimate only)."""
    size = max(entry.declared_size, entry.compressed_size)
    return MEMBER_COST + size * (SOURCE_FACTOR if entry.name.endswith(".py") else 1)


BLOCKS = 32
"""Runs of members of about equal estimated work that the two processes take turns to claim
(this process from the front, the child from the back), so a poor estimate (Python source
whose parsing the sizes do not show) costs at most about one run, not half the wheel."""


def blocks(entries: Sequence[ZipEntry]) -> list[tuple[int, int]]:
    """``(start, end)`` index ranges, in order, covering ``entries``."""
    costs = [cost(e) for e in entries]
    share = max(1, sum(costs) // BLOCKS)
    out: list[tuple[int, int]] = []
    start = run = 0
    for i, c in enumerate(costs):
        run += c
        if run >= share:
            out.append((start, i + 1))
            start, run = i + 1, 0
    if start < len(entries):
        out.append((start, len(entries)))
    return out


Read = Callable[[Sequence[ZipEntry]], None]
"""Reads these members serially into the context (the archive reader's member loop)."""


class _Claims:
    """Which runs are still free: this process takes from the front, the child from the
    back, until they meet (a shared counter pair behind a lock).

    The lock is a POSIX record lock on an anonymous file, not a semaphore: the kernel drops
    it when its holder dies, so a child killed while claiming (the OOM killer, a signal)
    cannot leave this process waiting forever. This process then claims the rest, finds
    no result from the child and reads the child's runs itself."""

    def __init__(self, n: int) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the claims
        self._shared = mmap.mmap(-1, 16)
        self._shared[:] = struct.pack("<qq", 0, n - 1)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX only, as fork is

        fcntl.lockf(self._file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._file, fcntl.LOCK_UN)

    def front(self) -> int | None:
        with self._locked():
            first, last = struct.unpack("<qq", self._shared[:])
            if first > last:
                return None
            self._shared[:] = struct.pack("<qq", first + 1, last)
            return int(first)

    def back(self) -> int | None:
        with self._locked():
            first, last = struct.unpack("<qq", self._shared[:])
            if first > last:
                return None
            self._shared[:] = struct.pack("<qq", first, last - 1)
            return int(last)

    def close(self) -> None:
        self._file.close()


def read_split(
    ctx: ScanContext, entries: Sequence[ZipEntry], wheel: WheelCheck, read: Read
) -> None:
    """Read ``entries`` with ``read`` as if serially, the runs from the back in a child."""
    runs = blocks(entries)
    claims = _Claims(len(runs))
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(rfd)
        _child(ctx, entries, runs, claims, wheel, read, wfd)
    os.close(wfd)
    done = 0  # runs read here, from the front
    pool, ctx.pool = ctx.pool, None  # two processes already keep two cores busy
    try:
        while (run := claims.front()) is not None:
            start, end = runs[run]
            read(entries[start:end])
            done = run + 1
    except BaseException:
        _reap(pid, kill=True)
        os.close(rfd)
        raise
    finally:
        ctx.pool = pool
        claims.close()
    result = _collect(rfd, pid, ctx.deadline)
    rest = list(range(done, len(runs)))
    if (result is None or not replay(ctx, wheel, result, rest)) and rest:
        read(entries[runs[done][0] :])


def _child(
    ctx: ScanContext,
    entries: Sequence[ZipEntry],
    runs: list[tuple[int, int]],
    claims: _Claims,
    wheel: WheelCheck,
    read: Read,
    wfd: int,
) -> None:
    global _in_child
    _in_child = True
    code = 0
    try:
        ctx.pool = None  # the parent's worker processes are not this process's
        ctx.discard_pending()
        first = len(ctx.findings)
        before = frozenset(ctx.scanned)
        records: list[tuple[Any, ...]] = []
        try:
            while (run := claims.back()) is not None:
                journal: list[tuple[Any, ...]] = []
                ctx.journal = journal
                # a duplicate is skipped only for a member scanned before the fork or
                # earlier in this run: the runs read here come later in the wheel
                ctx.scanned = JournaledSet(before, journal)
                wheel.files, wheel.texts, wheel.alias_of = {}, {}, {}
                start, end = runs[run]
                read(entries[start:end])
                records.append((run, journal, wheel.files, wheel.texts, wheel.alias_of))
            payload: tuple[Any, ...] = ("ok", records, ctx.findings[first:], first)
        except BudgetExhausted:
            payload = ("budget",)
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        with open(wfd, "wb") as out:
            out.write(data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


class JournaledSet(set[tuple[Any, ...]]):
    """``ctx.scanned`` in the child: each "scanned before?" question is journaled with the
    child's answer (scanned now, or skipped as a duplicate)."""

    def __init__(self, before: frozenset[tuple[Any, ...]], journal: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.before = before
        self.journal = journal

    def __contains__(self, key: object) -> bool:
        present = key in self.before or super().__contains__(key)
        self.journal.append(("C", key, not present))
        return present


def open_group(ctx: ScanContext) -> int:
    """Journal position before a member's "scanned before?" question (-1: no journal)."""
    return -1 if ctx.journal is None else len(ctx.journal)


def close_group(ctx: ScanContext, mark: int) -> None:
    """End of the member whose scan the question at ``mark`` started (if it did)."""
    journal = ctx.journal
    if journal is not None and mark >= 0 and len(journal) > mark:
        event = journal[mark]
        if event[0] == "C" and event[2]:
            journal.append(("E",))


def _collect(rfd: int, pid: int, deadline: float) -> tuple[Any, ...] | None:
    """The child's pickled result, or None (it failed, died or ran past the deadline)."""
    chunks: list[bytes] = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([rfd], [], [], remaining)[0]:
                _reap(pid, kill=True)
                return None
            chunk = os.read(rfd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    if _reap(pid, kill=False) != 0 or not chunks:
        return None
    try:
        result = pickle.loads(b"".join(chunks))  # our own child's output
    except Exception:
        return None
    return result if isinstance(result, tuple) and result and result[0] == "ok" else None


def _reap(pid: int, *, kill: bool) -> int:
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def replay(
    ctx: ScanContext, wheel: WheelCheck, result: tuple[Any, ...], expected: list[int]
) -> bool:
    """Apply the child's journals (runs ``expected``, in order) as if this process had read
    their members; False (nothing applied) when the child did not read exactly those runs
    or its duplicate skips do not hold here."""
    _, records, findings, first = result
    records = sorted(records, key=lambda r: int(r[0]))
    if [r[0] for r in records] != expected:
        return False
    journal = [event for record in records for event in record[1]]
    if not _consistent(ctx, journal):
        return False
    for event in _outside_duplicates(journal, ctx.scanned):
        kind = event[0]
        if kind == "F":
            finding: Finding = findings[event[2] - first]
            ctx.add_finding(event[1], finding)
        elif kind == "I":
            ctx.saw(event[1], event[2])
        elif kind == "S":
            ctx.skip(event[1], event[2])
        elif kind == "M":
            ctx.charge_member(event[1])
        elif kind == "B":
            ctx.charge_bytes(event[1], event[2])
        elif kind == "C" and event[2]:
            if event[1] in ctx.scanned:
                ctx.saw("duplicate")  # as WheelCheck.scanned_before says it
            else:
                ctx.scanned.add(event[1])
    for _, _, files, texts, alias_of in records:
        for name, seen in files.items():
            wheel.files.setdefault(name, []).extend(seen)
        wheel.texts.update(texts)
        for alias, name in alias_of.items():
            wheel.alias_of.setdefault(alias, name)
    return True


def _outside_duplicates(
    journal: list[tuple[Any, ...]], scanned: set[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """The journal's events, less those of members the child scanned that are duplicates
    here (their key is in ``scanned``, which the caller keeps up to date as it goes)."""
    skipping = 0
    for event in journal:
        kind = event[0]
        if skipping:
            if kind == "C" and event[2]:
                skipping += 1
            elif kind == "E":
                skipping -= 1
            continue
        if kind == "C" and event[2] and event[1] in scanned:
            skipping = 1
        yield event


def _consistent(ctx: ScanContext, journal: list[tuple[Any, ...]]) -> bool:
    """The journal replays as the serial scan would have run: every member the child
    skipped as a duplicate is one this process will have scanned by then (the child never
    saw this process's runs), and no member or byte budget runs out on the way (the child's
    inflating was capped by what it alone had read: where a budget ends, the serial scan
    must show how)."""
    have = set(ctx.scanned)
    members, read = ctx.members, ctx.bytes_read
    for event in _outside_duplicates(journal, have):
        kind = event[0]
        if kind == "M":
            members += 1
            if members > ctx.limits.max_members:
                return False
        elif kind == "B":
            read += event[1]
            if read > ctx.limits.max_total_bytes:
                return False
        elif kind == "C" and event[1] not in have:
            if not event[2]:
                return False
            have.add(event[1])
    return True
