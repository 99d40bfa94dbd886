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


class NetworkError(SafePipError):
    """A download failed; what kind of failure it was, for callers that treat them apart.

    ``status`` is the HTTP status when a server answered with an error.  ``unreachable``
    is true when no server answered at all (connection refused, DNS failure, timeout);
    never for a TLS failure, where *someone* answered with the wrong certificate.  Defined
    here, below every layer, so the verifiers and the policy loader can handle the gate's
    download errors without importing the gate.
    """

    def __init__(self, message: str, *, status: int | None = None, unreachable: bool = False):
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable


class NotImplementedYet(SafePipError):
    """A command whose implementation has not landed yet."""
