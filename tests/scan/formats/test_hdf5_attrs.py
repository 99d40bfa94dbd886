"""HDF5 root attributes, dense storage included, read as the HDF5 library reads them.

The oracle is h5py in a subprocess (``tests/fixtures/hdf5/make_hdf5.py oracle``): it writes
files whose attributes sit in every storage the library uses and lists every attribute it
reads back; the reader must list the same names with the same string values.  Then: what
Keras would judge is found in dense storage, and every damaged structure fails closed.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import random
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py  # type: ignore[import-untyped]
import numpy as np
import pytest

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.formats.hdf5_attrs import (
    SIGNATURE,
    Attribute,
    Hdf5Error,
    find_superblock,
    lookup3,
    root_attributes,
)

from .helpers import blocking, rules, scan_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hdf5"
SCRIPT = FIXTURES / "make_hdf5.py"
COMMITTED = sorted(p.name for p in FIXTURES.glob("*.h5"))
LARGE = ["dense_indirect.h5", "dense_deep_btree.h5"]
RANDOM = [f"random_{i:02d}.h5" for i in range(24)]  # make_hdf5.random_case, seeded
WHEEL_FILES = (
    Path(os.environ.get("SAFE_PIP_TEST_WHEELS", "~/.cache/safe-pip-test-wheels")).expanduser()
    / "real"
)
"""Where scripts/fetch_test_wheels.py keeps the pinned real wheels (h5py's among them)."""

Listing = dict[str, "list[str] | None"]


def _listing(attrs: list[Attribute]) -> Listing:
    """The reader's attributes in the oracle's form (name -> hex values, None: not a string)."""
    out: Listing = {}
    for a in attrs:
        assert a.name.decode() not in out, f"{a.name!r} listed twice"
        out[a.name.decode()] = [v.hex() for v in a.values] if a.is_string else None
    return out


def _read(data: bytes) -> list[Attribute]:
    return root_attributes(Blob(data))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Listing]:
    """What h5py reads from every case, freshly written, and from the committed files."""
    out = tmp_path_factory.mktemp("hdf5")
    committed = [str(FIXTURES / n) for n in COMMITTED]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "oracle", str(out), *committed],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    listed: dict[str, Listing] = json.loads(proc.stdout)
    return listed


def test_the_committed_files_are_the_script_cases() -> None:
    assert COMMITTED == [
        "compact_v0.h5",
        "dense_after_delete.h5",
        "dense_four_byte.h5",
        "dense_latest.h5",
        "dense_mixed.h5",
        "dense_small_offsets.h5",
        "dense_track_order.h5",
        "keras_dense_huge_lambda.h5",
        "keras_dense_lambda.h5",
    ]


@pytest.mark.parametrize("name", COMMITTED + LARGE + RANDOM)
def test_reader_lists_what_h5py_reads(oracle: dict[str, Listing], name: str) -> None:
    """Same names, same string values, same non-string attributes, for fresh and committed."""
    paths = [p for p in oracle if Path(p).name == name]
    assert len(paths) == (2 if name in COMMITTED else 1)
    for path in paths:
        expected = oracle[path]
        assert expected or name in RANDOM, f"h5py read no attribute from {path}"
        assert _listing(_read(Path(path).read_bytes())) == expected, path


def _btrees(data: bytes) -> list[tuple[int, int]]:
    """(record type, depth) of every v2 B-tree header in the file."""
    out, at = [], data.find(b"BTHD")
    while at >= 0:
        out.append((data[at + 5], struct.unpack_from("<H", data, at + 12)[0]))
        at = data.find(b"BTHD", at + 1)
    return out


