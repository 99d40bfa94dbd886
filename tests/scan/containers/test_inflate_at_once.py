"""The one-call inflate of small zip members gives exactly what the piece-by-piece loop gives.

``inflate_at_once`` is a shortcut for most wheel members; it must return the same bytes and
charge the same bytes when it answers, and stand back (None) whenever the loop would report
anything or stop early, so the loop says what happened. Each case runs both on a fresh
context and compares the results.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safe_pip.scan.containers.compressed import WHOLE_MAX, inflate, inflate_at_once
from safe_pip.scan.core.blob import SPILL_AT, Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits


def _deflate() -> Any:
    return zlib.decompressobj(-15)


def _raw(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _both(raw: bytes, limits: Limits | None = None) -> tuple[Any, ScanContext, Any, ScanContext]:
    fast_ctx, slow_ctx = ScanContext(limits), ScanContext(limits)
    fast = inflate_at_once(fast_ctx, Blob(raw), "m", _deflate)
    slow = inflate(slow_ctx, Blob(raw), "m", _deflate, kind="deflate")
    return fast, fast_ctx, slow, slow_ctx


def _bytes(spool: Any) -> bytes:
    with spool.blob() as b:
        return bytes(b.read(0, b.size))


CLEAN: dict[str, Callable[[], bytes]] = {
    "empty": lambda: _raw(b""),
    "text": lambda: _raw(b"import os\n" * 3000),
    "random": lambda: _raw(os.urandom(300_000)),
    "many pieces": lambda: _raw(os.urandom(WHOLE_MAX - 4096), level=0),
    "trailing bytes after the stream": lambda: _raw(b"abc" * 1000) + b"junk after the end",
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_streams_give_the_same_bytes_and_charges(name: str) -> None:
    fast, fast_ctx, (slow, error), slow_ctx = _both(CLEAN[name]())
    assert error is None
    assert fast is not None, "a clean small stream is inflated at once"
    assert _bytes(fast) == _bytes(slow)
    assert fast_ctx.bytes_read == slow_ctx.bytes_read == slow.size
    assert not fast_ctx.findings and not slow_ctx.findings


@pytest.mark.parametrize(
    "raw",
    [
        _raw(b"x" * 100_000)[:-7],  # truncated: the loop reports it
        b"\xff" * 64,  # corrupt from the first byte
        _raw(b"y" * 5000)[:10] + b"\x00\xff\xff\xff" * 8,  # corrupt later
    ],
    ids=["truncated", "corrupt", "corrupt-later"],
)
def test_damaged_streams_are_left_to_the_loop(raw: bytes) -> None:
    fast, fast_ctx, (_, error), _ = _both(raw)
    assert error is not None
    assert fast is None
    assert fast_ctx.bytes_read == 0 and not fast_ctx.findings


def test_output_past_the_member_cap_is_left_to_the_loop() -> None:
    limits = Limits(max_member_bytes=10_000)
    fast, fast_ctx, _, slow_ctx = _both(_raw(b"z" * 20_000), limits)
    assert fast is None and fast_ctx.bytes_read == 0
    assert any(f.rule_id == "ARCHIVE-LIMIT" for f in slow_ctx.findings)


def test_output_that_would_spill_to_disk_is_left_to_the_loop() -> None:
    fast, _, (slow, error), _ = _both(_raw(b"\x00" * (SPILL_AT + 1)))
    assert fast is None
    assert error is None and slow.size == SPILL_AT + 1


def test_large_compressed_members_are_left_to_the_loop() -> None:
    raw = _raw(os.urandom(WHOLE_MAX + 1), level=0)
    assert inflate_at_once(ScanContext(), Blob(raw), "m", _deflate) is None


def test_a_valid_member_whose_tail_inflates_past_the_output_cap_is_read_whole(
    tmp_path: Path,
) -> None:
    """zlib keeps output back for input it has already taken when one call fills the cap;
    the loop used to stop there and call a valid member truncated (a false block)."""
    path = tmp_path / "zeros.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("b.bin", b"\x00" * (SPILL_AT + 1))
    result = scan_path(path)
    assert not result.findings, result.findings
