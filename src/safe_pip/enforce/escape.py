"""The escape hatch: run the real pip past the gate, only where the org allows it.

Some organisations need a way out (a broken gate during an incident, a vendor
package the policy cannot express yet); others must not have one.  The hatch
is ``SAFE_PIP_BYPASS="<reason>"`` in the environment of a shimmed ``pip``.  It
works only when the effective policy sets ``[enforcement] escape_hatch = true``
(an org layer can pin it off), and every use - and every refused attempt - is
appended to the audit log *before* pip runs: a bypass that cannot be recorded
does not happen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.errors import EXIT_OK, SafePipError

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

BYPASS_ENV = "SAFE_PIP_BYPASS"


@dataclass(frozen=True)
class BypassDecision:
    requested: bool
    allowed: bool
    reason: str


def requested(env: dict[str, str] | None = None) -> str | None:
    """The reason given for a bypass, or ``None`` when none was asked for."""
    value = (env if env is not None else dict(os.environ)).get(BYPASS_ENV, "").strip()
    return value or None


def audit_path(policy: Policy) -> Path:
    from safe_pip.gate import journal as audit_log

    if policy.audit.log is not None:
        return Path(policy.audit.log).expanduser()
    return audit_log.default_path()


def record(
    policy: Policy,
    *,
    command: Sequence[str],
    target: str,
    reason: str,
    allowed: bool,
    via: str = "shim",
) -> None:
    """Append the bypass (or the refused attempt) to the audit log; raises if it cannot."""
    from safe_pip.gate import journal as audit_log

    rec = audit_log.make_record(
        command=list(command),
        target=target,
        outcome="bypassed" if allowed else "bypass-refused",
        exit_code=EXIT_OK if allowed else 1,
        artifacts=[],
        policy_digest=policy.digest(),
        error=None if allowed else "escape hatch not permitted by policy",
    )
    rec["bypass_reason"] = reason
    rec["via"] = via
    audit_log.append(audit_path(policy), rec)


def decide_bypass(
    policy: Policy,
    *,
    command: Sequence[str],
    target: str,
    env: dict[str, str] | None = None,
    via: str = "shim",
) -> BypassDecision:
    """Whether this run may skip the gate; records the use or the attempt either way."""
    reason = requested(env)
    if reason is None:
        return BypassDecision(False, False, "")
    allowed = policy.enforcement.escape_hatch
    try:
        record(policy, command=command, target=target, reason=reason, allowed=allowed, via=via)
    except SafePipError:
        if allowed:
            raise  # no record, no bypass
    return BypassDecision(True, allowed, reason)