def test_cases_exercise_the_structures_they_name(oracle: dict[str, Listing]) -> None:
    """Each case holds the structure it exists for, so the differential test covers it."""
    files = {Path(p).name: Path(p).read_bytes() for p in oracle if Path(p).parent != FIXTURES}
    assert b"FRHP" not in files["compact_v0.h5"]
    for name in COMMITTED + LARGE:
        if name != "compact_v0.h5":
            assert b"FRHP" in files[name], name  # dense storage: a fractal heap
    dense = [n for n in RANDOM if b"FRHP" in files[n]]
    assert 6 <= len(dense) <= len(RANDOM) - 6  # the random cases are of both kinds
    assert any(b"FHIB" in files[n] for n in dense)
    assert b"FHIB" not in files["dense_mixed.h5"]  # a root direct block only
    assert files["dense_latest.h5"].count(b"FHIB") == 1  # a root indirect block
    assert files["dense_indirect.h5"].count(b"FHIB") >= 2  # indirect blocks in indirect blocks
    assert (8, 2) in _btrees(files["dense_deep_btree.h5"])  # name index, two levels
    assert {t for t, _ in _btrees(files["dense_track_order.h5"])} == {8, 9}  # name and order
    # huge objects: found by key in a B-tree of type 1, or by the address in the ID (type 3)
    assert {t for t, _ in _btrees(files["dense_mixed.h5"])} == {1, 8}
    assert {t for t, _ in _btrees(files["dense_small_offsets.h5"])} == {3, 8}


@pytest.mark.skipif(not list(WHEEL_FILES.glob("h5py-*.whl")), reason="no h5py wheel fetched")
def test_h5py_wheel_data_files_match_h5py(tmp_path: Path) -> None:
    """h5py's own test files (an enum attribute among them) read as h5py reads them."""
    wheel = sorted(WHEEL_FILES.glob("h5py-*.whl"))[-1]
    paths = []
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if member.endswith(".h5"):
                paths.append(tmp_path / Path(member).name)
                paths[-1].write_bytes(z.read(member))
    assert paths
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "read", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    listed: dict[str, Listing] = json.loads(proc.stdout)
    for path in paths:
        assert _listing(_read(path.read_bytes())) == listed[str(path)], path


# -- what Keras would judge ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["keras_dense_lambda.h5", "keras_dense_huge_lambda.h5"])
def test_lambda_in_dense_storage_blocks(tmp_path: Path, name: str) -> None:
    res = scan_bytes(tmp_path, "m.h5", (FIXTURES / name).read_bytes())
    assert "KERAS-LAMBDA" in blocking(res), res.findings
    assert "KERAS-CONFIG-UNREADABLE" not in rules(res)


def test_dense_file_without_config_is_not_blocked(tmp_path: Path) -> None:
    """Numbers, enums, arrays and a huge string: read, and nothing to block."""
    res = scan_bytes(tmp_path, "m.h5", (FIXTURES / "dense_mixed.h5").read_bytes())
    assert blocking(res) == set(), res.findings
    assert "HDF5-NOT-INSPECTED" in rules(res)


def _h5(attrs: dict[str, object], **options: object) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w", **options) as f:
        for name, value in attrs.items():
            f.attrs[name] = value
    return buf.getvalue()


def test_config_that_is_not_a_string_fails_closed(tmp_path: Path) -> None:
    attrs: dict[str, object] = {f"a{i}": "v" for i in range(12)}
    attrs["model_config"] = np.frombuffer(b'{"class_name": "Lambda"}', dtype=np.uint8)
    data = _h5(attrs, libver="latest")
    assert [a.is_string for a in _read(data) if a.name == b"model_config"] == [False]
    assert "KERAS-CONFIG-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.h5", data))


def _frhp(data: bytes) -> int:
    at = data.find(b"FRHP")
    assert at > 0
    return at


def _rechecksum(data: bytearray, start: int, end: int) -> None:
    """Store the lookup3 checksum of ``[start, end)`` at ``end``, as the library writes it."""
    struct.pack_into("<I", data, end, lookup3(bytes(data[start:end])))


def _root_direct_block(data: bytearray) -> tuple[int, int]:
    """(address, size) of the root direct block of the only heap (8-byte sizes, no filters)."""
    start_block = struct.unpack_from("<Q", data, _frhp(bytes(data)) + 112)[0]
    at = bytes(data).find(b"FHDB")
    assert at > 0
    return at, int(start_block)


