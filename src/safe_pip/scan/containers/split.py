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
import multiprocessing
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from safe_pip.models import Finding
from safe_pip.scan.containers.zipreader import ZipEntry
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.dist.wheel import WheelCheck

SPLIT_MIN_BYTES = 8 << 20
"""Compressed bytes below which a fork (and replaying its journal) costs more than half the
inflating saves."""

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


def halfway(entries: Sequence[ZipEntry]) -> int:
    """Index that cuts ``entries`` into two runs of about equal compressed size."""
    total = sum(e.compressed_size for e in entries)
    run = 0
    for i, e in enumerate(entries):
        run += e.compressed_size
        if run * 2 >= total:
            return i + 1
    return len(entries)


Read = Callable[[Sequence[ZipEntry]], None]
"""Reads these members serially into the context (the archive reader's member loop)."""


def read_split(
    ctx: ScanContext, entries: Sequence[ZipEntry], wheel: WheelCheck, read: Read
) -> None:
    """Read ``entries`` with ``read`` as if serially, the second half in a forked child."""
    cut = halfway(entries)
    mine, theirs = entries[:cut], entries[cut:]
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(rfd)
        _child(ctx, theirs, wheel, read, wfd)
    os.close(wfd)
    try:
        read(mine)
    except BaseException:
        _reap(pid, kill=True)
        os.close(rfd)
        raise
    result = _collect(rfd, pid, ctx.deadline)
    if result is None or not replay(ctx, wheel, result):
        read(theirs)


def _child(
    ctx: ScanContext, part: Sequence[ZipEntry], wheel: WheelCheck, read: Read, wfd: int
) -> None:
    global _in_child
    _in_child = True
    code = 0
    try:
        ctx.pool = None  # the parent's worker processes are not this process's
        ctx.discard_pending()
        journal: list[tuple[Any, ...]] = []
        ctx.journal = journal
        first = len(ctx.findings)
        ctx.scanned = JournaledSet(ctx.scanned, journal)
        try:
            read(part)
            payload: tuple[Any, ...] = (
                "ok",
                journal,
                ctx.findings[first:],
                first,
                wheel.files,
                wheel.texts,
                wheel.alias_of,
            )
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

    def __init__(self, items: set[tuple[Any, ...]], journal: list[tuple[Any, ...]]) -> None:
        super().__init__(items)
        self.journal = journal

    def __contains__(self, key: object) -> bool:
        present = super().__contains__(key)
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


def replay(ctx: ScanContext, wheel: WheelCheck, result: tuple[Any, ...]) -> bool:
    """Apply the child's journal as if this process had read its members; False (nothing
    applied) when the child's duplicate skips do not hold here."""
    _, journal, findings, first, files, texts, alias_of = result
    if not _consistent(ctx.scanned, journal):
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


def _consistent(scanned: set[tuple[Any, ...]], journal: list[tuple[Any, ...]]) -> bool:
    """Every member the child skipped as a duplicate is one this process will have scanned
    by then (the child never saw this process's half)."""
    have = set(scanned)
    for event in _outside_duplicates(journal, have):
        if event[0] != "C" or event[1] in have:
            continue
        if not event[2]:
            return False
        have.add(event[1])
    return True
