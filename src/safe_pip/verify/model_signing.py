"""OpenSSF model signatures (``model.sig``) over a model directory, verified offline.

Implementation choice: **our own check of the DSSE statement, not the
``model-signing`` package.**  Why:

* ``model-signing`` 1.1.1 builds its sigstore verifier from a TUF refresh
  unless handed a trust-config file, and imports ``OpenSSL`` without declaring
  ``pyopenssl``; depending on it would add a broken import and a second path to
  the network in an install gate that must work offline.
* The format is small and stable: a sigstore bundle whose DSSE envelope holds an
  in-toto statement with predicate ``https://model_signing/signature/v1.0``,
  listing ``{name, digest, algorithm}`` for every file plus the serialization
  settings (method, hash type, ignore list).  sigstore's ``verify_dsse`` on our
  *pinned* verifier checks the certificate, transparency log and signature;
  the rest is comparing digests, which must also work for a model folder
  *inside a wheel* (no extraction to disk), something ``model-signing`` cannot do.

Rules (fail closed, same as ``model_signing.verifying``): every listed file must
exist with the listed sha256, no unlisted file may exist except those the
signed ignore list (and the signature file itself) excludes, symlinks are
rejected unless the signature allows them, and only the ``files`` method with
``sha256`` is accepted - shard or blake3 manifests are reported as unsupported
rather than half-checked.  Key-signed (``publicKey``) bundles are verified with
an explicit PEM key (ECDSA, hash chosen by curve as ``model-signing`` does).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from safe_pip.policy.pins import Expected
from safe_pip.verify._sigstore import ExpectedPolicy, guarded
from safe_pip.verify.bundles import IN_TOTO_PAYLOAD, Verified, load_bundle, parse_json
from safe_pip.verify.errors import Reason, SignatureError

if TYPE_CHECKING:
    from sigstore.verify import Verifier

MODEL_PREDICATE = "https://model_signing/signature/v1.0"
SIGNATURE_NAME = "model.sig"
_PEM_RE = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: zf.open(info)


@dataclass(frozen=True)
class ModelTree:
    """The files of a model folder, wherever they live (disk or a wheel).

    ``files`` maps a POSIX path relative to the model root to a function that
    opens it; ``symlinks`` lists paths that are links (never followed).
    """

    root_name: str
    files: Mapping[str, Callable[[], IO[bytes]]]
    symlinks: frozenset[str] = frozenset()

    @classmethod
    def from_dir(cls, root: Path) -> ModelTree:
        files: dict[str, Callable[[], IO[bytes]]] = {}
        links: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for entry in [*dirnames, *filenames]:
                full = Path(dirpath) / entry
                rel = full.relative_to(root).as_posix()
                mode = full.lstat().st_mode
                if stat.S_ISLNK(mode):
                    links.add(rel)
                elif stat.S_ISREG(mode):
                    files[rel] = _file_opener(full)
        return cls(root.name, files, frozenset(links))

    @classmethod
    def from_zip(cls, zf: zipfile.ZipFile, prefix: str) -> ModelTree:
        """The members under ``prefix/`` of an open zip (e.g. a wheel)."""
        files: dict[str, Callable[[], IO[bytes]]] = {}
        links: set[str] = set()
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix + "/"):
                continue
            rel = info.filename[len(prefix) + 1 :]
            if stat.S_ISLNK(info.external_attr >> 16):
                links.add(rel)
            else:
                files[rel] = _zip_opener(zf, info)
        return cls(PurePosixPath(prefix).name or prefix, files, frozenset(links))


def _sha256(opener: Callable[[], IO[bytes]]) -> str:
    h = hashlib.sha256()
    with opener() as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_ignored(rel: str, ignore: Sequence[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in ignore)


def _pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _verify_with_key(doc: dict[str, Any], key_pem: bytes) -> tuple[str, bytes]:
    """Check a key-signed DSSE envelope; return (payload type, payload)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    match = _PEM_RE.search(key_pem)
    if not match:
        raise SignatureError(Reason.UNSUPPORTED, "the key file holds no PEM public key")
    key = load_pem_public_key(match.group(0))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError(Reason.UNSUPPORTED, "only elliptic-curve public keys are supported")
    algo: hashes.HashAlgorithm = {384: hashes.SHA384(), 521: hashes.SHA512()}.get(
        key.curve.key_size, hashes.SHA256()
    )
    env = doc.get("dsseEnvelope")
    sigs = env.get("signatures") if isinstance(env, dict) else None
    if not isinstance(env, dict) or not isinstance(sigs, list) or len(sigs) != 1:
        raise SignatureError(Reason.MALFORMED, "model.sig needs a DSSE envelope with one signature")
    try:
        ptype = str(env["payloadType"])
        payload = base64.b64decode(env["payload"], validate=True)
        sig = base64.b64decode(sigs[0]["sig"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError(Reason.MALFORMED, f"model.sig envelope is malformed: {exc}") from exc
    try:
        key.verify(sig, _pae(ptype, payload), ec.ECDSA(algo))
    except InvalidSignature as exc:
        raise SignatureError(
            Reason.BAD_SIGNATURE, "model.sig was not signed by the given key"
        ) from exc
    return ptype, payload


def _check_manifest(tree: ModelTree, payload_type: str, payload: bytes, sig_name: str) -> None:
    if payload_type != IN_TOTO_PAYLOAD:
        raise SignatureError(Reason.UNSUPPORTED, f"payload type {payload_type!r} is not in-toto")
    stmt = parse_json(payload, "model signature statement")
    if not isinstance(stmt, dict) or stmt.get("predicateType") != MODEL_PREDICATE:
        raise SignatureError(Reason.UNSUPPORTED, "not an OpenSSF model signature (predicateType)")
    pred, subjects = stmt.get("predicate"), stmt.get("subject")
    ser = pred.get("serialization") if isinstance(pred, dict) else None
    resources = pred.get("resources") if isinstance(pred, dict) else None
    if not isinstance(ser, dict) or not isinstance(resources, list):
        raise SignatureError(Reason.MALFORMED, "model signature predicate lacks its manifest")
    if ser.get("method") != "files" or ser.get("hash_type") != "sha256":
        raise SignatureError(
            Reason.UNSUPPORTED,
            f"manifest method {ser.get('method')!r}/{ser.get('hash_type')!r} is not supported "
            "(only files/sha256)",
        )
    listed: dict[str, str] = {}
    for res in resources:
        name = res.get("name") if isinstance(res, dict) else None
        digest = res.get("digest") if isinstance(res, dict) else None
        if not isinstance(name, str) or not isinstance(digest, str):
            raise SignatureError(Reason.MALFORMED, "model manifest entry lacks a name or digest")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or res.get("algorithm", "sha256") != "sha256":
            raise SignatureError(Reason.MALFORMED, f"model manifest entry {name!r} is invalid")
        listed[name] = digest.lower()
    root = hashlib.sha256(b"".join(bytes.fromhex(d) for d in listed.values())).hexdigest()
    subj = subjects[0] if isinstance(subjects, list) and len(subjects) == 1 else None
    if not isinstance(subj, dict) or subj.get("digest", {}).get("sha256") != root:
        raise SignatureError(
            Reason.MALFORMED, "model signature subject does not match its manifest"
        )
    ignore = [p for p in ser.get("ignore_paths", []) if isinstance(p, str)] + [sig_name]
    links = sorted(p for p in tree.symlinks if not _is_ignored(p, ignore))
    if links and not ser.get("allow_symlinks", False):
        raise SignatureError(Reason.DIGEST_MISMATCH, f"symlinks are not allowed: {links}")
    present = {p for p in tree.files if not _is_ignored(p, ignore)}
    if extra := sorted(present - listed.keys()):
        raise SignatureError(
            Reason.DIGEST_MISMATCH, f"extra files not covered by the signature: {extra}"
        )
    if missing := sorted(listed.keys() - present):
        raise SignatureError(Reason.DIGEST_MISMATCH, f"signed files are missing: {missing}")
    for name, want in listed.items():
        got = _sha256(tree.files[name])
        if got != want:
            raise SignatureError(
                Reason.DIGEST_MISMATCH,
                f"digest mismatch for {name!r}: signed {want}, found {got}",
            )


def verify_model(
    tree: ModelTree,
    sig_raw: bytes,
    *,
    expected: Sequence[Expected],
    verifier: Verifier | None,
    key_pem: bytes | None = None,
    source: str = SIGNATURE_NAME,
) -> Verified:
    """Verify ``model.sig`` over ``tree``: with ``key_pem`` for key-signed bundles,
    else with the pinned sigstore ``verifier`` and the expected identities."""
    doc = parse_json(sig_raw, source)
    if not isinstance(doc, dict) or "dsseEnvelope" not in doc:
        raise SignatureError(Reason.MALFORMED, f"{source} is not a DSSE sigstore bundle")
    sig_name = PurePosixPath(source).name
    if key_pem is not None:
        ptype, payload = _verify_with_key(doc, key_pem)
        _check_manifest(tree, ptype, payload, sig_name)
        return Verified("model-signature", source, None, None, MODEL_PREDICATE, ("key",))
    material = doc.get("verificationMaterial")
    if isinstance(material, dict) and "publicKey" in material:
        raise SignatureError(
            Reason.UNSUPPORTED, f"{source} is signed with a plain key; give the public key (--key)"
        )
    if verifier is None:
        raise SignatureError(Reason.UNSUPPORTED, "no trusted root to verify the model signature")
    bundle = load_bundle(sig_raw, source)
    policy = ExpectedPolicy(expected)
    ptype, payload = guarded(lambda: verifier.verify_dsse(bundle, policy))
    _check_manifest(tree, ptype, payload, sig_name)
    return Verified("model-signature", source, policy.signer, policy.matched, MODEL_PREDICATE)


def find_model_signatures(zf: zipfile.ZipFile) -> list[str]:
    """Folders inside a zip (wheel) that hold a ``model.sig``."""
    return sorted(
        str(PurePosixPath(n).parent)
        for n in zf.namelist()
        if PurePosixPath(n).name == SIGNATURE_NAME and PurePosixPath(n).parent.name
    )
