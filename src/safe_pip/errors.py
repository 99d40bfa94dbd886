"""Typed errors and the exit codes they map to.

Every command returns 0 (allowed / clean), 1 (blocked by policy: findings) or
2 (usage or internal error). Errors carry a message written for people; the
CLI prints it and never a traceback for an expected failure.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2


class SafePipError(Exception):
    """An expected failure with a message for people; exits 2."""

    exit_code = EXIT_ERROR


class UsageError(SafePipError):
    """The command line asked for something that cannot be done."""


class PolicyError(SafePipError):
    """A policy file is missing, unreadable or invalid."""


class FetchError(SafePipError):
    """A download or an index read failed, or broke a bound; nothing is installed.

    Defined here, below every layer, because the gate raises it and the verify stage
    (signature sources) must tell "absent" (``status`` 404/410) from "unreadable".
    """

    def __init__(
        self, message: str, *, status: int | None = None, unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status when the server answered, None for connection-level failures."""
        self.unreachable = unreachable
        """No server answered at all (refused, DNS, timeout); never for a TLS failure,
        where *someone* answered with the wrong certificate.  The org policy loader may
        fall back to a fresh cached copy only then."""
