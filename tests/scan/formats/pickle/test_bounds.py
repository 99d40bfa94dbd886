"""The memory bound reads the same numbers through its kept ``/proc`` descriptors as a
fresh open would: in this process, after memory grows, in a forked child (whose
``/proc/self`` is another process), after the descriptor is closed behind its back, and
with a status file too long for one read.  A load still runs under ``RLIMIT_DATA`` set
from those numbers, and the limit is restored afterwards.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safe_pip.scan.formats.pickle import bounds, engine
from safe_pip.scan.formats.pickle.standins import Trace

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc and RLIMIT_DATA (Linux)"
)

MiB = 1 << 20


def fresh_vm_data() -> int:
    with open("/proc/self/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmData")


def fresh_anon() -> int:
    with open("/proc/self/statm", "rb") as fh:
        fields = fh.read().split()
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")


def agree(kept: Callable[[], int], fresh: Callable[[], int], slack: int = 0) -> bool:
    """The two readings agree on one of a few tries (memory moves between two reads)."""
    for _ in range(20):
        a, b, c = fresh(), kept(), fresh()
        if min(a, c) - slack <= b <= max(a, c) + slack:
            return True
    return False


@pytest.fixture
def touched() -> Iterator[Callable[[int], bytearray]]:
    """Allocate and touch ``n`` bytes (resident, anonymous); freed after the test."""
    held: list[bytearray] = []

    def make(n: int) -> bytearray:
        page = os.sysconf("SC_PAGE_SIZE")
        block = bytearray(n)
        block[::page] = b"\x01" * len(range(0, n, page))
        held.append(block)
        return block

    yield make
    held.clear()


def test_kept_descriptors_read_what_a_fresh_open_reads() -> None:
    assert agree(bounds._vm_data, fresh_vm_data)
    assert agree(bounds._anon_bytes, fresh_anon, slack=MiB)


def test_kept_descriptors_follow_growth(touched: Callable[[int], bytearray]) -> None:
    """Read at offset 0 again, the kernel regenerates the file: not a stale copy."""
    data, anon = bounds._vm_data(), bounds._anon_bytes()
    touched(64 * MiB)
    assert bounds._vm_data() - data >= 64 * MiB
    assert bounds._anon_bytes() - anon >= 60 * MiB
    assert agree(bounds._vm_data, fresh_vm_data)


def test_a_forked_child_reads_its_own_memory(touched: Callable[[int], bytearray]) -> None:
    """The descriptors were opened by the parent (``/proc/self`` named it then); the child
    must read its own files, or its bound would follow the parent's memory."""
    bounds._anon_bytes(), bounds._vm_data()  # open both here, in the parent
    parent = os.getpid()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(rfd)
            anon, data = bounds._anon_bytes(), bounds._vm_data()
            touched(64 * MiB)
            grew = bounds._anon_bytes() - anon >= 60 * MiB
            grew_data = bounds._vm_data() - data >= 64 * MiB
            same = agree(bounds._vm_data, fresh_vm_data) and agree(
                bounds._anon_bytes, fresh_anon, slack=MiB
            )
            own = bounds._STATM._pid == os.getpid() != parent
            os.write(wfd, b"%d%d%d%d" % (grew, grew_data, same, own))
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as fh:
        answer = fh.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert answer == b"1111"
    assert bounds._STATM._pid == parent  # the parent keeps its own descriptor
    assert agree(bounds._anon_bytes, fresh_anon, slack=MiB)


def test_a_descriptor_closed_behind_its_back_is_reopened() -> None:
    bounds._anon_bytes(), bounds._vm_data()
    os.close(bounds._STATM._fd)
    os.close(bounds._STATUS._fd)
    assert agree(bounds._anon_bytes, fresh_anon, slack=MiB)
    assert agree(bounds._vm_data, fresh_vm_data)