def _rechecksum_direct_block(data: bytearray) -> None:
    block, size = _root_direct_block(data)
    field = block + 5 + 8 + 5  # signature+version, heap address, 5-byte block offset
    data[field : field + 4] = b"\0\0\0\0"
    struct.pack_into("<I", data, field, lookup3(bytes(data[block : block + size])))


def test_duplicate_name_cannot_hide_the_config(tmp_path: Path) -> None:
    """Two records whose heap objects both say ``model_config``: the library's lookup by
    name hash finds one, the reader lists both, and the Lambda is judged either way."""
    attrs: dict[str, object] = {f"a{i}": "v" for i in range(12)}
    attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
    attrs["model_confiX"] = json.dumps({"class_name": "Lambda", "config": {"function": "x"}})
    data = bytearray(_h5(attrs, libver="latest"))
    at = bytes(data).find(b"model_confiX")
    data[at : at + 12] = b"model_config"
    _rechecksum_direct_block(data)
    names = [a.name for a in _read(bytes(data))]
    assert names.count(b"model_config") == 2
    assert "KERAS-LAMBDA" in blocking(scan_bytes(tmp_path, "m.h5", bytes(data)))


# -- fail closed ------------------------------------------------------------------------


def test_lookup3_matches_the_reference_vectors() -> None:
    """Bob Jenkins' published values for hashlittle (HDF5's metadata checksum)."""
    assert lookup3(b"") == 0xDEADBEEF
    assert lookup3(b"Four score and seven years ago") == 0x17770551
    assert lookup3(b"Four score and seven years ago", 1) == 0xCD628161


def _dense() -> bytearray:
    return bytearray((FIXTURES / "keras_dense_lambda.h5").read_bytes())


def _flip(data: bytearray, at: int) -> bytes:
    data[at] ^= 0x40
    return bytes(data)


@pytest.mark.parametrize(
    ("what", "damage"),
    [
        ("heap header", lambda d: _flip(d, _frhp(bytes(d)) + 20)),
        ("B-tree header", lambda d: _flip(d, bytes(d).find(b"BTHD") + 8)),
        ("B-tree leaf", lambda d: _flip(d, bytes(d).find(b"BTLF") + 7)),
        ("direct block data", lambda d: _flip(d, _root_direct_block(d)[0] + 100)),
        ("direct block signature", lambda d: _flip(d, _root_direct_block(d)[0])),
        ("truncated heap", lambda d: bytes(d[: _root_direct_block(d)[0] + 200])),
    ],
)
def test_damaged_dense_storage_fails_closed(
    tmp_path: Path, what: str, damage: Callable[[bytearray], bytes]
) -> None:
    data = damage(_dense())
    with pytest.raises(Hdf5Error):
        _read(data)
    assert "KERAS-CONFIG-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.h5", data)), what


def _patched_header(offset: int, value: bytes) -> bytes:
    """keras_dense_lambda.h5 with a heap header field changed and its checksum made good."""
    data = _dense()
    heap = _frhp(bytes(data))
    data[heap + offset : heap + offset + len(value)] = value
    end = heap + 110 + 2 + 8 + 8 + 2 + 2 + 8 + 2  # through the current root rows (8/8 sizes)
    _rechecksum(data, heap, end)
    return bytes(data)


@pytest.mark.parametrize(
    ("field", "offset", "value", "message"),
    [
        ("I/O filters", 7, b"\x10\x00", "filters"),
        ("heap ID length", 5, b"\x10\x00", "heap IDs"),
        ("table width", 110, b"\x03\x00", "power of two"),
        ("root rows", 110 + 2 + 8 + 8 + 2 + 2 + 8, b"\xff\x00", "rows"),
    ],
)
def test_unsupported_heap_parameters_fail_closed(
    field: str, offset: int, value: bytes, message: str
) -> None:
    with pytest.raises(Hdf5Error, match=message):
        _read(_patched_header(offset, value))


