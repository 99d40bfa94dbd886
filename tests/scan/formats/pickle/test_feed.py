"""Where the feed ends a chunk: before the first FRAME header ``Feed._frame_at`` accepts.

``_chunk_end`` finds candidates with a pattern (a ``0x95`` byte and three zero bytes
where a length below 2**40 has them) instead of asking ``_frame_at`` at every ``0x95``
byte; the answer must be the same for every buffer, including headers that straddle a
chunk's end, run past the data, or hide among ``0x95`` bytes of data.  The reference
below is the byte-by-byte search it replaced.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_pip.scan.formats.pickle import bounds, engine
from safe_pip.scan.formats.pickle.standins import Trace

FUZZ = settings(
    max_examples=int(os.environ.get("SAFE_PIP_FUZZ_EXAMPLES", "300")),
    deadline=3000,
    suppress_health_check=[HealthCheck.too_slow],
)


def feed(buf: object, start: int, end: int) -> engine.Feed:
    return engine.Feed(
        buf,
        start,
        end,
        Trace(),
        deadline=time.monotonic() + 60,
        memory=bounds.Budget(end - start),
    )


def reference_end(f: engine.Feed, pos: int, chunk: int) -> int:
    """The first ``0x95`` after ``pos`` and before the chunk's end that ``_frame_at``
    accepts, else the chunk's end."""
    limit = min(f.end, pos + chunk)
    at: int = f.buf.find(b"\x95", pos + 1, limit)
    while at >= 0 and not f._frame_at(at):
        at = f.buf.find(b"\x95", at + 1, limit)
    return limit if at < 0 else at


def header(length: int) -> bytes:
    return b"\x95" + struct.pack("<Q", length)


# Pieces that make near-misses likely: FRAME headers of every fate, 0x95 in data,
# runs of zero bytes (a header's high bytes), and filler.
PIECES = st.one_of(
    st.integers(0, 64).map(header),  # fits (or runs past a short buffer)
    st.integers(2**32, 2**40 - 1).map(header),  # too long for any buffer here
    st.integers(2**40, 2**64 - 1).map(header),  # high bytes set: never a frame
    st.just(b"\x95"),
    st.binary(min_size=1, max_size=3).map(lambda z: bytes(len(z))),
    st.binary(max_size=12),
    st.sampled_from([b"\x95\x95\x00\x00\x00\x00\x00\x00\x00\x00", b"\x95" * 9]),
)


@FUZZ
@given(
    parts=st.lists(PIECES, max_size=40),
    start=st.integers(0, 8),
    cut=st.integers(0, 8),
    chunk=st.sampled_from([1, 2, 7, 9, 10, 16, 33, engine.CHUNK]),
    data=st.data(),
)
def test_chunk_ends_where_the_byte_by_byte_search_ends(
    parts: list[bytes],
    start: int,
    cut: int,
    chunk: int,
    data: st.DataObject,
) -> None:
    buf = b"".join(parts)
    end = max(start, len(buf) - cut)
    if start >= len(buf):
        return
    f = feed(buf, start, end)
    positions = data.draw(st.lists(st.integers(start, max(start, end - 1)), max_size=6))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "CHUNK", chunk)
        for pos in sorted(set(positions)):
            f._next_sentinel = -1  # searched afresh, as for the feed's first chunk
            assert f._chunk_end(pos) == reference_end(f, pos, chunk), (buf, start, end, pos)


def test_a_header_straddling_the_chunk_end_stops_the_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The header starts one byte before the chunk's end and ends eight bytes after it."""
    monkeypatch.setattr(engine, "CHUNK", 16)
    buf = b"x" * 15 + header(4) + b"abcd" + b"y" * 20
    f = feed(buf, 0, len(buf))
    assert f._chunk_end(0) == 15


def test_a_header_whose_frame_runs_past_the_data_does_not_stop_the_chunk() -> None:
    buf = b"x" * 10 + header(100) + b"abcd"
    f = feed(buf, 0, len(buf))
    assert f._chunk_end(0) == len(buf)
    # the same frame fits when the data is long enough
    buf = b"x" * 10 + header(4) + b"abcd"
    assert feed(buf, 0, len(buf))._chunk_end(0) == 10


def test_the_search_stops_at_the_feeds_end_not_the_buffers() -> None:
    """A header that would fit in the buffer but not before ``end`` is not a frame."""
    buf = b"x" * 10 + header(4) + b"abcd"
    assert feed(buf, 0, len(buf) - 1)._chunk_end(0) == len(buf) - 1


def test_a_memory_mapped_buffer_is_searched_the_same_way(tmp_path: Path) -> None:
    buf = b"\x95" * 7 + b"z" * 30 + header(8) + b"12345678" + b"\x95\x00\x00"
    path = tmp_path / "m.bin"
    path.write_bytes(buf)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        f = feed(mm, 0, len(buf))
        found = (f._chunk_end(0), reference_end(f, 0, engine.CHUNK))
        del f  # its view of the map
    assert found == (37, 37)