def test_a_reused_descriptor_number_is_neither_read_nor_closed(tmp_path: Path) -> None:
    """Other code closed the kept descriptor and its number now names another file: the
    bound reads its own file again and leaves the other file open."""
    bounds._anon_bytes()
    number = bounds._STATM._fd
    other = tmp_path / "other"
    other.write_bytes(b"1 2 3 4 5 6 7\n")
    fd = os.open(other, os.O_RDONLY)
    try:
        os.dup2(fd, number)  # closes the kept descriptor, reuses its number
        assert agree(bounds._anon_bytes, fresh_anon, slack=MiB)
        assert os.pread(number, 100, 0) == b"1 2 3 4 5 6 7\n"  # still open, untouched
        assert bounds._STATM._fd != number
    finally:
        os.close(fd)
        os.close(number)


def test_an_unreadable_file_reads_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """As before the descriptors were kept: unknown numbers, no kernel limit set."""
    missing = bounds._ProcFile("/proc/self/no-such-file")
    with pytest.raises(OSError):
        missing.read()
    with pytest.raises(OSError):  # and again: a failed open is not remembered as good
        missing.read()
    monkeypatch.setattr(bounds, "_STATM", missing)
    monkeypatch.setattr(bounds, "_STATUS", missing)
    assert bounds._anon_bytes() == -1
    assert bounds._vm_data() == -1
    assert bounds._set_data_limit(bounds.FLOOR) is None
    budget = bounds.Budget(10)
    with budget.armed():
        budget.check()  # no baseline: nothing to compare
        assert budget.grown() == 0


def test_a_status_longer_than_one_read_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process in tens of thousands of groups has a ``Groups:`` line before ``VmData``
    longer than the kept descriptor's read: the whole file is read then."""

    class Long:
        def read(self, limit: int = 1 << 16) -> bytes:
            return b"Name:\tx\nGroups:\t" + b"1 " * limit

    monkeypatch.setattr(bounds, "_STATUS", Long())
    assert agree(bounds._vm_data, fresh_vm_data)


def test_a_load_runs_under_the_data_limit_and_restores_it() -> None:
    """While the unpickler runs, ``RLIMIT_DATA`` is the data segment then plus the budget
    (observed from inside a load, at a BUILD); afterwards the old limit is back."""
    seen: list[tuple[int, int]] = []

    def hook(_unpickler: Any, _feed: engine.Feed) -> None:
        seen.append((resource.getrlimit(resource.RLIMIT_DATA)[0], fresh_vm_data()))

    before = resource.getrlimit(resource.RLIMIT_DATA)
    data = b"\x80\x02cmod\nCls\n)\x81}b."  # NEWOBJ then BUILD
    budget = bounds.Budget(len(data))
    low = fresh_vm_data()
    stream, _ = engine.run(
        data,
        0,
        len(data),
        Trace(),
        engine.Loader(python=True, build_hook=hook),
        deadline=time.monotonic() + 30,
        memory=budget,
    )
    assert stream.complete, stream.error
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    [(soft, vm_data)] = seen
    if before[0] != resource.RLIM_INFINITY and before[0] <= vm_data + budget.limit:
        pytest.skip("the data segment is already limited more tightly here")
    assert min(low, vm_data) - 8 * MiB <= soft - budget.limit <= max(low, vm_data) + 8 * MiB


def test_an_allocation_past_the_budget_fails_inside_a_load() -> None:
    """The kernel refuses what the budget does not cover: a memo index of 2**31 (a 32 GiB
    table) is a finding, and the process is no bigger for it."""
    data = b"\x80\x02}r" + (2**31).to_bytes(4, "little") + b"."
    budget = bounds.Budget(len(data))
    stream, _ = engine.run(
        data,
        0,
        len(data),
        Trace(),
        engine.Loader(),
        deadline=time.monotonic() + 30,
        memory=budget,
    )
    assert stream.error is not None and "more memory than the scan allows" in stream.error
    assert bounds._vm_data() < budget.limit * 4
