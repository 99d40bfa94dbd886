"""Detached sigstore bundles over a distribution file (the private-index case).

Two bundle shapes exist and both are accepted:

* **hashedrekord** (``messageSignature``): a signature over the file's sha256.
  Verified with ``Verifier.verify_artifact`` on a streamed digest, so a large
  file is never read into memory.
* **DSSE** (``dsseEnvelope``): an in-toto statement naming the file.  sigstore
  verifies the envelope and returns the payload, but explicitly does *not*
  check what the payload says - that is our job: the statement must name this
  file (by parsed distribution filename when the subject is one) with this
  sha256, or the bundle is for something else.

Everything is fail-closed: malformed JSON, a truncated file, an unknown shape
or any verifier error becomes a :class:`~safe_pip.verify.errors.SignatureError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from safe_pip.policy.pins import Expected
from safe_pip.verify._sigstore import ExpectedPolicy, Signer, guarded
from safe_pip.verify.errors import Reason, SignatureError

if TYPE_CHECKING:
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
MAX_SIGNATURE_BYTES = 4 * 1024 * 1024  # real bundles are ~10 kB; refuse absurd input


@dataclass(frozen=True)
class Verified:
    """A signature that verified, and what it proved."""

    kind: str  # "bundle", "dsse-bundle", "attestation", "model-signature"
    source: str
    signer: Signer | None
    matched: Expected | None
    predicate_type: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def pinned(self) -> bool:
        """True when an expected identity matched (not merely a valid signature)."""
        return self.matched is not None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_signature_file(path: Path) -> bytes:
    """Read a signature file with a size cap (``MALFORMED`` when unreadable)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SIGNATURE_BYTES + 1)
    except OSError as exc:
        raise SignatureError(Reason.MALFORMED, f"cannot read {path.name}: {exc.strerror}") from exc
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise SignatureError(Reason.MALFORMED, f"{path.name} is larger than any real signature")
    return raw


