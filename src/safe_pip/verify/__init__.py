"""Verification of signatures, attestations and pins before anything is installed.

Signature side (this package's ``trust``, ``publisher``, ``bundles``,
``provenance``, ``model_signing`` and ``artifact`` modules) checks sigstore
bundles, PEP 740 attestations/provenance and OpenSSF ``model.sig`` files fully
offline against a *pinned* trusted root (see :mod:`safe_pip.verify.trust`).

API for the install gate
------------------------
::

    from safe_pip.verify import verify_artifact_signatures, Publisher, Identity

    findings = verify_artifact_signatures(
        path,                      # the quarantined file (wheel/sdist)
        name="torch", version="2.5.1",
        sidecars=[...],            # <file>.provenance/.publish.attestation/.sigstore(.json)
        provenance_json=b"...",    # PEP 740 provenance from the index (or None)
        expected=[Publisher(...), Identity(san, issuer)],   # any one must match
        pinned=True,               # the policy pins this package (even to nothing)
        require="listed",          # "off" | "available" | "listed" | "always"
        trusted_root=None,         # None = production root embedded in sigstore
        filename=None,             # real dist filename if path is content-addressed
    ) -> list[Finding]

An empty list means "nothing to object to"; every problem is a
:class:`~safe_pip.models.Finding` with a ``SIG-*``/``MODEL-SIG-*`` rule id and
``detail["reason"]`` (see :class:`~safe_pip.verify.errors.Reason`).  The
function never raises for a bad signature; a broken trusted-root file raises
:class:`~safe_pip.verify.errors.TrustRootError` (a configuration error, exit 2).
The signer pins (:class:`Publisher`, :class:`Identity`) are the policy's own type
(:mod:`safe_pip.policy.pins`), so policy entries go in as they are; strings from a
command line become pins with :func:`parse_publisher` / :func:`parse_expected`.

Why lazy: importing sigstore costs about half a second, and the hash, name and
index checks that share this package must not pay for it; the heavy modules are
imported on first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.policy.pins import (
    Expected,
    Identity,
    Publisher,
    PublisherSyntaxError,
    parse_expected,
    parse_publisher,
)

if TYPE_CHECKING:
    from safe_pip.models import Finding

__all__ = [
    "Expected",
    "Identity",
    "Publisher",
    "PublisherSyntaxError",
    "parse_expected",
    "parse_publisher",
    "verify_artifact_signatures",
]


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
    """Verify every signature available for one artifact; see the module docstring."""
    from safe_pip.verify.artifact import verify_artifact_signatures as _impl

    return _impl(
        path,
        name=name,
        version=version,
        sidecars=sidecars,
        provenance_json=provenance_json,
        expected=expected,
        require=require,
        trusted_root=trusted_root,
        filename=filename,
        model_keys=model_keys,
        pinned=pinned,
    )
