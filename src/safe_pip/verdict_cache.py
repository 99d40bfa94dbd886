"""Verdict cache: skip re-scanning a file whose bytes, scanner and policy are unchanged.

Scanning a multi-gigabyte checkpoint is the expensive step of an install, and
the same wheels are installed again and again (CI, fresh virtual
environments).  The scan result is a pure function of three things, so they
form the key: the artifact's sha256, :data:`safe_pip.scan.SCANNER_VERSION` and
the policy digest (which covers allow-lists and scan limits).  Only the
*scan* result is cached; name, index, age and hash checks are cheap and
time-dependent (a cooldown expires), so they run every time.

Entries are written atomically (temp file + rename) and read defensively: a
corrupt or foreign entry is a miss, never a verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from safe_pip.models import Finding, ScanResult, Severity, Skipped

FORMAT = 1


def cache_key(sha256: str, scanner_version: str, policy_digest: str) -> str:
    raw = f"{FORMAT}\0{sha256}\0{scanner_version}\0{policy_digest}".encode()
    return hashlib.sha256(raw).hexdigest()


class VerdictCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, sha256: str, scanner_version: str, policy_digest: str) -> ScanResult | None:
        key = cache_key(sha256, scanner_version, policy_digest)
        try:
            doc = json.loads(self._path(key).read_text(encoding="utf-8"))
            if doc.get("key") != key or doc.get("sha256") != sha256:
                return None
            return _decode(doc["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(
        self, sha256: str, scanner_version: str, policy_digest: str, result: ScanResult
    ) -> None:
        """Store a result; failures to write are ignored (the cache is an optimisation)."""
        key = cache_key(sha256, scanner_version, policy_digest)
        path = self._path(key)
        doc = {"key": key, "sha256": sha256, "result": _encode(result)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


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
