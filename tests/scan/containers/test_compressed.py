"""Compressed streams read as their real readers read them, within bounds, failing closed.

LZ4: joblib's ``compress="lz4"`` dumps are LZ4 frames that ``joblib.load`` decodes with
``lz4.frame.LZ4FrameFile``: one frame after another, and any bytes after a frame that are
not a frame are an error of the load. The committed dumps in ``tests/fixtures/joblib`` are
what ``joblib.dump`` really writes (``make_lz4_dumps.py`` made them); the damaged variants
are cut from them here. Every error path must end in a blocking finding, never in silence.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import lz4.frame

from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits
from tests.scan.formats.helpers import blocking, rules, scan_bytes
from tests.scan.pickles import evil
from tests.scan.scan_harness import FIXTURES

JOBLIB = FIXTURES / "joblib"
BENIGN = (JOBLIB / "benign.lz4").read_bytes()
MALICIOUS = (JOBLIB / "malicious.lz4").read_bytes()


def _inventory(tmp_path: Path, name: str, data: bytes) -> dict[str, int]:
    path = tmp_path / name
    path.write_bytes(data)
    return dict(scan_path(path).inventory)


def test_real_lz4_joblib_dump_is_read_and_clean(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "weights.lz4", BENIGN)
    assert not result.findings, result.findings
    seen = _inventory(tmp_path, "w2.lz4", BENIGN)
    assert seen.get("lz4") == 1 and seen.get("joblib", 0) >= 1, seen


def test_real_lz4_joblib_dump_with_a_reduce_gadget_is_blocked(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "weights.lz4", MALICIOUS)
    assert rules(result) == {"PICKLE-GLOBAL-DANGEROUS"}, result.findings
    names = {(f.detail.get("module"), f.detail.get("name")) for f in result.findings}
    assert ("posix", "system") in names or ("os", "system") in names, names


def test_a_second_frame_is_read_too(tmp_path: Path) -> None:
    """LZ4FrameFile goes on into the next frame: a payload there runs."""
    data = lz4.frame.compress(b"\x80\x02}q\x00.") + lz4.frame.compress(evil())
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "two.lz4", data))


def test_damaged_frames_fail_closed(tmp_path: Path) -> None:
    """A block that is no valid LZ4 data, a bad frame header, a cut-off frame, and junk
    after the frame (LZ4FrameFile raises on it) each block; whatever decoded before is
    still scanned."""
    middle = len(BENIGN) // 2
    # the frame's own header, then one block of 16 bytes that are no valid LZ4 sequence
    bad_block = BENIGN[:7] + (16).to_bytes(4, "little") + b"\xff" * 16 + bytes(4)
    damaged = {
        "corrupt.lz4": bad_block,
        "header.lz4": BENIGN[:4] + b"\xff" + BENIGN[5:],
        "truncated.lz4": BENIGN[:middle],
        "junk.lz4": BENIGN + b"junk after the frame",
    }
    for name, data in damaged.items():
        assert "ARCHIVE-CORRUPT" in blocking(scan_bytes(tmp_path, name, data)), name
    found = blocking(scan_bytes(tmp_path, "evil-junk.lz4", MALICIOUS + b"junk"))
    assert {"ARCHIVE-CORRUPT", "PICKLE-GLOBAL-DANGEROUS"} <= found


def test_lz4_bomb_is_bounded(tmp_path: Path) -> None:
    """The member-size cap the other compressed containers use stops an LZ4 bomb."""
    path = tmp_path / "bomb.lz4"
    path.write_bytes(lz4.frame.compress(bytes(64 << 20)))
    result = scan_path(path, limits=Limits(max_member_bytes=8 << 20))
    assert "ARCHIVE-LIMIT" in blocking(result), result.findings


def _gzip_member_of(size: int) -> bytes:
    """A gzip member of exactly ``size`` bytes holding a benign pickle (stored blocks make
    the size exact to the byte)."""
    for n in range(size - 200, size):
        member = gzip.compress(pickle.dumps("x" * n, protocol=2), compresslevel=0, mtime=0)
        if len(member) == size:
            return member
    raise AssertionError(f"no member of {size} bytes")


def test_a_stream_that_ends_on_a_chunk_boundary_is_followed(tmp_path: Path) -> None:
    """gzip.open reads member after member: a first member that ends exactly where the
    reader's 64 KiB input chunk does must not end the reading."""
    data = _gzip_member_of(1 << 16) + gzip.compress(evil())
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "m.gz", data))
