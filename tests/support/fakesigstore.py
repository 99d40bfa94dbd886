"""TEST-ONLY: a throwaway sigstore (CA, CT log, transparency log) minted in the test.

Why: real fixtures cover the happy path and tampering, but some cases cannot be
made by tampering - a bundle *validly* signed by the wrong publisher, a
private-index identity, a certificate that expired or was not yet valid at the
log time.  This module makes fresh keys in-process, a trusted root naming
them, and bundles/PEP 740 attestations that verify against that root only.

It lives under ``tests/`` and is never imported by ``src``; it refuses to load
outside a pytest run, so its root can never end up in a real configuration.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.certificate_transparency import LogEntryType
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if "pytest" not in sys.modules and not os.environ.get("PYTEST_CURRENT_TEST"):
    raise ImportError("tests/support/fakesigstore.py is a test helper; it only loads under pytest")

_FULCIO = "1.3.6.1.4.1.57264.1."
_SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _utf8(value: str) -> bytes:
    raw = value.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


@dataclass
class Claims:
    """What the leaf certificate says about the signer (Fulcio's real extension OIDs)."""

    san: str
    issuer: str = GITHUB_ISSUER
    repository: str | None = None  # OWNER/REPO -> .1.12 source repository URI
    workflow: str | None = None  # file name -> .1.18 build config URI
    ref: str = "refs/tags/v1.0.0"  # -> .1.14 source repository ref
    host: str = "github.com"
    email: bool = False
    environment: str | None = None  # -> .1.23 deployment environment
    build_signer: str | None = None  # -> .1.9 (a CI run's default: the SAN)
    omit: tuple[str, ...] = ()  # OID suffixes to leave out, e.g. ("12",)

    @classmethod
    def github(
        cls,
        repository: str,
        workflow: str,
        ref: str = "refs/tags/v1.0.0",
        environment: str | None = None,
    ) -> Claims:
        san = f"https://github.com/{repository}/.github/workflows/{workflow}@{ref}"
        return cls(
            san=san, repository=repository, workflow=workflow, ref=ref, environment=environment
        )

    @classmethod
    def reusable(
        cls,
        owner_repo: str,
        workflow: str,
        *,
        caller: str,
        caller_workflow: str = "ci.yml",
        ref: str = "refs/heads/main",
        workflow_ref: str = "refs/heads/main",
    ) -> Claims:
        """``caller``'s ``caller_workflow`` (on ``ref``) calling ``owner_repo``'s reusable
        ``workflow`` at ``workflow_ref``: GitHub puts the reusable workflow in the SAN and
        the build signer URI, and the caller in the source repository, ref and build config."""
        san = f"https://github.com/{owner_repo}/.github/workflows/{workflow}@{workflow_ref}"
        return cls(san=san, repository=caller, workflow=caller_workflow, ref=ref)

    def extensions(self) -> list[tuple[str, bytes]]:
        ext = [(_FULCIO + "1", self.issuer.encode()), (_FULCIO + "8", _utf8(self.issuer))]
        if self.repository:
            base = f"https://{self.host}/{self.repository}"
            ext += [
                (_FULCIO + "9", _utf8(self.build_signer or self.san)),
                (_FULCIO + "12", _utf8(base)),
                (_FULCIO + "14", _utf8(self.ref)),
            ]
            if self.workflow:
                sep = "/.github/workflows/" if self.host == "github.com" else "//"
                ext.append((_FULCIO + "18", _utf8(f"{base}{sep}{self.workflow}@{self.ref}")))
        elif self.build_signer:
            ext.append((_FULCIO + "9", _utf8(self.build_signer)))
        if self.environment:
            ext.append((_FULCIO + "23", _utf8(self.environment)))
        return [(oid, value) for oid, value in ext if oid.rsplit(".", 1)[1] not in self.omit]


@dataclass
class FakeSigstore:
    """A CA + CT log + Rekor key made now; mints bundles that verify only against it."""

    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    log_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "safe-pip tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, "fake fulcio"),
            ]
        )
        pub = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=3650))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ct_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        self.log_id = hashlib.sha256(_spki(self.log_key.public_key())).digest()

    # -- trust material -------------------------------------------------------------
    def trusted_root(self) -> dict[str, Any]:
        start = {"start": (NOW - dt.timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")}

        def log(url: str, key: ec.EllipticCurvePrivateKey, key_id: bytes) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": start,
                },
                "logId": {"keyId": _b64(key_id)},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log("https://rekor.invalid", self.log_key, self.log_id)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "safe-pip tests", "commonName": "fake fulcio"},
                    "uri": "https://fulcio.invalid",
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": _b64(
                                    self.ca_cert.public_bytes(serialization.Encoding.DER)
                                )
                            }
                        ]
                    },
                    "validFor": start,
                }
            ],
            "ctlogs": [log("https://ct.invalid", self.ct_key, self.ct_id)],
            "timestampAuthorities": [],
        }

    def write_root(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trusted_root()))
        return path

    # -- certificates -----------------------------------------------------------------
    def leaf(
        self,
        claims: Claims,
        key: ec.EllipticCurvePrivateKey,
        not_before: dt.datetime,
        lifetime: dt.timedelta = dt.timedelta(minutes=10),
    ) -> x509.Certificate:
        """A Fulcio-style leaf with an embedded SCT over its precertificate."""
        serial = x509.random_serial_number()

        def build(sct_ext: bytes) -> x509.Certificate:
            san: x509.GeneralName = (
                x509.RFC822Name(claims.san)
                if claims.email
                else x509.UniformResourceIdentifier(claims.san)
            )
            b = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(not_before)
                .not_valid_after(not_before + lifetime)
                .add_extension(
                    x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                    critical=False,
                )
                .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            )
            for oid, value in claims.extensions():
                b = b.add_extension(
                    x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False
                )
            b = b.add_extension(x509.UnrecognizedExtension(_SCT_OID, sct_ext), critical=False)
            return b.sign(self.ca_key, hashes.SHA256())

        dummy = build(self._sct_list(b"\x00" * 64, 0))
        tbs = dummy.tbs_precertificate_bytes
        ts_ms = int(not_before.timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(_spki(self.ca_key.public_key())).digest()
        signed = (
            bytes([0, 0])
            + ts_ms.to_bytes(8, "big")
            + LogEntryType.PRE_CERTIFICATE.value.to_bytes(2, "big")
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + b"\x00\x00"
        )
        sig = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        cert = build(self._sct_list(sig, ts_ms))
        assert cert.tbs_precertificate_bytes == tbs
        return cert

    def _sct_list(self, sig: bytes, ts_ms: int) -> bytes:
        sct = (
            b"\x00"
            + self.ct_id
            + ts_ms.to_bytes(8, "big")
            + b"\x00\x00"
            + bytes([4, 3])
            + len(sig).to_bytes(2, "big")
            + sig
        )
        lst = len(sct).to_bytes(2, "big") + sct
        inner = len(lst).to_bytes(2, "big") + lst
        return bytes([0x04, len(inner)]) + inner  # OCTET STRING wrapping the SCT list

    # -- transparency log ----------------------------------------------------------------
    def _tlog_entry(
        self, body: dict[str, Any], kind: str, integrated: dt.datetime
    ) -> dict[str, Any]:
        canon = rfc8785.dumps(body)
        root = hashlib.sha256(b"\x00" + canon).digest()
        t = int(integrated.timestamp())
        set_payload = rfc8785.dumps(
            {"body": _b64(canon), "integratedTime": t, "logID": self.log_id.hex(), "logIndex": 0}
        )
        note = f"fake.rekor.invalid - 1\n1\n{_b64(root)}\n"
        note_sig = self.log_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = note + "\n\u2014 fake.rekor.invalid " + _b64(self.log_id[:4] + note_sig) + "\n"
        return {
            "logIndex": "0",
            "logId": {"keyId": _b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(t),
            "inclusionPromise": {
                "signedEntryTimestamp": _b64(
                    self.log_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
                )
            },
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": _b64(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": _b64(canon),
        }

    def _times(self, cert_offset: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        """(cert not_before, log integrated time); offset moves the cert away from the log time."""
        integrated = NOW - dt.timedelta(hours=1)
        return integrated - dt.timedelta(minutes=1) + cert_offset, integrated

    # -- bundles ---------------------------------------------------------------------------
    def hashedrekord_bundle(
        self, data: bytes, claims: Claims, cert_offset: dt.timedelta = dt.timedelta(0)
    ) -> bytes:
        """A detached ``messageSignature`` bundle over ``data``'s sha256."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, integrated = self._times(cert_offset)
        cert = self.leaf(claims, key, not_before)
        digest = hashlib.sha256(data).digest()
        sig = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": _b64(sig), "publicKey": {"content": _b64(pem)}},
            },
        }
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))
                    },
                    "tlogEntries": [self._tlog_entry(body, "hashedrekord", integrated)],
                },
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
                    "signature": _b64(sig),
                },
            }
        ).encode()

    def dsse_bundle(
        self, statement: dict[str, Any], claims: Claims, cert_offset: dt.timedelta = dt.timedelta(0)
    ) -> bytes:
        """A DSSE bundle carrying an in-toto statement."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, integrated = self._times(cert_offset)
        cert = self.leaf(claims, key, not_before)
        payload = json.dumps(statement).encode()
        ptype = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
        sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(pae + sig).hexdigest(),
                },
                "signatures": [{"signature": _b64(sig), "verifier": _b64(pem)}],
            },
        }
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))
                    },
                    "tlogEntries": [self._tlog_entry(body, "dsse", integrated)],
                },
                "dsseEnvelope": {
                    "payload": _b64(payload),
                    "payloadType": ptype,
                    "signatures": [{"sig": _b64(sig)}],
                },
            }
        ).encode()

    def attestation(
        self,
        dist_name: str,
        data: bytes,
        claims: Claims,
        predicate_type: str,
        cert_offset: dt.timedelta = dt.timedelta(0),
    ) -> bytes:
        """A PEP 740 attestation object (JSON) for ``dist_name`` with these bytes."""
        from pypi_attestations import Attestation
        from sigstore.models import Bundle

        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {"name": dist_name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
            ],
            "predicateType": predicate_type,
            "predicate": {},
        }
        bundle = Bundle.from_json(self.dsse_bundle(statement, claims, cert_offset))
        return Attestation.from_bundle(bundle).model_dump_json().encode()

    @staticmethod
    def provenance(attestations: list[bytes], publisher: dict[str, Any]) -> bytes:
        """A PEP 740 provenance object wrapping attestations under one publisher."""
        return json.dumps(
            {
                "version": 1,
                "attestation_bundles": [
                    {"publisher": publisher, "attestations": [json.loads(a) for a in attestations]}
                ],
            }
        ).encode()
