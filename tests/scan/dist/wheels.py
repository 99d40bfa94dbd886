"""Wheels built from bytes for the dist tests, scanned in process (optionally with a target)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from safe_pip.models import ScanResult, Severity, TargetEnvironment
from safe_pip.scan.core.engine import scan_path


def wheel_bytes(
    dist: str,
    files: dict[str, bytes],
    *,
    requires: Sequence[str] = (),
    version: str = "1.0",
    extra_record: Sequence[str] = (),
) -> bytes:
    """A wheel whose RECORD matches its files (plus ``extra_record`` rows it does not ship)."""
    di = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{di}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    meta = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members[f"{di}/METADATA"] = meta.encode()
    rows = []
    for name, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows += list(extra_record)
    rows.append(f"{di}/RECORD,,")
    members[f"{di}/RECORD"] = ("\n".join(rows) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def scan_wheel(
    tmp_path: Path, data: bytes, target: TargetEnvironment | None = None, name: str = "w.whl"
) -> ScanResult:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_path(path, target=target)


def found(result: ScanResult, rule: str) -> list[Severity]:
    """Severities of every finding of ``rule``."""
    return [f.severity for f in result.findings if f.rule_id == rule]


def blocks(result: ScanResult) -> set[str]:
    return {f.rule_id for f in result.findings if f.severity >= Severity.MEDIUM}