def parse_json(raw: bytes, what: str) -> Any:
    """``json.loads`` that names the file and says *truncated* when it is."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise SignatureError(Reason.MALFORMED, f"{what} is not text: {exc}") from exc
    except json.JSONDecodeError as exc:
        truncated = exc.msg.startswith("Unterminated") or exc.pos >= len(raw.rstrip()) - 1
        hint = " (truncated?)" if truncated else ""
        raise SignatureError(
            Reason.MALFORMED, f"{what} is not valid JSON{hint}: {exc.msg} at byte {exc.pos}"
        ) from exc


def load_bundle(raw: bytes, what: str = "bundle") -> Bundle:
    """Parse a sigstore bundle; any structural problem is ``MALFORMED``."""
    from sigstore.models import Bundle

    doc = parse_json(raw, what)
    if not isinstance(doc, dict) or "verificationMaterial" not in doc:
        raise SignatureError(Reason.MALFORMED, f"{what} is JSON but not a sigstore bundle")
    try:
        return Bundle.from_json(raw)
    except Exception as exc:  # pydantic / InvalidBundle / base64 errors
        raise SignatureError(
            Reason.MALFORMED, f"{what} is not a valid sigstore bundle: {exc}"
        ) from exc


def dist_key(filename: str) -> tuple[Any, ...] | None:
    """Parsed identity of a distribution filename, or None if it is not one.

    Compared after parsing, as PyPI does, so ``Foo_Bar-1.0`` and ``foo_bar-1.0``
    or reordered compressed wheel tags are the same file name.
    """
    try:
        if filename.endswith(".whl"):
            return tuple(parse_wheel_filename(filename))
        if filename.endswith((".tar.gz", ".zip")):
            return tuple(parse_sdist_filename(filename))
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None
    return None


def check_statement(
    payload_type: str,
    payload: bytes,
    *,
    filename: str,
    sha256: str,
    single_subject: bool,
    predicate_types: Iterable[str] | None,
) -> str:
    """Check that an in-toto statement speaks about *this* file; return its predicateType.

    ``single_subject`` is PEP 740's rule (exactly one subject).  For generic
    DSSE bundles several subjects are allowed and one of them must be this file.
    """
    if payload_type != IN_TOTO_PAYLOAD:
        raise SignatureError(
            Reason.UNSUPPORTED, f"DSSE payload type {payload_type!r} is not in-toto"
        )
    stmt = parse_json(payload, "in-toto statement")
    subjects = stmt.get("subject") if isinstance(stmt, dict) else None
    if not isinstance(subjects, list) or not subjects:
        raise SignatureError(Reason.MALFORMED, "in-toto statement has no subject")
    if single_subject and len(subjects) != 1:
        raise SignatureError(Reason.MALFORMED, "attestation must have exactly one subject")
    predicate_type = stmt.get("predicateType")
    if not isinstance(predicate_type, str):
        raise SignatureError(Reason.MALFORMED, "in-toto statement has no predicateType")
    want_key = dist_key(filename)
    problems: list[SignatureError] = []
    for subj in subjects:
        if not isinstance(subj, dict):
            raise SignatureError(Reason.MALFORMED, "in-toto subject is not an object")
        name = subj.get("name")
        digest = subj.get("digest")
        got = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(name, str) or not isinstance(got, str):
            raise SignatureError(Reason.MALFORMED, "in-toto subject lacks a name or sha256")
        subj_key = dist_key(name)
        name_ok = subj_key == want_key if subj_key is not None else not single_subject
        if single_subject and subj_key is None:
            raise SignatureError(
                Reason.MALFORMED, f"subject {name!r} is not a distribution filename"
            )
        if not name_ok:
            problems.append(
                SignatureError(Reason.NAME_MISMATCH, f"signature is for {name}, not for {filename}")
            )
            continue
        if got.lower() != sha256:
            problems.append(
                SignatureError(
                    Reason.DIGEST_MISMATCH,
                    f"digest mismatch: {name} was signed with sha256 {got}, the file has {sha256}",
                )
            )
            continue
        break
    else:
        # Prefer the digest mismatch (same name, other bytes) over a name mismatch.
        problems.sort(key=lambda e: e.reason != Reason.DIGEST_MISMATCH)
        raise problems[0]
    if predicate_types is not None and predicate_type not in set(predicate_types):
        raise SignatureError(Reason.UNSUPPORTED, f"unknown attestation type {predicate_type!r}")
    return predicate_type


def verify_bundle(
    dist: Path,
    bundle_raw: bytes,
    *,
    expected: Sequence[Expected],
    verifier: Verifier,
    filename: str | None = None,
    source: str = "bundle",
) -> Verified:
    """Verify a detached sigstore bundle (hashedrekord or DSSE) over ``dist``.

    ``filename`` is the distribution's real name when ``dist`` is stored under
    another one (the quarantine is content-addressed).
    """
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    filename = filename or dist.name
    bundle = load_bundle(bundle_raw, source)
    sha256 = sha256_file(dist)
    policy = ExpectedPolicy(expected)
    if bundle._inner.message_signature is not None:
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(sha256))
        try:
            guarded(lambda: verifier.verify_artifact(hashed, bundle, policy))
        except SignatureError as exc:
            signed = bundle._inner.message_signature.message_digest
            if exc.reason is Reason.DIGEST_MISMATCH and signed is not None:
                raise SignatureError(
                    Reason.DIGEST_MISMATCH,
                    f"digest mismatch: the bundle signs sha256 {signed.digest.hex()}, "
                    f"{filename} has {sha256}",
                ) from exc
            raise
        return Verified("bundle", source, policy.signer, policy.matched)
    if bundle._inner.dsse_envelope is None:
        raise SignatureError(
            Reason.MALFORMED, f"{source} has neither a signature nor a DSSE envelope"
        )
    ptype, payload = guarded(lambda: verifier.verify_dsse(bundle, policy))
    predicate = check_statement(
        ptype, payload, filename=filename, sha256=sha256, single_subject=False, predicate_types=None
    )
    return Verified("dsse-bundle", source, policy.signer, policy.matched, predicate)
