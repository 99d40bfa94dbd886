"""Wheels whose zip bytes say something ``zipfile.writestr`` will not write by itself.

Each helper starts from :func:`tests.support.wheels.build_wheel` (a valid RECORD for the
names as written) and then edits the archive the way an attacker's tool would: a name with a
NUL byte, or a Unicode Path extra field (0x7075) naming the member differently.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from tests.support.wheels import build_wheel


def with_unicode_path(out: Path, name: str, files: dict[str, bytes], member: str, alt: str) -> Path:
    """``member`` carries a Unicode Path field naming it ``alt`` (version 1, matching CRC)."""
    wheel = build_wheel(out, name, files=files)
    raw = member.encode()
    field = struct.pack("<HHBI", 0x7075, 5 + len(alt.encode()), 1, zlib.crc32(raw))
    rebuilt = out / "rebuilt.zip"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == member:
                info.extra = field + alt.encode()
            dst.writestr(info, data)
    rebuilt.replace(wheel)
    return wheel


def with_nul_in_name(out: Path, name: str, files: dict[str, bytes], member: str) -> Path:
    """``member`` (which must contain one ``\\x01``) gets a NUL byte there, in both the local
    header and the central directory; RECORD keeps the ``\\x01`` spelling."""
    assert member.count("\x01") == 1
    wheel = build_wheel(out, name, files=files)
    data = bytearray(wheel.read_bytes())
    key = member.encode()
    first, last = data.find(key), data.rfind(key)
    assert first != last, "expected the name in a local header and the central directory"
    for at in (first, last):
        data[at + key.index(b"\x01")] = 0
    wheel.write_bytes(bytes(data))
    return wheel
