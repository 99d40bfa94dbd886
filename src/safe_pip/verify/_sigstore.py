"""Glue between safe-pip's expectations and sigstore's verifier.

Why this exists: sigstore reports every failure as one ``VerificationError``
with free text, and pypi-attestations' publisher policies say only "does not
match".  A person needs to read *wrong repository* versus *wrong workflow*
versus *wrong root*, so this module (1) checks the certificate claims itself,
in the order that gives the most specific answer, delegating the final
Build-Config-URI comparison to pypi-attestations so the matching rule is the
one PyPI uses, and (2) maps sigstore's remaining errors onto
:class:`~safe_pip.verify.errors.Reason`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
from sigstore.errors import Error as SigstoreError

from safe_pip.policy.pins import (
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    GOOGLE_ISSUER,
    Expected,
    Identity,
    Publisher,
)
from safe_pip.verify.errors import IDENTITY_REASONS, Reason, SignatureError

_FULCIO = "1.3.6.1.4.1.57264.1."
_ISSUER_V1 = ObjectIdentifier(_FULCIO + "1")  # raw bytes
_ISSUER_V2 = ObjectIdentifier(_FULCIO + "8")  # DER UTF8String
_SOURCE_REPO_URI = ObjectIdentifier(_FULCIO + "12")
_BUILD_CONFIG_URI = ObjectIdentifier(_FULCIO + "18")

T = TypeVar("T")


def _der_utf8(value: bytes) -> str:
    """Decode a DER UTF8String (Fulcio's v2 claims); fall back to raw text."""
    if len(value) >= 2 and value[0] == 0x0C:
        length, pos = value[1], 2
        if length & 0x80:
            n = length & 0x7F
            length, pos = int.from_bytes(value[2 : 2 + n], "big"), 2 + n
        return value[pos : pos + length].decode("utf-8", "replace")
    return value.decode("utf-8", "replace")


def _claim(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    raw = ext.value.public_bytes() if hasattr(ext.value, "public_bytes") else b""
    return raw.decode("utf-8", "replace") if oid == _ISSUER_V1 else _der_utf8(raw)


def cert_issuer(cert: x509.Certificate) -> str | None:
    """The OIDC issuer Fulcio recorded (v2 claim first, then the legacy one)."""
    return _claim(cert, _ISSUER_V2) or _claim(cert, _ISSUER_V1)


def cert_sans(cert: x509.Certificate) -> list[str]:
    """Every identity in the SAN: URIs, emails and sigstore otherName values."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = [*san.get_values_for_type(x509.UniformResourceIdentifier)]
    out += san.get_values_for_type(x509.RFC822Name)
    out += [_der_utf8(o.value) for o in san.get_values_for_type(x509.OtherName)]
    return out


@dataclass(frozen=True)
class Signer:
    """Who signed, as the certificate says: for messages and audit records."""

    san: str
    issuer: str
    repository: str | None = None
    build_config: str | None = None

    @classmethod
    def of(cls, cert: x509.Certificate) -> Signer:
        sans = cert_sans(cert)
        return cls(
            san=sans[0] if sans else "<no SAN>",
            issuer=cert_issuer(cert) or "<no issuer>",
            repository=_claim(cert, _SOURCE_REPO_URI),
            build_config=_claim(cert, _BUILD_CONFIG_URI),
        )


def _check_issuer(cert: x509.Certificate, want: str) -> None:
    got = cert_issuer(cert)
    if got != want:
        raise SignatureError(
            Reason.WRONG_IDENTITY, f"certificate issued for OIDC issuer {got!r}, expected {want!r}"
        )


def _check_publisher(
    pub: Publisher, cert: x509.Certificate, environment: str | None, env_known: bool
) -> None:
    from pypi_attestations import GitHubPublisher, GitLabPublisher

    if pub.kind == "google":
        _check_identity(Identity(pub.email, GOOGLE_ISSUER), cert)
        return
    host, issuer = (
        ("github.com", GITHUB_ISSUER)
        if pub.kind == "github"
        else (
            "gitlab.com",
            GITLAB_ISSUER,
        )
    )
    _check_issuer(cert, issuer)
    want_repo = f"https://{host}/{pub.repository}"
    got_repo = _claim(cert, _SOURCE_REPO_URI)
    if got_repo != want_repo:
        raise SignatureError(
            Reason.WRONG_REPOSITORY,
            f"signed from repository {got_repo!r}, expected {want_repo!r}",
        )
    policy = (
        GitHubPublisher(repository=pub.repository, workflow=pub.workflow)
        if pub.kind == "github"
        else GitLabPublisher(repository=pub.repository, workflow_filepath=pub.workflow)
    )._as_policy()
    try:
        policy.verify(cert)
    except (SigstoreError, x509.ExtensionNotFound, ValueError) as exc:
        raise SignatureError(
            Reason.WRONG_WORKFLOW,
            f"signed by workflow {_claim(cert, _BUILD_CONFIG_URI)!r}, "
            f"expected {pub.workflow!r} in {pub.repository}",
        ) from exc
    if pub.environment is not None:
        if not env_known:
            raise SignatureError(
                Reason.WRONG_ENVIRONMENT,
                f"policy requires environment {pub.environment!r}, but the certificate does "
                "not carry one and no provenance publisher object states it",
            )
        if environment != pub.environment:
            raise SignatureError(
                Reason.WRONG_ENVIRONMENT,
                f"published from environment {environment!r}, expected {pub.environment!r}",
            )


def _check_identity(ident: Identity, cert: x509.Certificate) -> None:
    _check_issuer(cert, ident.issuer)
    sans = cert_sans(cert)
    if ident.san not in sans:
        raise SignatureError(
            Reason.WRONG_IDENTITY,
            f"signed by {', '.join(sans) or '<no SAN>'}, expected {ident.san}",
        )


class ExpectedPolicy:
    """A sigstore ``VerificationPolicy``: the certificate must match one expectation.

    With no expectations it accepts any certificate (cryptographic validity is
    still checked by the verifier) and the caller reports the signature as
    unpinned.  ``environment``/``env_known`` carry the publisher object of
    PEP 740 provenance, the only place a GitHub environment is stated.
    """

    def __init__(
        self,
        expected: Sequence[Expected],
        *,
        environment: str | None = None,
        env_known: bool = False,
    ) -> None:
        self.expected = tuple(expected)
        self.environment = environment
        self.env_known = env_known
        self.signer: Signer | None = None
        self.matched: Expected | None = None

    def verify(self, cert: x509.Certificate) -> None:
        self.signer = Signer.of(cert)
        if not self.expected:
            return
        errors: list[SignatureError] = []
        for exp in self.expected:
            try:
                if isinstance(exp, Publisher):
                    _check_publisher(exp, cert, self.environment, self.env_known)
                else:
                    _check_identity(exp, cert)
            except SignatureError as exc:
                errors.append(exc)
                continue
            self.matched = exp
            return
        if len(errors) == 1:
            raise errors[0]
        raise SignatureError(
            Reason.WRONG_IDENTITY,
            "signer matches none of the expected identities: "
            + "; ".join(f"{e} [{e.reason}]" for e in errors),
        )


def classify(exc: Exception) -> SignatureError:
    """Turn a sigstore/pydantic failure into a reason a person can act on."""
    if isinstance(exc, SignatureError):
        return exc
    text = str(exc)
    low = text.lower()
    if "digest mismatch" in low or "signature is invalid for input" in low:
        return SignatureError(Reason.DIGEST_MISMATCH, f"the signature is for other bytes ({text})")
    if "timestamp certificate chain" in low:
        if "not valid at validation time" in low or "expired" in low:
            return SignatureError(
                Reason.CERT_NOT_VALID,
                "signing certificate was expired or not yet valid when the transparency "
                f"log recorded the signature ({text})",
            )
        return SignatureError(
            Reason.WRONG_ROOT,
            f"signing certificate does not chain to the pinned trusted root ({text})",
        )
    if "expired at time of signing" in low:
        return SignatureError(
            Reason.CERT_NOT_VALID, f"signing certificate was not valid at the signing time ({text})"
        )
    if "sct" in low:
        return SignatureError(
            Reason.WRONG_ROOT, f"certificate transparency proof is not from a trusted log ({text})"
        )
    if "key" in low and ("not found" in low or "no known" in low or "unknown" in low):
        return SignatureError(
            Reason.WRONG_ROOT, f"transparency log key is not in the pinned trusted root ({text})"
        )
    return SignatureError(Reason.BAD_SIGNATURE, text or type(exc).__name__)


def guarded(fn: Callable[[], T]) -> T:
    """Run a sigstore call and turn *every* failure into a :class:`SignatureError`.

    Fail closed: sigstore, pydantic, cryptography and asn1 libraries each raise
    their own types on hostile input, so anything that is not an identity
    decision is a verification failure, never a traceback.
    """
    try:
        return fn()
    except SignatureError:
        raise
    except Exception as exc:
        err = classify(exc)
        raise err from exc


__all__ = ["IDENTITY_REASONS", "ExpectedPolicy", "Signer", "classify", "guarded"]
