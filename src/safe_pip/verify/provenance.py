"""PEP 740 attestations and provenance objects, verified offline.

Parsing and the publisher policies come from ``pypi-attestations`` (so the
format and the Trusted-Publisher matching rule are exactly PyPI's).  The
verification itself does **not** call ``Attestation.verify``: that method
builds ``Verifier.production()`` internally, which refreshes TUF or reads the
home-directory cache, and cannot take a pinned root.  Instead each attestation
is converted to a sigstore bundle and checked with ``verify_dsse`` on the
pinned verifier, and the subject checks ``Attestation.verify`` would do are
repeated here: exactly one subject, its filename equal to the distribution's
after parsing with ``packaging``, its sha256 equal to the file's, and a known
predicate type (publish/v1 or SLSA provenance v1).

A provenance object may hold several attestation bundles; **every**
attestation in it must verify (one bad attestation next to a good one is a
tampered provenance, not a partial success).  The publisher object in the
provenance is not signed, so nothing is decided from it: who signed, and from which
environment, comes from the certificate alone (see ``verify._sigstore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.policy.pins import Expected
from safe_pip.verify._sigstore import ExpectedPolicy, guarded
from safe_pip.verify.bundles import Verified, check_statement, parse_json, sha256_file
from safe_pip.verify.errors import Reason, SignatureError

if TYPE_CHECKING:
    from pypi_attestations import Attestation
    from sigstore.verify import Verifier


def predicate_types() -> frozenset[str]:
    """Predicate types PEP 740 defines (read from pypi-attestations, not hard-coded)."""
    from pypi_attestations import AttestationType

    return frozenset(t.value for t in AttestationType)


def load_attestation(raw: bytes, what: str = "attestation") -> Attestation:
    """Parse one PEP 740 attestation object (``MALFORMED`` on any problem)."""
    from pypi_attestations import Attestation

    parse_json(raw, what)
    try:
        return Attestation.model_validate_json(raw)
    except Exception as exc:  # pydantic ValidationError
        raise SignatureError(
            Reason.MALFORMED, f"{what} is not a PEP 740 attestation: {exc}"
        ) from exc


def load_provenance(raw: bytes, what: str = "provenance") -> list[Attestation]:
    """Parse a provenance object into its attestations (publisher objects are unsigned).

    Raises ``NO_SIGNATURE`` when it parses but holds no attestation at all.
    """
    from pypi_attestations import Provenance

    parse_json(raw, what)
    try:
        prov = Provenance.model_validate_json(raw)
    except Exception as exc:
        raise SignatureError(
            Reason.MALFORMED, f"{what} is not a PEP 740 provenance: {exc}"
        ) from exc
    found = [att for bundle in prov.attestation_bundles for att in bundle.attestations]
    if not found:
        raise SignatureError(Reason.NO_SIGNATURE, f"{what} contains no attestation")
    return found


def verify_attestation(
    dist: Path,
    attestation: Attestation,
    *,
    expected: Sequence[Expected],
    verifier: Verifier,
    filename: str | None = None,
    source: str = "attestation",
    sha256: str | None = None,
) -> Verified:
    """Verify one attestation over ``dist`` against the expected publishers."""
    filename = filename or dist.name
    sha256 = sha256 or sha256_file(dist)
    policy = ExpectedPolicy(expected)
    bundle = guarded(attestation.to_bundle)
    ptype, payload = guarded(lambda: verifier.verify_dsse(bundle, policy))
    predicate = check_statement(
        ptype,
        payload,
        filename=filename,
        sha256=sha256,
        single_subject=True,
        predicate_types=predicate_types(),
    )
    return Verified("attestation", source, policy.signer, policy.matched, predicate)


def verify_provenance(
    dist: Path,
    raw: bytes,
    *,
    expected: Sequence[Expected],
    verifier: Verifier,
    filename: str | None = None,
    source: str = "provenance",
) -> list[Verified]:
    """Verify every attestation of a provenance object; the first failure raises."""
    attestations = load_provenance(raw, source)
    sha256 = sha256_file(dist)
    out: list[Verified] = []
    for index, att in enumerate(attestations):
        try:
            out.append(
                verify_attestation(
                    dist,
                    att,
                    expected=expected,
                    verifier=verifier,
                    filename=filename,
                    source=f"{source}#{index}",
                    sha256=sha256,
                )
            )
        except SignatureError as exc:
            if len(attestations) == 1:
                raise
            raise SignatureError(
                exc.reason, f"attestation {index + 1} of {len(attestations)}: {exc.message}"
            ) from exc
    return out
