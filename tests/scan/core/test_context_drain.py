"""``ScanContext.drain``: offloaded analysis is reported in order, and fails closed.

``drain`` imports ``concurrent.futures`` only when something was offloaded (a short scan
never has a pool); these tests drive the paths that do have pending futures, with a real
thread pool, so the lazy import cannot hide a broken error path.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from safe_pip.models import Severity
from safe_pip.scan.core.context import BudgetExhausted, Findings, ScanContext
from safe_pip.scan.core.limits import Limits


def _found(job: str) -> Findings:
    return [("PICKLE-GLOBAL-UNKNOWN", f"from {job}", job, Severity.HIGH, {})]


def _crash(job: str) -> Findings:
    raise RuntimeError(f"worker died on {job}")


def test_drain_without_pending_work_reports_nothing() -> None:
    ctx = ScanContext()
    ctx.drain()
    assert ctx.findings == []


def test_drain_reports_offloaded_findings_in_submission_order() -> None:
    ctx = ScanContext()
    with ThreadPoolExecutor(2) as pool:
        ctx.pool = pool
        ctx.offload(_found, "a", "a")
        ctx.offload(_found, "b", "b")
        ctx.drain()
    assert [f.location for f in ctx.findings] == ["a", "b"]
    assert all(f.rule_id == "PICKLE-GLOBAL-UNKNOWN" for f in ctx.findings)


def test_a_crashed_worker_is_a_finding_not_silence() -> None:
    ctx = ScanContext()
    with ThreadPoolExecutor(1) as pool:
        ctx.pool = pool
        ctx.offload(_crash, "member.py", "member.py")
        ctx.drain()
    assert [(f.rule_id, f.location) for f in ctx.findings] == [("SCAN-ERROR", "member.py")]
    assert "RuntimeError: worker died on member.py" in ctx.findings[0].message


def test_work_past_the_deadline_stops_the_scan_with_a_limit_finding() -> None:
    ctx = ScanContext(Limits(time_budget=0.2))
    release = threading.Event()

    def slow(job: str) -> Findings:
        release.wait(10)
        return _found(job)

    with ThreadPoolExecutor(1) as pool:
        ctx.pool = pool
        ctx.offload(slow, "slow.py", "slow.py")
        started = time.monotonic()
        try:
            with pytest.raises(BudgetExhausted):
                ctx.drain()
        finally:
            release.set()
    assert time.monotonic() - started < 5
    assert [f.rule_id for f in ctx.findings] == ["SCAN-LIMIT"]
