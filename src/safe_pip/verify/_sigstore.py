"""Glue between safe-pip's expectations and sigstore's verifier.

Why this exists: sigstore reports every failure as one ``VerificationError``
with free text, and pypi-attestations' publisher policies say only "does not
match".  A person needs to read *wrong repository* versus *wrong workflow*
versus *wrong root*, so this module (1) checks the certificate claims itself,
in the order that gives the most specific answer, with sigstore-python's own
single-extension policies (``OIDCSourceRepositoryURI``, ``OIDCSourceRepositoryRef``,
``OIDCBuildConfigURI``) where they exist and pypi-attestations' Trusted-Publisher
policies for the Build Config URI rule PyPI uses, and (2) maps sigstore's remaining
errors onto :class:`~safe_pip.verify.errors.Reason`.

What a pin is checked against (Fulcio's extensions, OID 1.3.6.1.4.1.57264.1.N):

- the OIDC issuer (.8, legacy .1) and, for an identity pin, the SAN;
- the **source repository** (.12): a CI certificate's SAN names the *workflow file*
  (for GitHub, the build signer URI .9), and a reusable workflow gives the same SAN to
  every repository that calls it.  An identity pin therefore also binds the repository
  the run was for: the one it names, or else the repository the SAN lies in; a
  certificate that names build instructions but no source repository is refused;
- the **source ref** (.14): the pin's ``ref``, or else the ``@ref`` its SAN ends with;
- the **build config** (.18): the top-level workflow, for Trusted Publishers and pins
  with a ``workflow``;
- the **deployment environment** (.23): only a certificate can prove one.  The
  publisher object of PEP 740 provenance is not signed, so it is never consulted, and
  a certificate issued before Fulcio carried the environment cannot satisfy ``#ENV``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

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

if TYPE_CHECKING:
    from sigstore.verify.policy import VerificationPolicy

_FULCIO = "1.3.6.1.4.1.57264.1."
_ISSUER_V1 = ObjectIdentifier(_FULCIO + "1")  # raw bytes
_ISSUER_V2 = ObjectIdentifier(_FULCIO + "8")  # DER UTF8String
_BUILD_SIGNER_URI = ObjectIdentifier(_FULCIO + "9")
_SOURCE_REPO_URI = ObjectIdentifier(_FULCIO + "12")
_SOURCE_REPO_REF = ObjectIdentifier(_FULCIO + "14")
_BUILD_CONFIG_URI = ObjectIdentifier(_FULCIO + "18")
_DEPLOYMENT_ENV = ObjectIdentifier(_FULCIO + "23")
#: Claims that say a certificate was issued to a CI run (legacy GitHub .2-.6, build signer,
#: build config): its SAN then names build instructions, not who ran them.
_CI_CLAIMS = tuple(ObjectIdentifier(_FULCIO + str(n)) for n in (2, 3, 4, 5, 6, 9, 18))

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


def _extension(
    cert: x509.Certificate, policy: VerificationPolicy, reason: Reason, context: str
) -> None:
    """Run one of sigstore-python's single-extension policies; a failure names ``reason``."""
    try:
        policy.verify(cert)
    except (SigstoreError, x509.ExtensionNotFound, ValueError) as exc:
        raise SignatureError(reason, f"{context}: {exc}") from exc


def _check_environment(cert: x509.Certificate, want: str | None) -> None:
    """Only the certificate proves a deployment environment (Fulcio .23)."""
    if want is None:
        return
    got = _claim(cert, _DEPLOYMENT_ENV)
    if got is None:
        raise SignatureError(
            Reason.WRONG_ENVIRONMENT,
            f"the pin requires deployment environment {want!r}, but the signing certificate "
            "carries none (Fulcio extension 1.3.6.1.4.1.57264.1.23, only in certificates "
            "Fulcio issued since it records the environment); the unsigned publisher object "
            "of PEP 740 provenance cannot prove one, so remove #ENVIRONMENT from the pin or "
            "have the package signed again",
        )
    if got != want:
        raise SignatureError(
            Reason.WRONG_ENVIRONMENT, f"signed from environment {got!r}, expected {want!r}"
        )


