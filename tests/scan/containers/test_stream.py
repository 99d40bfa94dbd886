"""Large zip members nothing reads are streamed past (inflated once, hashed on the way, never
written to disk), and give exactly what reading them from a temporary file gives.

Every case scans the same real zip twice: as shipped, and with streaming off
(``archive.STREAM_AT`` past any member, so every large member goes through a Spool and a
temporary file, as before streaming existed); the findings, inventory and skipped members
must be the same. Whether a member was streamed is seen from the outside: a member past
``SPILL_AT`` that is kept goes to a temporary file, one streamed does not (the real
``tempfile.TemporaryFile`` is wrapped to count its calls). The adversarial members are aimed
at the shortcut: each looks like plain data at its start and needs its bytes after all.
"""

from __future__ import annotations

import io
import os
import random
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safe_pip.models import ScanResult
from safe_pip.scan.containers import archive, compressed, split
from safe_pip.scan.core import dispatch
from safe_pip.scan.core.blob import SPILL_AT, Blob
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits
from safe_pip.scan.formats.hdf5_attrs import SIGNATURE, find_superblock
from tests.scan.dist.wheels import wheel_bytes
from tests.scan.formats.helpers import zip_bytes
from tests.scan.pickles import evil

MiB = 1 << 20
BIG = SPILL_AT + 3 * MiB


def _elf(size: int, seed: int = 1) -> bytes:
    """A random-looking native library: ELF magic, then bytes that compress not at all."""
    return b"\x7fELF\x02\x01\x01" + random.Random(seed).randbytes(size - 7)


