"""Typed verification failures, each with a reason code and a message for people.

Why a reason code: the CLI prints the message, the install gate turns the code
into a rule id (``SIG-INVALID``, ``SIG-WRONG-PUBLISHER`` ...), and tests assert
on the code rather than on sigstore's wording, which changes between releases.
Every failure is fail-closed: callers treat any of these as "not verified".
"""

from __future__ import annotations

import enum

from safe_pip.errors import SafePipError


class Reason(str, enum.Enum):
    """Why a signature did not verify.  The value is stable and shows up in JSON."""

    MALFORMED = "malformed"  # truncated, non-JSON or structurally invalid signature file
    NO_SIGNATURE = "no-signature"  # nothing to verify (empty provenance, no attestation)
    DIGEST_MISMATCH = "digest-mismatch"  # signed digest differs from the file's sha256
    NAME_MISMATCH = "name-mismatch"  # signed filename is another distribution
    WRONG_ROOT = "wrong-root"  # certificate does not chain to the pinned trusted root
    CERT_NOT_VALID = "cert-not-valid"  # certificate expired / not yet valid at log time
    WRONG_IDENTITY = "wrong-identity"  # SAN or OIDC issuer differs from the expected one
    WRONG_REPOSITORY = "wrong-repository"  # Trusted Publisher repository differs
    WRONG_WORKFLOW = "wrong-workflow"  # Trusted Publisher workflow file differs
    WRONG_REF = "wrong-ref"  # the run that signed was on another source ref
    WRONG_ENVIRONMENT = "wrong-environment"  # publisher environment differs or is unknown
    BAD_SIGNATURE = "bad-signature"  # signature or transparency-log proof is invalid
    UNSUPPORTED = "unsupported"  # a format or option safe-pip does not verify

    def __str__(self) -> str:
        return self.value


#: Reasons that mean "validly signed, but not by whom the policy expects".
IDENTITY_REASONS = frozenset(
    {
        Reason.WRONG_IDENTITY,
        Reason.WRONG_REPOSITORY,
        Reason.WRONG_WORKFLOW,
        Reason.WRONG_REF,
        Reason.WRONG_ENVIRONMENT,
    }
)


class SignatureError(Exception):
    """A signature, attestation or model signature that did not verify."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class TrustRootError(SafePipError):
    """The pinned trusted root cannot be loaded: a setup error, so exit 2."""
