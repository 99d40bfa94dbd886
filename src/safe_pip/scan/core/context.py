"""Per-artifact scan state: findings, skipped members, inventory and budgets.

Readers report into one :class:`ScanContext` instead of returning values up a
deep recursion, so a budget exhausted ten containers down stops the whole scan
of that artifact with one clear finding rather than an exception.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from safe_pip.models import Finding, Severity, Skipped, TargetEnvironment
from safe_pip.rules import get_rule
from safe_pip.scan.core.limits import Limits

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

Findings = list[tuple[str, str, str, Severity | None, dict[str, Any]]]
"""Findings as plain tuples (rule id, message, location, severity or None, detail)."""
Reuse = Callable[[Findings, str], "Findings | None"]
"""Adapts the findings an equal analysis gave at another location (None: cannot)."""


class BudgetExhausted(Exception):
    """Raised to unwind the whole scan once a global budget is gone."""


class ScanContext:
    def __init__(
        self, limits: Limits | None = None, target: TargetEnvironment | None = None
    ) -> None:
        self.limits = limits or Limits()
        self.target = target
        """The environment being installed into; None for ``safe-pip scan`` without one."""
        self.deadline = time.monotonic() + self.limits.time_budget
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.inventory: Counter[str] = Counter()
        self.members = 0
        self.bytes_read = 0
        self._seen: set[tuple[str, str, str]] = set()
        self.own_packages: frozenset[str] = frozenset()
        """Regular packages and module files of the wheel being scanned, dotted (``mypkg``,
        ``mypkg.sub.mod``; not a namespace folder others share; empty outside a wheel)."""
        self.required_packages: frozenset[str] = frozenset()
        """Import names of the distributions that wheel unconditionally requires
        (``scan/dist/requires.py``; empty outside a wheel)."""
        self.wheel_root = ""
        """Location of that wheel (its members are ``<wheel_root>!<path>``; "" outside)."""
        self.scanned: set[tuple[Any, ...]] = set()
        """Members already scanned in this artifact, by digest and reading (wheel members)."""
        self.pool: Executor | None = None
        """Worker processes for CPU-heavy, self-contained member analysis (Python source):
        the main process keeps inflating and hashing while a worker parses."""
        self._pending: list[tuple[str, Future[Any], Callable[[Findings], Findings] | None]] = []
        self._shared: dict[Hashable, tuple[str, Findings | Future[Any]]] = {}
        """First analysis of each ``offload`` key: its location and findings (or future)."""
        self.journal: list[tuple[Any, ...]] | None = None
        """Set in a process that reads part of a wheel's members for its parent
        (``containers/split.py``): every effect on this context is also recorded here, in
        order, for the parent to replay; findings are then not de-duplicated here (the
        parent does it, as it replays)."""
        self.torchscript = 0
        """>0 while scanning members of a TorchScript archive, whose pickles are read
        by torch.jit's C++ unpickler: it resolves ``__torch__.*`` names against the
        archive's compiled code and never imports a Python module."""

    # -- reporting -------------------------------------------------------------------
    def report(
        self,
        rule_id: str,
        message: str,
        location: str,
        *,
        severity: Severity | None = None,
        **detail: Any,
    ) -> None:
        """Record a finding; the rule's default severity applies unless overridden."""
        key = (rule_id, location, message)
        if self.journal is None:
            if key in self._seen:
                return
            self._seen.add(key)
        if severity is None:
            rule = get_rule(rule_id)
            if rule is None:
                raise KeyError(f"unknown rule id {rule_id}")
            severity = rule.severity
        self.findings.append(Finding(rule_id, severity, message, location, detail))
        if self.journal is not None:
            self.journal.append(("F", key, len(self.findings) - 1))

    def add_finding(self, key: tuple[str, str, str], finding: Finding) -> None:
        """A finding reported elsewhere (a journal replayed), de-duplicated as ``report``
        would have: ``key`` is the rule id, location and message it was reported with."""
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(finding)

    def skip(self, location: str, reason: str) -> None:
        self.skipped.append(Skipped(location, reason))
        if self.journal is not None:
            self.journal.append(("S", location, reason))

    def saw(self, fmt: str, n: int = 1) -> None:
        self.inventory[fmt] += n
        if self.journal is not None:
            self.journal.append(("I", fmt, n))

    # -- offloaded analysis ---------------------------------------------------------------
    def offload(
        self,
        fn: Callable[[Any], Findings],
        job: Any,
        location: str = "",
        *,
        key: Hashable | None = None,
        reuse: Reuse | None = None,
    ) -> None:
        """Run ``fn(job)`` (a pure function returning finding tuples) now or in the pool.

        ``key``/``reuse``: jobs with equal keys give the same findings but for their
        location, so a job whose key was offloaded before in this scan does not run: the
        first one's findings (waited for if still in the pool) go through ``reuse(found,
        first_location)``, and ``fn(job)`` runs only where that returns None.
        """
        where = getattr(job, "location", location)
        first = self._shared.get(key) if key is not None and reuse is not None else None
        if first is not None and reuse is not None:
            self._offload_again(fn, job, where, first, reuse)
            return
        if self.pool is None:
            found = fn(job)
            if key is not None:
                self._shared[key] = (where, found)
            self._replay(found)
            return
        future = self.pool.submit(fn, job)
        if key is not None:
            self._shared[key] = (where, future)
        self._pending.append((where, future, None))

    def _offload_again(
        self,
        fn: Callable[[Any], Findings],
        job: Any,
        where: str,
        first: tuple[str, Findings | Future[Any]],
        reuse: Reuse,
    ) -> None:
        """A job equal to an earlier one: its findings, in the order ``fn(job)``'s would be."""
        origin, result = first

        def adapt(found: Findings) -> Findings:
            again = reuse(found, origin)
            return fn(job) if again is None else again

        if isinstance(result, list):
            self._replay(adapt(result))
        elif self.pool is None:  # the pool is lent out (containers/split.py): report now
            done = result.done() and not result.cancelled() and result.exception() is None
            self._replay(adapt(result.result()) if done else fn(job))
        else:  # reported in submission order, when drained (the first may still be running)
            self._pending.append((where, result, adapt))

    def drain(self) -> None:
        """Report everything offloaded so far, in submission order (fail closed on errors)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        # Imported here: only a scan with a worker pool has futures (and imported this already).
        from concurrent.futures import TimeoutError as FutureTimeout

        for location, future, then in pending:
            remaining = max(0.0, self.deadline - time.monotonic())
            try:
                found = future.result(timeout=remaining)
                if then is not None:
                    found = then(found)
            except FutureTimeout:
                self.check_time(location)  # past the deadline now: reports and unwinds
                raise BudgetExhausted from None
            except Exception as exc:  # a worker that crashed must not read as clean
                self.report("SCAN-ERROR", f"analysis failed: {type(exc).__name__}: {exc}", location)
                continue
            self._replay(found)

    def discard_pending(self) -> None:
        """Forget offloaded work (a forked process: the futures are its parent's)."""
        self._pending = []
        self._shared = {}

    def as_tuples(self) -> Findings:
        return [(f.rule_id, f.message, f.location, f.severity, f.detail) for f in self.findings]

    def _replay(self, found: Findings) -> None:
        for rule_id, message, location, severity, detail in found:
            self.report(rule_id, message, location, severity=severity, **detail)

    # -- budgets ---------------------------------------------------------------------
    def charge_member(self, location: str) -> None:
        if self.journal is not None:
            self.journal.append(("M", location))
        self.members += 1
        if self.members > self.limits.max_members:
            self.report(
                "ARCHIVE-LIMIT",
                f"more than {self.limits.max_members} archive members; the rest were not scanned",
                location,
            )
            raise BudgetExhausted
        self.check_time(location)

    def charge_bytes(self, n: int, location: str) -> None:
        if self.journal is not None:
            self.journal.append(("B", n, location))
        self.bytes_read += n
        if self.bytes_read > self.limits.max_total_bytes:
            self.report(
                "ARCHIVE-LIMIT",
                f"more than {self.limits.max_total_bytes} decompressed bytes; scan stopped",
                location,
            )
            raise BudgetExhausted

    def check_time(self, location: str) -> None:
        if time.monotonic() > self.deadline:
            self.report(
                "SCAN-LIMIT",
                f"time budget of {self.limits.time_budget:.0f}s exhausted; scan stopped",
                location,
            )
            raise BudgetExhausted
