"""One call for the install gate: every signature of one artifact -> findings.

Why findings and not exceptions: the gate decides in one place (``decide.py``)
from findings plus policy, and a report must explain each signature problem
with a rule id.  This module only applies the ``require`` levels, because they
decide whether *absence* is a finding:

``off``        nothing is checked.
``available``  whatever is present must verify; absence is fine.
``listed``     like ``available``, but a package with an expected identity must
               have at least one signature that verifies *and* matches it.
``always``     every artifact must carry a verifying signature.

A **pin** (``pinned``: the policy names the package's publishers, ``expected``) outranks
the level: the artifact must carry a signature that verifies and matches one of them, or
it is blocked, whatever ``require`` says, ``off`` included.  (A ``model.sig`` inside the
wheel does not count: it covers the model files, not the package's code.)  Otherwise a
mirror that strips the provenance would turn "signed by that publisher" into "unsigned,
which ``available`` allows".  Pinned to nothing (blocks whose publishers do not
intersect) blocks too.

A signature that verifies without any expected identity is reported as
``SIG-UNPINNED`` (info).  Sidecars are classified by name with the one list in
:data:`safe_pip.verify.sources.SIDECARS`; anything else is rejected rather than ignored.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from safe_pip.models import Finding, Severity
from safe_pip.policy.pins import Expected
from safe_pip.verify.bundles import (
    Verified,
    dist_key,
    read_signature_file,
    sha256_file,
    verify_bundle,
)
from safe_pip.verify.errors import IDENTITY_REASONS, Reason, SignatureError
from safe_pip.verify.model_signing import ModelTree, find_model_signatures, verify_model
from safe_pip.verify.provenance import load_attestation, verify_attestation, verify_provenance
from safe_pip.verify.sources import sidecar_kind
from safe_pip.verify.trust import make_verifier

if TYPE_CHECKING:
    from sigstore.verify import Verifier

REQUIRE_LEVELS = ("off", "available", "listed", "always")
MAX_MODEL_SIGNATURES = 64


def _finding(rule: str, sev: Severity, msg: str, loc: str, **detail: object) -> Finding:
    return Finding(rule, sev, msg, loc, {k: v for k, v in detail.items() if v is not None})


def signature_failure(
    exc: SignatureError, loc: str, source: str, *, model: bool = False
) -> Finding:
    """The finding for a signature that did not verify (the gate's and ``safe-pip verify``'s)."""
    if model:
        rule = "MODEL-SIG-UNVERIFIABLE" if exc.reason is Reason.UNSUPPORTED else "MODEL-SIG-INVALID"
        sev = Severity.MEDIUM if exc.reason is Reason.UNSUPPORTED else Severity.HIGH
    elif exc.reason in IDENTITY_REASONS:
        rule, sev = "SIG-WRONG-PUBLISHER", Severity.HIGH
    else:
        rule, sev = "SIG-INVALID", Severity.HIGH
    return _finding(
        rule, sev, f"{source}: {exc.message}", loc, reason=str(exc.reason), source=source
    )


def _success(v: Verified, loc: str) -> Finding | None:
    if v.pinned:
        return None
    who = f"{v.signer.san} (issuer {v.signer.issuer})" if v.signer else "a key"
    return _finding(
        "SIG-UNPINNED",
        Severity.INFO,
        f"{v.source}: valid signature by {who}, but the policy pins no identity for it",
        loc,
        source=v.source,
        signer=v.signer.san if v.signer else None,
        issuer=v.signer.issuer if v.signer else None,
    )


def _check_filename(filename: str, name: str, version: str | None) -> SignatureError | None:
    """The file must be the distribution the gate thinks it is, before any signature."""
    key = dist_key(filename)
    if key is None:
        return None  # not a wheel/sdist name (e.g. a model file); signatures decide
    if key[0] != canonicalize_name(name) or (version is not None and str(key[1]) != version):
        return SignatureError(
            Reason.NAME_MISMATCH, f"{filename} is not a distribution of {name} {version or ''}"
        )
    return None


def verify_artifact_signatures(
    path: Path,
    *,
    name: str,
    version: str | None,
    sidecars: Sequence[Path],
    provenance_json: bytes | None,
    expected: Sequence[Expected],
    require: str,
    trusted_root: Path | None,
    filename: str | None = None,
    model_keys: Sequence[Path] = (),
    pinned: bool = False,
) -> list[Finding]:
    """See :mod:`safe_pip.verify` for the contract; returns findings, never raises
    for a bad signature (a broken trusted root raises ``TrustRootError``)."""
    if require not in REQUIRE_LEVELS:
        raise ValueError(f"require must be one of {REQUIRE_LEVELS}, not {require!r}")
    if require == "off" and not pinned:
        return []
    filename = filename or path.name
    loc = filename
    if pinned and not expected:
        return [
            _finding(
                "SIG-WRONG-PUBLISHER",
                Severity.HIGH,
                f"the policy pins {name} to no publisher at all: the publishers of its "
                "[[package]] blocks do not intersect, so no signature can be accepted",
                loc,
                reason=str(Reason.WRONG_IDENTITY),
            )
        ]
    # Building a verifier imports sigstore and parses the trusted root: only pay for it
    # when there is a signature to check (most artifacts on most indexes have none).
    verifier = functools.cache(lambda: make_verifier(trusted_root))
    findings: list[Finding] = []
    verified: list[Verified] = []

    def attempt(source: str, fn: Callable[[], list[Verified]]) -> None:
        try:
            for v in fn():
                verified.append(v)
                if (f := _success(v, loc)) is not None:
                    findings.append(f)
        except SignatureError as exc:
            findings.append(signature_failure(exc, loc, source))
        except Exception as exc:  # fail closed on anything a hostile file triggers
            err = SignatureError(Reason.MALFORMED, f"{type(exc).__name__}: {exc}")
            findings.append(signature_failure(err, loc, source))

    if (bad := _check_filename(filename, name, version)) is not None:
        findings.append(signature_failure(bad, loc, filename))
        return findings
    if provenance_json is not None:
        raw_prov = provenance_json
        attempt(
            "index provenance",
            lambda: verify_provenance(
                path, raw_prov, expected=expected, verifier=verifier(), filename=filename
            ),
        )
    sha = functools.cache(lambda: sha256_file(path))
    for side in sidecars:
        attempt(
            side.name,
            lambda side=side: _verify_sidecar(  # type: ignore[misc]
                side, path, expected, verifier(), filename=filename, sha256=sha()
            ),
        )

    findings += _verify_models(path, loc, expected, verifier, model_keys)

    if not verified and not any(f.rule_id.startswith("SIG-") for f in findings):
        if require == "always" or pinned or (require == "listed" and expected):
            why = (
                f"the policy pins its publisher ({', '.join(str(e) for e in expected)})"
                if pinned
                else f"the policy requires one (require = {require!r})"
            )
            findings.append(
                _finding(
                    "SIG-MISSING",
                    Severity.HIGH,
                    f"no signature, attestation or provenance found for {filename}, but {why}",
                    loc,
                    reason=str(Reason.NO_SIGNATURE),
                )
            )
    elif (
        (pinned or require in ("listed", "always"))
        and expected
        and not any(v.pinned for v in verified)
        and not any(f.severity >= Severity.HIGH for f in findings)
    ):
        findings.append(
            _finding(
                "SIG-WRONG-PUBLISHER",
                Severity.HIGH,
                "no signature matched the expected identities: "
                + ", ".join(str(e) for e in expected),
                loc,
                reason=str(Reason.WRONG_IDENTITY),
            )
        )
    return findings


def _verify_sidecar(
    side: Path,
    path: Path,
    expected: Sequence[Expected],
    verifier: Verifier,
    *,
    filename: str,
    sha256: str,
) -> list[Verified]:
    """Verify one sidecar file, chosen by its name."""
    src = side.name
    kind = sidecar_kind(src)
    if kind == "provenance":
        raw = read_signature_file(side)
        return verify_provenance(
            path, raw, expected=expected, verifier=verifier, filename=filename, source=src
        )
    if kind == "attestation":
        att = load_attestation(read_signature_file(side), src)
        return [
            verify_attestation(
                path,
                att,
                expected=expected,
                verifier=verifier,
                filename=filename,
                source=src,
                sha256=sha256,
            )
        ]
    if kind == "bundle":
        raw = read_signature_file(side)
        return [
            verify_bundle(
                path, raw, expected=expected, verifier=verifier, filename=filename, source=src
            )
        ]
    raise SignatureError(Reason.UNSUPPORTED, "unknown signature sidecar type")


def _verify_models(
    path: Path,
    loc: str,
    expected: Sequence[Expected],
    verifier: Callable[[], Verifier],
    model_keys: Sequence[Path],
) -> list[Finding]:
    """Check every ``model.sig`` a wheel/zip ships, against the package's identities."""
    if not zipfile.is_zipfile(path):
        return []
    out: list[Finding] = []
    keys: list[bytes | None] = [read_signature_file(k) for k in model_keys] or [None]
    with zipfile.ZipFile(path) as zf:
        folders = find_model_signatures(zf)
        if len(folders) > MAX_MODEL_SIGNATURES:
            err = SignatureError(Reason.UNSUPPORTED, f"{len(folders)} model signatures")
            return [signature_failure(err, loc, "model.sig", model=True)]
        for folder in folders:
            source = f"{folder}/model.sig"
            mloc = f"{loc}!{source}"
            raw = zf.read(source)
            tree = ModelTree.from_zip(zf, folder)
            last: SignatureError | None = None
            for key in keys:
                try:
                    v = verify_model(
                        tree,
                        raw,
                        expected=expected,
                        verifier=verifier(),
                        key_pem=key,
                        source=source,
                    )
                except SignatureError as exc:
                    last = exc
                    continue
                except Exception as exc:
                    last = SignatureError(Reason.MALFORMED, f"{type(exc).__name__}: {exc}")
                    continue
                if (f := _success(v, mloc)) is not None:
                    out.append(f)
                last = None
                break
            if last is not None:
                out.append(signature_failure(last, mloc, source, model=True))
    return out