def test_btree_node_reached_twice_fails_closed() -> None:
    """An internal node whose child pointer points back at itself: no loop, an error."""
    attrs: dict[str, object] = {f"attribute {i}": "v" for i in range(60)}
    data = bytearray(_h5(attrs, libver="latest"))
    node = bytes(data).find(b"BTIN")
    header = bytes(data).find(b"BTHD")
    assert node > 0 and header > 0
    nrec = struct.unpack_from("<H", data, header + 16 + 8)[0]
    pointers = node + 6 + nrec * 17
    struct.pack_into("<Q", data, pointers, node)
    count = 1  # records per child: 1 byte for a leaf of at most 29 17-byte records
    _rechecksum(data, node, pointers + (nrec + 1) * (8 + count))
    with pytest.raises(Hdf5Error, match="twice"):
        _read(bytes(data))


def test_random_damage_never_escapes_as_another_error() -> None:
    """Flipped bytes and truncations anywhere: a list of attributes or Hdf5Error, nothing else.

    Bounded: 600 damaged files from the dense fixtures, seeded.
    """
    rng = random.Random(11)
    originals = [(FIXTURES / n).read_bytes() for n in COMMITTED if n.startswith(("dense", "k"))]
    outcomes = {"read": 0, "refused": 0}
    for i in range(600):
        data = bytearray(rng.choice(originals))
        heap = data.find(b"FRHP")
        if i % 5 == 0:
            data = data[: rng.randrange(heap, len(data))]
        else:
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(0, len(data))] ^= 1 << rng.randrange(8)
        try:
            _read(bytes(data))
            outcomes["read"] += 1
        except Hdf5Error:
            outcomes["refused"] += 1
    assert outcomes["read"] and outcomes["refused"], outcomes


def _probe_reference(data: bytes) -> int | None:
    """The library's search, spelled out: the signature at 0, 512, 1024, 2048, ..."""
    off = 0
    while off + 8 <= len(data):
        if data[off : off + 8] == SIGNATURE:
            return off
        off = 512 if off == 0 else off * 2
    return None


@pytest.mark.parametrize(
    ("at", "size", "found"),
    [
        (0, 8, 0),
        (0, 4096, 0),
        (512, 4096, 512),
        (2048, 2056, 2048),  # ends exactly with the signature
        (2048, 2055, None),  # one byte short: not a superblock
        (513, 4096, None),  # off the probe grid: h5py does not find it either
        (511, 4096, None),
        (1020, 4096, None),  # straddles a probe offset
        (65536, 70000, 65536),
        (None, 70000, None),
    ],
)
def test_find_superblock_probes_where_the_library_does(
    at: int | None, size: int, found: int | None
) -> None:
    """Offsets are the blob's own, in bytes and in a memory map, inside a larger buffer whose
    signatures just outside the window must not count."""
    data = bytearray(size)
    if at is not None:
        data[at : at + 8] = SIGNATURE[: size - at]
        del data[size:]
    assert _probe_reference(bytes(data)) == found
    pad = SIGNATURE * 64 + b"\x00\x00\x00"
    around = pad + bytes(data) + SIGNATURE * 64
    inner = Blob(around, len(pad), len(pad) + size)
    assert inner.read(0, size) == bytes(data)
    assert find_superblock(Blob(bytes(data))) == found
    assert find_superblock(inner) == found
    with tempfile.TemporaryFile() as fh:
        fh.write(around)
        fh.flush()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            assert find_superblock(Blob(mm, len(pad), len(pad) + size)) == found


def test_find_superblock_matches_the_reference_on_random_blobs() -> None:
    rnd = random.Random(5)
    for _ in range(2000):
        size = rnd.choice([0, 7, 8, 9, 511, 520, 1032, 5000, 20000])
        data = bytearray(rnd.randbytes(size))
        for _ in range(rnd.randint(0, 3)):
            at = rnd.choice([0, 512, 1024, 4096, 16384, rnd.randrange(size + 1)])
            data[at : at + 8] = SIGNATURE[: max(0, size - at)]
        data = data[:size]
        lead = rnd.choice([b"", SIGNATURE, b"\x89HDF"])
        blob = Blob(lead + bytes(data) + SIGNATURE, len(lead), len(lead) + size)
        assert find_superblock(blob) == _probe_reference(bytes(data))
