"""Findings × policy → one verdict per artifact.

This is the only place policy is applied to findings. Until the policy layer
lands, the built-in default is used: findings of MEDIUM severity or worse block,
LOW and INFO are reported as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

from safe_pip.models import Decision, Finding, Severity, Verdict

BLOCK_AT = Severity.MEDIUM


def decide(findings: Sequence[Finding], *, target: str) -> Verdict:
    blocking = tuple(f for f in findings if f.severity >= BLOCK_AT)
    warnings = tuple(f for f in findings if f.severity < BLOCK_AT)
    return Verdict(
        target=target,
        decision=Decision.BLOCK if blocking else Decision.ALLOW,
        blocking=blocking,
        warnings=warnings,
    )
