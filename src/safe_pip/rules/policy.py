"""Rules the policy layer itself reports (``decide`` and the policy loader)."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "POLICY-EXCEPTION-EXPIRED",
        "A policy exception has expired and no longer applies",
        S.LOW,
        "An [[exception]] matched this finding, but its expires date has passed, so the "
        "finding was decided as if the exception did not exist (usually: blocked). "
        "Exceptions expire so that a one-off decision gets reviewed again.",
        "Review the finding again; if it is still acceptable, set a new expires date (and "
        "bind the exception to the file's sha256), otherwise remove the exception.",
    ),
)
