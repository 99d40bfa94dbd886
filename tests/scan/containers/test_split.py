"""A wheel read by two processes reports exactly what one process reading it reports.

The split is forced (``SPLIT_MIN_BYTES`` = 0) on wheels built to exercise every effect the
child journals: findings in both halves and repeated across them, nested wheels whose
members repeat members of the other half (skipped as duplicates by the serial scan, so the
replay must skip them too), inventory, and member budgets that run out in the child's half.
Every failure of the child (it dies, its duplicate skips do not hold) must end in this
process reading the half again, never in a half left unread.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safe_pip.models import ScanResult
from safe_pip.scan.containers import split
from safe_pip.scan.containers.zipreader import ZipEntry
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits
from safe_pip.scan.dist.wheel import WheelCheck
from tests.scan.dist.wheels import wheel_bytes
from tests.scan.pickles import evil

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the split forks")

SHARED = b"# shared module, large enough to be de-duplicated by digest\n" + b"x = 1\n" * 200


def _inner(name: str, extra: bytes) -> bytes:
    """Two of these share the package ``common`` (so the same reading of its members)."""
    return wheel_bytes(
        name,
        {
            "common/__init__.py": SHARED,
            "common/data.pkl": evil("os", "system", name),
            "common/own.py": extra,
        },
    )


def _outer() -> bytes:
    files: dict[str, bytes] = {}
    for i in range(30):
        files[f"outer/mod{i}.py"] = b"import os\n" + f"VALUE = {i}\n".encode() * 300
    files["outer/a.pkl"] = evil("os", "system", "a")
    files["outer/shared.py"] = SHARED
    files["outer/vendor/one-1.0-py3-none-any.whl"] = _inner("one", b"ONE = 1\n" * 100)
    for i in range(30, 60):
        files[f"outer/mod{i}.py"] = b"import sys\n" + f"VALUE = {i}\n".encode() * 300
    files["outer/b.pkl"] = evil("os", "system", "a")  # same bytes as a.pkl: a duplicate
    files["outer/vendor/two-1.0-py3-none-any.whl"] = _inner("two", b"TWO = 2\n" * 100)
    files["outer/again/shared.py"] = SHARED
    files["outer/notes.txt"] = b"x = 1\n" * 50  # sniffed as zlib, counted back as data
    return wheel_bytes("outer", files)


def _view(result: ScanResult) -> tuple[Any, ...]:
    return (
        [(f.rule_id, f.severity, f.message, f.location) for f in result.findings],
        dict(result.inventory),
        sorted((s.location, s.reason) for s in result.skipped),
    )


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "outer-1.0-py3-none-any.whl"
    path.write_bytes(_outer())
    return path


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the splits; the threshold is set by each scan below."""
    calls: list[int] = []
    real = split.read_split

    def counting(*args: Any) -> None:
        calls.append(1)
        real(*args)

    monkeypatch.setattr(split, "read_split", counting)
    yield calls


def _scan(
    monkeypatch: pytest.MonkeyPatch, path: Path, *, split_at: int, limits: Limits | None = None
) -> ScanResult:
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", split_at)
    # In the whole suite a session-scoped index server (tests/gate) keeps a thread idling in
    # select(), so the split's own "no other threads" check would turn it off here; what is
    # tested is the replay, so this process counts as single-threaded.  The check itself
    # is tested below with a real thread.
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    return scan_path(path, limits=limits, workers=0)


def test_no_split_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies other threads' locks, not the threads: never split beside one."""
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(split, "cores", lambda: 2)
    entries = [ZipEntry(f"m{i}.py", None, 8, 0, 0, 100, 300, 0, data_offset=30) for i in range(2)]
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert split.worth_splitting(entries)  # the same entries split when alone
    monkeypatch.undo()
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(split, "cores", lambda: 2)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not split.worth_splitting(entries)
    finally:
        stop.set()
        other.join()


def test_split_reports_what_one_process_reports(
    monkeypatch: pytest.MonkeyPatch, wheel: Path, splits: list[int]
) -> None:
    serial = _scan(monkeypatch, wheel, split_at=1 << 62)
    assert not splits
    both = _scan(monkeypatch, wheel, split_at=0)
    assert splits == [1]
    assert _view(both) == _view(serial)
    # the wheel exercises what it is meant to: findings in both halves and nested wheels,
    # and members skipped as duplicates of the other half's
    locations = [f.location for f in serial.findings]
    assert any("outer/a.pkl@" in loc for loc in locations)
    assert any("two-1.0-py3-none-any.whl!common/data.pkl@" in loc for loc in locations)
    assert serial.inventory["duplicate"] == 2  # again/shared.py; two's common/__init__.py
    assert serial.inventory["zlib"] == 0


def test_budgets_run_out_at_the_same_member(
    monkeypatch: pytest.MonkeyPatch, wheel: Path, splits: list[int]
) -> None:
    outer = len(zipfile.ZipFile(wheel).namelist())  # the nested wheels' members come on top
    for limit in (outer + 1, outer + 5, outer + 8):
        limits = Limits(max_members=limit)
        serial = _scan(monkeypatch, wheel, split_at=1 << 62, limits=limits)
        both = _scan(monkeypatch, wheel, split_at=0, limits=limits)
        assert any(f.rule_id == "ARCHIVE-LIMIT" for f in serial.findings)
        assert _view(both) == _view(serial)
    size = sum(i.file_size for i in zipfile.ZipFile(wheel).infolist())
    for limit in (size - 20_000, size - 1000):  # runs out in the last runs (the child's)
        limits = Limits(max_total_bytes=limit)
        serial = _scan(monkeypatch, wheel, split_at=1 << 62, limits=limits)
        both = _scan(monkeypatch, wheel, split_at=0, limits=limits)
        assert any(f.rule_id == "ARCHIVE-LIMIT" for f in serial.findings)
        assert _view(both) == _view(serial)
    assert len(splits) == 5


