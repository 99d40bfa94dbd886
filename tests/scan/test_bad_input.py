"""Hostile and broken input: a verdict every time, never a crash, a hang or a memory blow-up.

Why: an attacker controls every byte the scanner reads. A scanner that crashes (exit 2), hangs
or runs out of memory on a crafted file is a denial of service at best, and at worst pushes
people to ``--no-scan``. Each case here is built in the test from raw bytes or opcodes, handed
to a ``safe-pip scan`` subprocess, and must end with exit 0 or 1 (1 where the contract says
"blocking finding", e.g. a truncated archive), a JSON report, and a peak RSS under
``PEAK_RSS_LIMIT_MIB``. Nothing here is ever unpickled.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from .scan_harness import EXIT_BLOCKED, FIXTURES, ScanRun, assert_valid_report, run_scan

pytestmark = pytest.mark.slow

PEAK_RSS_LIMIT_MIB = 300
TEN_GIB = 10 * 2**30

#: A pickle that would call ``posix.system("true")`` if loaded (it never is).
EVIL_PICKLE = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
#: A pickle of ``{"a": 1}``.
BENIGN_PICKLE = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."
#: What ``torch.save`` writes first in the legacy format: the pickled magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."


def check(run: ScanRun, *, expect: int | None = None) -> None:
    """A valid report, exit 0/1 (or exactly ``expect``), and peak RSS under the limit."""
    assert_valid_report(run)
    if expect is not None:
        assert run.returncode == expect, run.describe()
        if expect == EXIT_BLOCKED:
            assert run.findings(), "blocked without a finding\n" + run.describe()
    peak_mib = run.peak_rss_kib / 1024
    assert peak_mib < PEAK_RSS_LIMIT_MIB, f"peak RSS {peak_mib:.0f} MiB\n{run.describe()}"


# --- builders -------------------------------------------------------------------------------


def zip_with_lying_size(*, method: int, claimed: int, payload: bytes, name: str) -> bytes:
    """A one-member zip64 archive whose headers claim ``claimed`` bytes uncompressed.

    Written by hand because :mod:`zipfile` will not write a size it did not see. With
    ``ZIP_STORED`` the compressed size claims the same, far past the end of the file; with
    ``ZIP_DEFLATED`` the compressed size is true and only the uncompressed size lies. A reader
    that trusts the header and pre-allocates (or reads until it has ``claimed`` bytes) dies.
    """
    data = zlib.compress(payload, 9)[2:-4] if method == zipfile.ZIP_DEFLATED else payload
    csize = claimed if method == zipfile.ZIP_STORED else len(data)
    crc = zlib.crc32(payload)
    fname = name.encode()
    zip64_extra = struct.pack("<HHQQ", 0x0001, 16, claimed, csize)
    local = (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc,
            0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(zip64_extra),
        )
        + fname + zip64_extra + data
    )  # fmt: skip
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, crc,
            0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(zip64_extra), 0, 0, 0, 0, 0,
        )
        + fname + zip64_extra
    )  # fmt: skip
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + eocd


def nested_zip(levels: int, innermost: bytes) -> bytes:
    """``levels`` zips each holding the next as its only member; the last holds a pickle."""
    data = innermost
    name = "archive/data.pkl"
    for level in range(levels):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(name, data)
        data = buf.getvalue()
        name = f"inner{level + 1}.zip"
    return data


def pickle_many_ints(n: int = 1_000_000) -> bytes:
    """``[1, 1, ...]``: PROTO, EMPTY_LIST, MARK, n x BININT1, APPENDS, STOP (~n opcodes)."""
    return b"\x80\x02](" + b"K\x01" * n + b"e."


def pickle_deep_lists(depth: int = 500_000) -> bytes:
    """``depth`` nested lists: EMPTY_LIST x depth then APPEND x (depth-1) (~2*depth opcodes).

    ``pickle.loads`` accepts this (its VM does not recurse), so a scanner that walks the
    result recursively overflows where the loader would not.
    """
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def pickle_memo_flood(n: int = 333_334) -> bytes:
    """Protocol 4, n x (BININT1, MEMOIZE, POP): n memo entries, ~3n opcodes, tiny stack."""
    return b"\x80\x04" + b"K\x01\x940" * n + b"N."


def pickle_global_flood(n: int = 500_000) -> bytes:
    """n x (GLOBAL collections.OrderedDict, POP): an allowlisted import, again and again."""
    return b"\x80\x02" + b"ccollections\nOrderedDict\n0" * n + b"N."


def pickle_distinct_unknown_globals(n: int = 200_000) -> bytes:
    """n x (GLOBAL modI.nameI, POP): n different non-allowlisted imports, one finding each.

    Blocking is right; holding n findings (and printing them all) is the memory question.
    """
    return b"\x80\x02" + b"".join(b"cmod%d\nname%d\n0" % (i, i) for i in range(n)) + b"N."


def pickle_memo_strings(n: int = 4_000_000) -> bytes:
    """Protocol 4, n x (SHORT_BINUNICODE "a", MEMOIZE, POP): n memo entries under the limit."""
    return b"\x80\x04" + b"\x8c\x01a\x940" * n + b"N."


def pickle_mark_flood(n: int = 1_000_000) -> bytes:
    """n x MARK then STOP: an unbalanced stream a loader rejects; must not hang a scanner."""
    return b"\x80\x02" + b"(" * n + b"."


def random_bytes(seed: int, size: int = 1 << 20, prefix: bytes = b"") -> bytes:
    """Deterministic noise, optionally behind a real magic number so sniffing picks a parser."""
    return prefix + random.Random(seed).randbytes(size - len(prefix))


# --- cases ----------------------------------------------------------------------------------

#: name -> (builder, required exit code or None for "0 or 1").
Builder = Callable[[], bytes]
STATE_DICT_ZIP = FIXTURES / "torch" / "state_dict.pt"
STATE_DICT_LEGACY = FIXTURES / "torch" / "state_dict_legacy.pt"


def _cut(path: Path, keep: Callable[[int], int]) -> Builder:
    def build() -> bytes:
        data = path.read_bytes()
        return data[: keep(len(data))]

    return build


CASES: dict[str, tuple[Builder, int | None]] = {
    "empty_file": (lambda: b"", None),
    "one_byte_pickle_proto": (lambda: b"\x80", None),
    # A container that cannot be opened is a blocking finding (the contract).
    "truncated_zip_half": (_cut(STATE_DICT_ZIP, lambda n: n // 2), EXIT_BLOCKED),
    "truncated_zip_no_eocd": (_cut(STATE_DICT_ZIP, lambda n: n - 22), EXIT_BLOCKED),
    "truncated_zip_mid_central_dir": (_cut(STATE_DICT_ZIP, lambda n: n - 100), EXIT_BLOCKED),
    "truncated_legacy_checkpoint": (_cut(STATE_DICT_LEGACY, lambda n: n // 3), EXIT_BLOCKED),
    "random_bytes_0": (lambda: random_bytes(0), None),
    "random_bytes_1": (lambda: random_bytes(1), None),
    "random_after_pickle_proto": (lambda: random_bytes(2, prefix=b"\x80\x02"), None),
    "random_after_zip_magic": (lambda: random_bytes(3, prefix=b"PK\x03\x04"), None),
    "random_after_gzip_magic": (lambda: random_bytes(4, prefix=b"\x1f\x8b\x08\x00"), None),
    # Legacy torch magic, then bytes that are not the protocol/sys-info/object pickles that
    # must follow: an unparseable model artifact, which the contract makes a finding.
    "random_after_torch_legacy_magic": (
        lambda: random_bytes(5, prefix=TORCH_LEGACY_MAGIC),
        EXIT_BLOCKED,
    ),
    "torch_legacy_magic_garbage_then_payload": (
        lambda: TORCH_LEGACY_MAGIC + b"\xff\xfe" + EVIL_PICKLE,
        EXIT_BLOCKED,
    ),
    "zip_stored_claims_10gib": (
        lambda: zip_with_lying_size(
            method=zipfile.ZIP_STORED,
            claimed=TEN_GIB,
            payload=BENIGN_PICKLE * 100,
            name="archive/data.pkl",
        ),
        None,
    ),
    "zip_deflated_claims_10gib": (
        lambda: zip_with_lying_size(
            method=zipfile.ZIP_DEFLATED,
            claimed=TEN_GIB,
            payload=bytes(1 << 20),
            name="archive/data.pkl",
        ),
        None,
    ),
    "nested_zip_30_levels_benign": (lambda: nested_zip(30, BENIGN_PICKLE), None),
    # Too deep to follow or followed to the end: either way the payload must not pass.
    "nested_zip_30_levels_payload": (lambda: nested_zip(30, EVIL_PICKLE), EXIT_BLOCKED),
    "pickle_1m_ints": (pickle_many_ints, None),
    "pickle_500k_nested_lists": (pickle_deep_lists, None),
    "pickle_1m_opcodes_memo_flood": (pickle_memo_flood, None),
    "pickle_1m_opcodes_global_flood": (pickle_global_flood, None),
    "pickle_1m_marks": (pickle_mark_flood, None),
    # Memory must not grow with the count of things seen: a 48 MB file, 2 million GLOBALs.
    "pickle_2m_global_flood": (lambda: pickle_global_flood(2_000_000), None),
    "pickle_200k_distinct_unknown_globals": (pickle_distinct_unknown_globals, EXIT_BLOCKED),
    "pickle_4m_memo_entries": (pickle_memo_strings, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, tmp_path: Path) -> None:
    """Exit 0/1 (or the exact code the contract requires), JSON out, bounded memory."""
    build, expect = CASES[name]
    target = tmp_path / f"{name}.bin"
    target.write_bytes(build())
    check(run_scan([target], timeout=180), expect=expect)


def test_honest_1gib_deflate_member(tmp_path: Path) -> None:
    """A 1 MiB zip that truly inflates to 1 GiB: streamed or refused, never held in memory."""
    target = tmp_path / "bomb.zip"
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("archive/data/0", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(chunk)
    assert target.stat().st_size < 2 << 20
    check(run_scan([target], timeout=300))


def test_zip_with_100k_members(tmp_path: Path) -> None:
    """A member-count bomb: 100,000 tiny members; a verdict without unbounded bookkeeping."""
    target = tmp_path / "many.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for i in range(100_000):
            zf.writestr(f"m/{i}.pkl", BENIGN_PICKLE)
    check(run_scan([target], timeout=300))


def test_pickle_with_one_300mib_bytes_value(tmp_path: Path) -> None:
    """One huge BINBYTES value (legit: a numpy array pickled inline): skipped over, not held."""
    size = 300 << 20
    target = tmp_path / "big_bytes.pkl"
    chunk = bytes(1 << 20)
    with target.open("wb") as f:
        f.write(b"\x80\x03B" + struct.pack("<I", size))
        for _ in range(size >> 20):
            f.write(chunk)
        f.write(b".")
    check(run_scan([target], timeout=300))


def test_payload_after_broken_stream_is_blocked(tmp_path: Path) -> None:
    """A payload followed by garbage: what was read before the break still blocks.

    The loader would run the payload before it ever reached the garbage, so a scanner that
    throws the whole stream away on a parse error would let it through.
    """
    target = tmp_path / "payload_then_garbage.pkl"
    target.write_bytes(EVIL_PICKLE[:-1] + random_bytes(6, size=4096))
    check(run_scan([target]), expect=EXIT_BLOCKED)