def _check_publisher(pub: Publisher, cert: x509.Certificate) -> None:
    from pypi_attestations import GitHubPublisher, GitLabPublisher

    if pub.kind == "google":
        _check_identity(Identity(pub.email, GOOGLE_ISSUER), cert)
        return
    host, issuer = (
        ("github.com", GITHUB_ISSUER) if pub.kind == "github" else ("gitlab.com", GITLAB_ISSUER)
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
    _check_environment(cert, pub.environment)


def _check_identity(ident: Identity, cert: x509.Certificate) -> None:
    from sigstore.verify.policy import OIDCSourceRepositoryRef, OIDCSourceRepositoryURI

    _check_issuer(cert, ident.issuer)
    sans = cert_sans(cert)
    if ident.san not in sans:
        raise SignatureError(
            Reason.WRONG_IDENTITY,
            f"signed by {', '.join(sans) or '<no SAN>'}, expected {ident.san}",
        )
    repo = _claim(cert, _SOURCE_REPO_URI)
    implicit_ref: str | None = None
    if ident.repository is not None:
        _extension(
            cert,
            OIDCSourceRepositoryURI(ident.repository),
            Reason.WRONG_REPOSITORY,
            f"the pin requires a run for {ident.repository}",
        )
    elif repo is not None:
        if not ident.san.startswith(repo + "/"):
            raise SignatureError(
                Reason.WRONG_REPOSITORY,
                f"{ident.san} ran for repository {repo}, not for the repository it lies in: "
                "a reusable workflow signs for whichever repository calls it; to accept this "
                f"caller, pin repository = {repo!r} explicitly",
            )
        _, at, suffix = ident.san.rpartition("@")
        implicit_ref = suffix if at else None
    elif any(_has(cert, oid) for oid in _CI_CLAIMS):
        raise SignatureError(
            Reason.WRONG_REPOSITORY,
            "the certificate names build instructions but no source repository (Fulcio "
            "extension 1.3.6.1.4.1.57264.1.12), so any repository that runs them could have "
            "signed; refusing it",
        )
    ref = ident.ref if ident.ref is not None else implicit_ref
    if ref is not None:
        _extension(
            cert,
            OIDCSourceRepositoryRef(ref),
            Reason.WRONG_REF,
            f"the pin requires a run on {ref}",
        )
    if ident.workflow is not None:
        _check_build_config(cert, ident.repository or repo, ident.workflow)
    _check_environment(cert, ident.environment)


def _check_build_config(cert: x509.Certificate, repo: str | None, workflow: str) -> None:
    """The top-level workflow (Build Config URI, .18) is ``workflow`` inside ``repo``."""
    got = _claim(cert, _BUILD_CONFIG_URI)
    if got is None or repo is None:
        raise SignatureError(
            Reason.WRONG_WORKFLOW,
            f"the pin requires workflow {workflow!r}, but the certificate names no "
            "build config (Fulcio extension 1.3.6.1.4.1.57264.1.18) or no source repository",
        )
    config = got.rpartition("@")[0] if "@" in got else got
    inside = config[len(repo) :].lstrip("/") if config.startswith(repo + "/") else None
    if inside != workflow.removeprefix("./").lstrip("/"):
        raise SignatureError(
            Reason.WRONG_WORKFLOW,
            f"signed by build config {got!r}, expected {workflow!r} in {repo}",
        )


def _has(cert: x509.Certificate, oid: ObjectIdentifier) -> bool:
    try:
        cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return False
    return True


class ExpectedPolicy:
    """A sigstore ``VerificationPolicy``: the certificate must match one expectation.

    With no expectations it accepts any certificate (cryptographic validity is
    still checked by the verifier) and the caller reports the signature as
    unpinned.
    """

    def __init__(self, expected: Sequence[Expected]) -> None:
        self.expected = tuple(expected)
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
                    _check_publisher(exp, cert)
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
