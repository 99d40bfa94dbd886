"""Builders for the format tests: raw protobuf, zips, and an in-process scan of bytes.

The tests build every sample from bytes so the malicious ones never exist as files in the
repository and the benign ones show exactly what a real writer produces.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

from safe_pip.models import ScanResult
from safe_pip.scan.core.engine import scan_path


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> ScanResult:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return scan_path(path)


def rules(result: ScanResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def blocking(result: ScanResult) -> set[str]:
    """Rule ids at MEDIUM or worse: what the default policy blocks on."""
    return {f.rule_id for f in result.findings if int(f.severity) >= 2}


# -- protobuf wire format ------------------------------------------------------------
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_len(field: int, payload: bytes | str) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return varint(field << 3 | 2) + varint(len(raw)) + raw


def pb_int(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def safetensors_bytes(header: dict[str, object], data: bytes) -> bytes:
    import json

    raw = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(raw)) + raw + data
