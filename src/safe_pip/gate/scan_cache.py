"""The scan-result cache: skip re-scanning a file whose bytes, scanner and policy are unchanged.

Scanning a multi-gigabyte checkpoint is the expensive step of an install, and the same
wheels are installed again and again (CI, fresh virtual environments). A scan result is a
pure function of four things, so they form the key: the artifact's sha256,
:data:`safe_pip.scan.SCANNER_VERSION`, the policy digest (which covers allow-lists and
scan limits) and the digest of the target environment the scan was judged against
(:func:`safe_pip.scan.dist.shadowing.environment_digest`: who owns which file and command,
the Python version), since a wheel that is harmless in one environment overwrites another
distribution's files in the next. Only *scan results* are cached, never verdicts: name,
index, age and hash checks are cheap and time-dependent (a cooldown expires), and decide runs
every time.

The cache folder is a place an attacker may be able to write (a CI cache restored from
elsewhere, a shared home), so an entry is only believed if it carries a keyed MAC
(HMAC-SHA256) made with a per-user secret kept elsewhere (the state folder), readable by
its owner only. An entry whose MAC does not verify -- edited, copied from another machine,
or written without the secret -- is deleted and the file scanned again. A secret whose file
others could read is replaced (which retires every entry made with it).

Entries are written atomically (temp file + rename) and read defensively: a corrupt or
foreign entry is a miss, never a result.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from safe_pip.models import Finding, ScanResult, Severity, Skipped

FORMAT = 2
"""2: entries carry a MAC."""
KEY_BYTES = 32


def default_key_path() -> Path:
    override = os.environ.get("SAFE_PIP_STATE_DIR")
    root = Path(override) if override else Path(platformdirs.user_state_dir("safe-pip"))
    return root / "scan-cache.key"


def load_or_create_key(path: Path) -> bytes:
    """This user's MAC secret; created (mode 0600) when missing or readable by others."""
    try:
        st = path.stat()
        private = stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077
        owned = not hasattr(os, "getuid") or st.st_uid == os.getuid()
        if private and owned and st.st_size == KEY_BYTES:
            return path.read_bytes()
    except OSError:
        pass
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return key


def cache_key(sha256: str, scanner_version: str, policy_digest: str, environment: str = "") -> str:
    """The entry's name. ``environment``: the target's digest ("" for a scan without one,
    whose keys stay what they were before environments were part of the key)."""
    raw = f"{FORMAT}\0{sha256}\0{scanner_version}\0{policy_digest}"
    if environment:
        raw += f"\0{environment}"
    return hashlib.sha256(raw.encode()).hexdigest()


class ScanResultCache:
    """Scan results by (sha256, scanner version, policy digest, environment digest), each
    entry MAC-ed."""

    def __init__(self, root: Path, *, key_path: Path | None = None) -> None:
        self.root = root
        self._key_path = key_path if key_path is not None else default_key_path()
        self._secret: bytes | None = None
        self.discarded: list[str] = []
        """sha256 of the files whose entry failed its MAC in this run (reported as notes)."""

    def _mac(self, body: bytes) -> str:
        if self._secret is None:
            self._secret = load_or_create_key(self._key_path)
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(
        self, sha256: str, scanner_version: str, policy_digest: str, *, environment: str = ""
    ) -> ScanResult | None:
        key = cache_key(sha256, scanner_version, policy_digest, environment)
        path = self._path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            doc = None
        try:
            if not isinstance(doc, dict):
                raise ValueError("not an entry")
            body = _canonical(doc["key"], doc["sha256"], doc["result"])
            if not hmac.compare_digest(str(doc["mac"]), self._mac(body)):
                raise ValueError("MAC mismatch")
            if doc["key"] != key or doc["sha256"] != sha256:
                raise ValueError("entry for another file")
            return _decode(doc["result"])
        except (ValueError, KeyError, TypeError, OSError):
            self.discarded.append(sha256)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(
        self,
        sha256: str,
        scanner_version: str,
        policy_digest: str,
        result: ScanResult,
        *,
        environment: str = "",
    ) -> None:
        """Store a result; failures to write are ignored (the cache is an optimisation)."""
        key = cache_key(sha256, scanner_version, policy_digest, environment)
        path = self._path(key)
        encoded = _encode(result)
        tmp: str | None = None
        try:
            doc = {
                "key": key,
                "sha256": sha256,
                "result": encoded,
                "mac": self._mac(_canonical(key, sha256, encoded)),
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            pass
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _canonical(key: Any, sha256: Any, result: Any) -> bytes:
    return json.dumps(
        {"key": key, "sha256": sha256, "result": result},
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def _encode(result: ScanResult) -> dict[str, Any]:
    return {
        "target": result.target,
        "findings": [f.to_dict() for f in result.findings],
        "skipped": [s.to_dict() for s in result.skipped],
        "inventory": dict(result.inventory),
        "sha256": result.sha256,
        "size": result.size,
    }


def _decode(doc: dict[str, Any]) -> ScanResult:
    findings = tuple(
        Finding(
            rule_id=str(f["rule_id"]),
            severity=Severity[str(f["severity"]).upper()],
            message=str(f["message"]),
            location=str(f["location"]),
            detail=dict(f.get("detail") or {}),
        )
        for f in doc["findings"]
    )
    skipped = tuple(Skipped(str(s["location"]), str(s["reason"])) for s in doc["skipped"])
    return ScanResult(
        target=str(doc["target"]),
        findings=findings,
        skipped=skipped,
        inventory={str(k): int(v) for k, v in dict(doc["inventory"]).items()},
        sha256=doc.get("sha256"),
        size=doc.get("size"),
    )
