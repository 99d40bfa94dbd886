"""A lenient zip parser that reads archives the way ``torch.load`` does.

Python's ``zipfile`` refuses archives that PyTorch (miniz) loads happily: bad
CRCs, flipped general-purpose flag bits, a local header whose file name differs
from the central directory.  Scanners built on ``zipfile`` were bypassed by
exactly those tricks (CVE-2025-10156, CVE-2025-1944, CVE-2025-1945).  This
parser trusts the central directory for the member list (as miniz does), reads
each local header for its name and data offset, records every inconsistency
instead of raising, and never believes a declared uncompressed size.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from safe_pip.scan.core.blob import Blob

_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"

FLAG_ENCRYPTED = 0x1
FLAG_STRONG_ENCRYPTION = 0x40
FLAG_UTF8 = 0x800


class ZipFormatError(Exception):
    """The archive's directory cannot be read at all."""


@dataclass
class ZipEntry:
    name: str
    local_name: str | None
    method: int
    flags: int
    crc: int
    compressed_size: int
    declared_size: int
    header_offset: int
    data_offset: int = -1
    problems: list[str] = field(default_factory=list)
    unicode_name: str | None = None
    """The name in the central directory's Unicode Path extra field (0x7075), which CPython's
    zipfile (so pip) uses instead of the name from Python 3.12 on, when it differs."""

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) or self.method == 99

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") and self.compressed_size == 0

    @property
    def names(self) -> set[str]:
        """Every name a loader might know this member by."""
        return (
            {self.name}
            | ({self.local_name} if self.local_name else set())
            | ({self.unicode_name} if self.unicode_name else set())
        )

    @property
    def zipfile_names(self) -> tuple[str, ...]:
        """Names CPython's ``zipfile`` gives the member on some version (it ends a name at its
        first NUL byte; 3.12+ take the Unicode Path field), besides :attr:`name`."""
        out = {n.split("\x00", 1)[0] for n in (self.name, self.unicode_name) if n}
        out.discard(self.name)
        return tuple(sorted(out))


def _decode(raw: bytes, flags: int) -> str:
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _find_eocd(blob: Blob) -> int:
    tail_len = min(blob.size, 65535 + 22)
    tail = blob.read(blob.size - tail_len, tail_len)
    idx = tail.rfind(_EOCD)
    while idx >= 0:
        if len(tail) - idx >= 22:
            return blob.size - tail_len + idx
        idx = tail.rfind(_EOCD, 0, idx)
    raise ZipFormatError("no end-of-central-directory record (truncated or not a zip)")


def read_directory(blob: Blob, max_entries: int) -> tuple[list[ZipEntry], list[str]]:
    """Parse the central directory; returns entries and archive-level problems."""
    problems: list[str] = []
    eocd = _find_eocd(blob)
    rec = blob.read(eocd, 22)
    (_, _, _, _n_this, n_total, cd_size, cd_offset, _) = struct.unpack("<4sHHHHIIH", rec)
    count = n_total
    cd_end_at = eocd
    if eocd >= 20 and blob.read(eocd - 20, 4) == _EOCD64_LOC:
        (_, _, z64_off, _) = struct.unpack("<4sIQI", blob.read(eocd - 20, 20))
        z64 = blob.read(z64_off, 56)
        if len(z64) == 56 and z64[:4] == _EOCD64:
            (_, _, _, _, _, _, _, count, cd_size, cd_offset) = struct.unpack("<4sQHHIIQQQQ", z64)
            cd_end_at = z64_off
        else:
            problems.append("zip64 locator points at no zip64 record")
    # Data prepended to the archive (self-extractors, polyglots) shifts every offset.
    concat = cd_end_at - cd_size - cd_offset
    if concat < 0:
        raise ZipFormatError("central directory offset points past its own end")
    if concat:
        problems.append(f"{concat} bytes precede the first member (prepended data)")
    if count > max_entries:
        raise ZipFormatError(f"archive declares {count} members, over the limit of {max_entries}")
    entries: list[ZipEntry] = []
    pos = cd_offset + concat
    cd_end = pos + cd_size
    while pos + 46 <= cd_end:
        hdr = blob.read(pos, 46)
        if hdr[:4] != _CENTRAL:
            problems.append(f"central directory entry {len(entries)} has a bad signature")
            break
        (flags, method) = struct.unpack_from("<HH", hdr, 8)
        (crc, csize, usize, nlen, xlen, clen) = struct.unpack_from("<IIIHHH", hdr, 16)
        (local_off,) = struct.unpack_from("<I", hdr, 42)
        raw_name = blob.read(pos + 46, nlen)
        name = _decode(raw_name, flags)
        extra = blob.read(pos + 46 + nlen, xlen)
        usize, csize, local_off = _zip64_extra(extra, usize, csize, local_off)
        entry = ZipEntry(name, None, method, flags, crc, csize, usize, local_off + concat)
        unicode_name = _unicode_path(extra, raw_name)
        if unicode_name is not None and unicode_name != name:
            entry.unicode_name = unicode_name
            entry.problems.append(
                f"its Unicode Path extra field names it {unicode_name!r}, the central directory "
                f"{name!r} (Python 3.12+ zipfile, and so pip there, uses the extra field)"
            )
        entries.append(entry)
        pos += 46 + nlen + xlen + clen
        if len(entries) > max_entries:
            raise ZipFormatError(f"more than {max_entries} members")
    if len(entries) != count:
        problems.append(
            f"central directory lists {len(entries)} members but the end record says {count}"
        )
    for e in entries:
        _read_local(blob, e)
    return entries, problems


def _zip64_extra(extra: bytes, usize: int, csize: int, off: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, ln = struct.unpack_from("<HH", extra, i)
        if tag == 0x0001:
            body = extra[i + 4 : i + 4 + ln]
            j = 0
            vals = []
            for cur in (usize, csize, off):
                if cur == 0xFFFFFFFF and j + 8 <= len(body):
                    vals.append(struct.unpack_from("<Q", body, j)[0])
                    j += 8
                else:
                    vals.append(cur)
            return vals[0], vals[1], vals[2]
        i += 4 + ln
    return usize, csize, off


def _unicode_path(extra: bytes, raw_name: bytes) -> str | None:
    """The Info-ZIP Unicode Path field's name, when CPython's zipfile would take it: version 1
    and a CRC-32 that matches the raw name (an undecodable one makes zipfile refuse the member,
    so it is returned as decoded with replacement)."""
    i = 0
    while i + 4 <= len(extra):
        tag, ln = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + ln]
        if tag == 0x7075 and len(body) >= 5:
            version, crc = struct.unpack_from("<BI", body, 0)
            if version == 1 and crc == zlib.crc32(raw_name) and body[5:]:
                return body[5:].decode("utf-8", "replace")
        i += 4 + ln
    return None


def _read_local(blob: Blob, e: ZipEntry) -> None:
    hdr = blob.read(e.header_offset, 30)
    if len(hdr) < 30 or hdr[:4] != _LOCAL:
        e.problems.append("local header missing or damaged")
        return
    (flags,) = struct.unpack_from("<H", hdr, 6)
    (nlen, xlen) = struct.unpack_from("<HH", hdr, 26)
    local_name = _decode(blob.read(e.header_offset + 30, nlen), flags)
    if local_name != e.name:
        e.local_name = local_name
        e.problems.append(f"local header names it {local_name!r}, the central directory {e.name!r}")
    e.data_offset = e.header_offset + 30 + nlen + xlen
    if e.data_offset + e.compressed_size > blob.size:
        e.problems.append("member data runs past the end of the archive (truncated)")