def test_a_child_that_dies_leaves_its_half_to_this_process(
    monkeypatch: pytest.MonkeyPatch, wheel: Path, splits: list[int]
) -> None:
    serial = _scan(monkeypatch, wheel, split_at=1 << 62)

    def dies(*args: Any) -> None:
        os._exit(3)

    monkeypatch.setattr(split, "_child", dies)
    both = _scan(monkeypatch, wheel, split_at=0)
    assert splits == [1]
    assert _view(both) == _view(serial)


def test_a_duplicate_skip_this_process_cannot_confirm_is_refused() -> None:
    ctx = ScanContext()
    wheel = WheelCheck("w-1.0.dist-info", "w.whl")
    key = ("digest", "x.py", False)
    journal: list[tuple[Any, ...]] = [("M", "w.whl!x.py"), ("C", key, False)]
    assert not split.replay(ctx, wheel, ("ok", [(3, journal, {}, {}, {})], [], 0), [3])
    assert ctx.members == 0  # nothing applied
    ctx.scanned.add(key)
    files = {"x.py": [("d", 1)]}
    # runs the child did not read, or more than it should have: not applied either
    assert not split.replay(ctx, wheel, ("ok", [(3, journal, files, {}, {})], [], 0), [2, 3])
    assert split.replay(ctx, wheel, ("ok", [(3, journal, files, {}, {})], [], 0), [3])
    assert ctx.members == 1
    assert wheel.files == {"x.py": [("d", 1)]}


def test_a_journal_that_runs_a_budget_out_is_refused() -> None:
    """The child inflated under a cap of what it alone had read: where the total runs out,
    this process reads the runs itself so the limit's findings are the serial scan's."""
    ctx = ScanContext(Limits(max_total_bytes=1000, max_members=3))
    wheel = WheelCheck("w-1.0.dist-info", "w.whl")
    ctx.charge_bytes(600, "w.whl!a")
    big: list[tuple[Any, ...]] = [("M", "w.whl!b"), ("B", 500, "w.whl!b")]
    assert not split.replay(ctx, wheel, ("ok", [(0, big, {}, {}, {})], [], 0), [0])
    many: list[tuple[Any, ...]] = [("M", f"w.whl!{n}") for n in "bcde"]
    assert not split.replay(ctx, wheel, ("ok", [(0, many, {}, {}, {})], [], 0), [0])
    assert (ctx.members, ctx.bytes_read) == (0, 600)
    assert not ctx.findings


def test_replay_skips_what_this_process_scanned_already() -> None:
    ctx = ScanContext()
    wheel = WheelCheck("w-1.0.dist-info", "w.whl")
    key = ("digest", "x.py", False)
    ctx.scanned.add(key)
    ctx.report("PICKLE-GLOBAL-DANGEROUS", "calls os.system", "w.whl!a/x.py")
    found = ctx.findings[0]
    inner = ("other", "y.py", False)
    journal: list[tuple[Any, ...]] = [
        ("C", key, True),  # scanned by the child, already scanned here: skip it all
        ("C", inner, True),
        ("F", ("PICKLE-GLOBAL-DANGEROUS", "w.whl!b/x.py", "calls os.system"), 0),
        ("E",),
        ("I", "pickle", 1),
        ("E",),
        ("F", ("PICKLE-GLOBAL-DANGEROUS", "w.whl!a/x.py", "calls os.system"), 1),  # a repeat
        ("I", "zip", 1),
    ]
    records: list[tuple[Any, ...]] = [
        (1, journal[4:], {}, {}, {}),
        (0, journal[:4], {}, {}, {}),
    ]  # any order
    assert split.replay(ctx, wheel, ("ok", records, [found, found], 0), [0, 1])
    assert ctx.findings == [found]
    assert ctx.inventory == {"duplicate": 1, "zip": 1}
    assert inner not in ctx.scanned


def test_a_child_killed_while_claiming_does_not_hang_this_process(
    monkeypatch: pytest.MonkeyPatch, wheel: Path, splits: list[int], tmp_path: Path
) -> None:
    """The child dies holding the claim lock (the OOM killer, a signal): the kernel drops
    the lock, this process claims the rest and reads the child's runs itself. With a lock
    that outlived its holder this test would wait until the alarm below."""
    serial = _scan(monkeypatch, wheel, split_at=1 << 62)
    holding = tmp_path / "child-holds-the-lock"

    def dies_holding_the_lock(ctx: Any, entries: Any, runs: Any, claims: Any, *rest: Any) -> None:
        claims._locked().__enter__()
        holding.touch()
        os.kill(os.getpid(), signal.SIGKILL)

    real_front = split._Claims.front

    def front_after_the_child(self: Any) -> int | None:
        deadline = time.monotonic() + 30
        while not holding.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holding.exists(), "the child never took the lock"
        return real_front(self)

    def timeout(signum: int, frame: Any) -> None:
        raise TimeoutError("this process waited on a lock its dead holder kept")

    monkeypatch.setattr(split, "_child", dies_holding_the_lock)
    monkeypatch.setattr(split._Claims, "front", front_after_the_child)
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    try:
        both = _scan(monkeypatch, wheel, split_at=0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert splits == [1]
    assert _view(both) == _view(serial)
