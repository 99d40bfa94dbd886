"""Per-artifact scan state: findings, skipped members, inventory and budgets.

Readers report into one :class:`ScanContext` instead of returning values up a
deep recursion, so a budget exhausted ten containers down stops the whole scan
of that artifact with one clear finding rather than an exception.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from safe_pip.models import Finding, Severity, Skipped, TargetEnvironment
from safe_pip.rules import get_rule
from safe_pip.scan.core.limits import Limits


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
        """Top-level packages of the wheel being scanned (empty outside a wheel)."""
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
        if key in self._seen:
            return
        self._seen.add(key)
        if severity is None:
            rule = get_rule(rule_id)
            if rule is None:
                raise KeyError(f"unknown rule id {rule_id}")
            severity = rule.severity
        self.findings.append(Finding(rule_id, severity, message, location, detail))

    def skip(self, location: str, reason: str) -> None:
        self.skipped.append(Skipped(location, reason))

    def saw(self, fmt: str, n: int = 1) -> None:
        self.inventory[fmt] += n

    # -- budgets ---------------------------------------------------------------------
    def charge_member(self, location: str) -> None:
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