def _zip(files: dict[str, bytes]) -> bytes:
    """A plain zip, deflated fast (random data does not compress anyway)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _raw_zip(name: str, compressed_data: bytes, crc: int, size: int) -> bytes:
    """One deflated member written as given: its compressed bytes, CRC and size."""
    n = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(compressed_data), size, len(n), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(compressed_data),
        size,
        len(n),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + n + compressed_data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(n), len(body), 0)
    return body + central + n + end


def _deflated(data: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


class _Counts:
    def __init__(self) -> None:
        self.temp_files = 0
        self.again = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    """Counts temporary files made and second inflations, calling the real functions."""
    seen = _Counts()
    real_temp, real_again = tempfile.TemporaryFile, compressed.again

    def temp(*args: Any, **kwargs: Any) -> Any:
        seen.temp_files += 1
        return real_temp(*args, **kwargs)

    def again(*args: Any, **kwargs: Any) -> Any:
        seen.again += 1
        return real_again(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", temp)
    monkeypatch.setattr(archive, "again", again)
    # the scan forks no split here (tested below on its own), so the counts are this process's
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 1 << 62)
    return seen


def _view(result: ScanResult) -> tuple[Any, ...]:
    return (
        sorted((f.rule_id, f.severity, f.message, f.location) for f in result.findings),
        dict(result.inventory),
        sorted((s.location, s.reason) for s in result.skipped),
    )


def _both(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    data: bytes,
    counts: _Counts,
    *,
    name: str = "m.zip",
    limits: Limits | None = None,
) -> tuple[ScanResult, ScanResult, int]:
    """The scan with streaming on, and with it off; and the temporary files the first made."""
    path = tmp_path / name
    path.write_bytes(data)
    streamed = scan_path(path, limits=limits, workers=0)
    made = counts.temp_files
    monkeypatch.setattr(archive, "STREAM_AT", 1 << 62)
    spooled = scan_path(path, limits=limits, workers=0)
    monkeypatch.setattr(archive, "STREAM_AT", SPILL_AT)
    assert counts.temp_files > made, "with streaming off the large member goes to a file"
    return streamed, spooled, made


@pytest.mark.slow  # members past 16 MiB
def test_plain_large_member_is_streamed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    lib = _elf(BIG)
    data = wheel_bytes("big", {"big/__init__.py": b"", "big/lib.so": lib})
    streamed, spooled, made = _both(monkeypatch, tmp_path, data, counts, name="big-1.0.whl")
    assert made == 0, "nothing was written to disk"
    assert counts.again == 0
    assert _view(streamed) == _view(spooled)
    assert streamed.inventory["data"] >= 1
    assert not [f for f in streamed.findings if f.location.endswith("lib.so")]


@pytest.mark.slow  # members past 16 MiB
def test_record_checked_against_the_streamed_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    """The wheel's RECORD is checked with the sha256 computed on the stream: a wrong row
    is found as it is from the file."""
    good = wheel_bytes("big", {"big/__init__.py": b"", "big/lib.so": _elf(BIG)})
    data = _zip({**dict(_members(good)), "big/lib.so": _elf(BIG, seed=2)})  # RECORD: seed 1
    streamed, spooled, made = _both(monkeypatch, tmp_path, data, counts, name="big-1.0.whl")
    assert made == 0
    assert _view(streamed) == _view(spooled)
    assert [f.rule_id for f in streamed.findings] == ["WHEEL-RECORD-MISMATCH"]
    assert "big/lib.so" in streamed.findings[0].message


def _members(data: bytes) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            yield info.filename, z.read(info)


@pytest.mark.slow  # members past 16 MiB
def test_duplicates_and_split_journal_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    """Two identical streamed members: the second is a duplicate, by the streamed digest;
    a forced split (its child streams the second half) replays the same facts."""
    lib = _elf(BIG)
    files = {"big/__init__.py": b"", "big/a.so": lib, "big/b/__init__.py": b"", "big/b/a.so": lib}
    path = tmp_path / "big-1.0-py3-none-any.whl"
    path.write_bytes(wheel_bytes("big", files))
    serial = scan_path(path, workers=0)
    assert counts.temp_files == 0
    assert serial.inventory.get("duplicate") == 1
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(split, "cores", lambda: 2)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    forked = scan_path(path, workers=0)
    assert _view(forked) == _view(serial)
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 1 << 62)
    monkeypatch.setattr(archive, "STREAM_AT", 1 << 62)
    assert _view(scan_path(path, workers=0)) == _view(serial)


def _appended_zip() -> bytes:
    return _elf(BIG) + zip_bytes({"payload.pkl": evil()})


def _hdf5_at(offset: int) -> Callable[[], bytes]:
    def make() -> bytes:
        data = bytearray(_elf(max(BIG, offset + MiB)))
        data[offset : offset + 8] = SIGNATURE
        return bytes(data)

    return make


NOT_STREAMED: dict[str, tuple[str, Callable[[], bytes], int, str]] = {
    # name, bytes, second inflations (1: streamed until the end showed the bytes are needed),
    # the format it is read as
    "hdf5 superblock at 1 MiB": ("lib.so", _hdf5_at(MiB), 0, "hdf5"),
    "hdf5 superblock at 32 MiB": ("lib.so", _hdf5_at(32 * MiB), 1, "hdf5"),
    "zip appended": ("lib.so", _appended_zip, 1, "pickle"),
    "pickle head": ("lib.so", lambda: evil() + _elf(BIG)[len(evil()) :], 0, "pickle"),
    "protocol 0 pickle head": (
        "lib.so",
        lambda: b"cos\nsystem\n(S'x'\ntR." + _elf(BIG),
        0,
        "pickle",
    ),
    "named .py": ("big.py", lambda: b"import os\n" + _elf(BIG), 0, "python"),
    "named .safetensors": ("w.safetensors", lambda: _elf(BIG), 0, "data"),
    "named saved_model.pb": ("saved_model.pb", lambda: _elf(BIG), 0, "tf-savedmodel"),
    "onnx first byte": ("m.bin", lambda: b"\x08" + _elf(BIG), 0, "data"),
    "torch flatbuffer": (
        "m.bin",
        lambda: b"\x00\x00\x00\x00PTMF" + _elf(BIG),
        0,
        "torchscript-flatbuffer",
    ),
    "keras config": ("config.json", lambda: b"{" + _elf(BIG), 0, "data"),
}


@pytest.mark.slow  # members past 16 MiB
@pytest.mark.parametrize("case", sorted(NOT_STREAMED))
def test_members_that_need_their_bytes_are_read_as_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts, case: str
) -> None:
    name, make, again, fmt = NOT_STREAMED[case]
    member = make()
    files = {"pkg/" + name: member} if name != "config.json" else {"a/config.json": member}
    streamed, spooled, made = _both(monkeypatch, tmp_path, _zip(files), counts)
    assert made >= 1, "kept in a temporary file, as before"
    assert counts.again == again
    assert _view(streamed) == _view(spooled)
    assert streamed.inventory.get(fmt), _view(streamed)


@pytest.mark.slow  # members past 16 MiB
def test_zip_appended_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    streamed, _, _ = _both(monkeypatch, tmp_path, _zip({"lib.so": _appended_zip()}), counts)
    assert any("payload.pkl" in f.location for f in streamed.findings), _view(streamed)


@pytest.mark.slow  # members past 16 MiB
def test_bad_crc_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    lib = _elf(BIG)
    data = _raw_zip("lib.so", _deflated(lib), zlib.crc32(lib) ^ 1, len(lib))
    streamed, spooled, _ = _both(monkeypatch, tmp_path, data, counts)
    assert counts.again == 1
    assert _view(streamed) == _view(spooled)
    assert [f.rule_id for f in streamed.findings] == ["ZIP-CRC-MISMATCH"]


@pytest.mark.slow  # members past 16 MiB
def test_truncated_member_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    lib = _elf(BIG)
    cut = _deflated(lib)[: BIG - MiB]
    data = _raw_zip("lib.so", cut, zlib.crc32(lib), len(lib))
    streamed, spooled, _ = _both(monkeypatch, tmp_path, data, counts)
    assert counts.again == 1
    assert _view(streamed) == _view(spooled)
    assert "ARCHIVE-CORRUPT" in [f.rule_id for f in streamed.findings]


@pytest.mark.slow  # members past 16 MiB
def test_corrupt_member_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    lib = _elf(BIG)
    raw = bytearray(_deflated(lib))
    raw[BIG - 2 * MiB : BIG - 2 * MiB + 64] = b"\xff" * 64  # a stored block's length breaks
    data = _raw_zip("lib.so", bytes(raw), zlib.crc32(lib), len(lib))
    streamed, spooled, _ = _both(monkeypatch, tmp_path, data, counts)
    assert _view(streamed) == _view(spooled)
    assert streamed.findings


@pytest.mark.slow  # members past 16 MiB
def test_member_over_the_cap_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, counts: _Counts
) -> None:
    limits = Limits(max_member_bytes=SPILL_AT + MiB)
    streamed, spooled, _ = _both(
        monkeypatch, tmp_path, _zip({"lib.so": _elf(BIG)}), counts, limits=limits
    )
    assert counts.again == 1
    assert _view(streamed) == _view(spooled)
    assert "ARCHIVE-LIMIT" in [f.rule_id for f in streamed.findings]


_CUTS = [
    (size, piece)
    for size in (8, 9, 515, 520, 4096, 70_000, 300_000)
    for piece in (1, 7, 512, 4099, 1 << 16)
    if size // piece <= 5000  # more pieces than that: the same cuts as larger pieces, slowly
]


@pytest.mark.parametrize(("size", "piece"), _CUTS)
def test_glance_sees_what_the_blob_searches_see(size: int, piece: int) -> None:
    """From a stream cut anywhere, the same superblock and zip-end answers as the searches
    over the whole bytes (signatures straddling the cuts included)."""
    rng = random.Random(size * piece)
    for where in [None, 0, 512, 1024, 2048, 4096, 65536, 131072, 262144, size - 8, size - 22]:
        data = bytearray(rng.randbytes(size))
        if where is not None and 0 <= where <= size - 8:
            data[where : where + 8] = SIGNATURE
        if where == size - 22 and size >= 22:
            data[where : where + 4] = b"PK\x05\x06"
        glance = dispatch.Glance("x!lib.so")
        for i in range(0, size, piece):
            glance.feed(bytes(data[i : i + piece]))
        blob = Blob(bytes(data))
        assert glance.size == size
        assert glance.head == bytes(data[: dispatch.KEEP_HEAD])
        assert glance.superblock == (find_superblock(blob) is not None)
        assert dispatch._has_zip_end(Blob(glance.tail)) == dispatch._has_zip_end(blob)


def test_head_kept_covers_every_view() -> None:
    from safe_pip.scan.core import sniff
    from safe_pip.scan.formats import pickle_reader

    assert max(sniff.HEAD, pickle_reader._LINE_LOOKAHEAD) <= dispatch.KEEP_HEAD
    assert archive.STREAM_AT <= SPILL_AT
    from safe_pip.scan.dist import wheel

    assert archive.STREAM_AT >= wheel._MAX_META  # texts it keeps are never streamed


@pytest.mark.slow
def test_streaming_needs_no_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full temporary folder does not stop a streamed member (none is written)."""
    path = tmp_path / "m.zip"
    path.write_bytes(_zip({"lib.so": _elf(BIG)}))
    missing = tmp_path / "no-such-dir"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    monkeypatch.setenv("TMPDIR", str(missing))
    result = scan_path(path, workers=0)
    assert not result.findings, _view(result)
    assert not os.path.exists(missing)
