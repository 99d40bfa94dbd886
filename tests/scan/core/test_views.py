"""Every loader's view of a file, whatever the sniffer said first; bytes no loader reads.

A file can be valid safetensors, GGUF, npy or zip *and* something else to another loader:
a pickle whose first opcode swallows the header, a zip whose central directory sits at the
end of a pickle, a payload after the bytes the format describes.  Each case is built from
raw bytes and must be blocked; the clean controls must stay clean.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Mapping
from pathlib import Path

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import PickleRead, plausible
from safe_pip.scan.formats.pickle_reader import may_load
from tests.scan.formats.helpers import blocking, rules, scan_bytes, zip_bytes
from tests.scan.pickles import evil

PAYLOAD = evil()


def safetensors(header: Mapping[str, object], data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_bytes_after_a_safetensors_payload_without_tensors(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "m.safetensors", safetensors({"__metadata__": {}}) + PAYLOAD)
    assert {"DATA-UNACCOUNTED", "PICKLE-GLOBAL-DANGEROUS"} <= blocking(result)


def test_bytes_after_the_last_tensor(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    result = scan_bytes(tmp_path, "m.safetensors", safetensors(header, bytes(8)) + PAYLOAD)
    assert {"DATA-UNACCOUNTED", "PICKLE-GLOBAL-DANGEROUS"} <= blocking(result)


def test_exact_safetensors_and_zero_padding_are_clean(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    assert not blocking(scan_bytes(tmp_path, "a.safetensors", safetensors(header, bytes(8))))
    padded = safetensors({"__metadata__": {}}) + bytes(16)
    assert not blocking(scan_bytes(tmp_path, "b.safetensors", padded))


def test_gguf_that_is_also_a_pickle(tmp_path: Path) -> None:
    """'G' is BINFLOAT: it swallows the rest of the GGUF magic and the version, and the
    opcodes after it run when the same file is handed to pickle.load."""
    polyglot = b"GGUF" + struct.pack("<I", 3) + b"\x00" + PAYLOAD
    result = scan_bytes(tmp_path, "model.gguf", polyglot)
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result)


def test_zip_whose_directory_ends_a_pickle(tmp_path: Path) -> None:
    """A benign pickle followed by a zip: zip readers find the directory at the end."""
    benign = b"\x80\x02}q\x00."
    archive = zip_bytes({"archive/data.pkl": PAYLOAD})
    result = scan_bytes(tmp_path, "m.pkl", benign + archive)
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result)


def test_bytes_between_zip_members(tmp_path: Path) -> None:
    archive = zip_bytes({"a.txt": b"hello", "b.txt": b"world"})
    second = archive.find(b"PK\x03\x04", 4)
    directory_delta = len(PAYLOAD)
    spliced = bytearray(archive[:second] + PAYLOAD + archive[second:])
    # shift the central directory's offsets of the second member and of the directory
    cd = spliced.find(b"PK\x01\x02")
    cd2 = spliced.find(b"PK\x01\x02", cd + 4)
    (off,) = struct.unpack_from("<I", spliced, cd2 + 42)
    struct.pack_into("<I", spliced, cd2 + 42, off + directory_delta)
    eocd = spliced.rfind(b"PK\x05\x06")
    (cd_off,) = struct.unpack_from("<I", spliced, eocd + 16)
    struct.pack_into("<I", spliced, eocd + 16, cd_off + directory_delta)
    result = scan_bytes(tmp_path, "x.zip", bytes(spliced))
    assert {"DATA-UNACCOUNTED", "PICKLE-GLOBAL-DANGEROUS"} <= blocking(result)
    assert "DATA-UNACCOUNTED" not in rules(scan_bytes(tmp_path, "y.zip", archive))


def test_headerless_pickle_with_any_first_opcode(tmp_path: Path) -> None:
    """pickle.load needs no protocol header: any opcode may come first."""
    data = b"\x8c\x04true\x8c\x04truecposix\nsystem\n."
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "data.bin", data))


def test_inst_resolves_before_the_mark_check(tmp_path: Path) -> None:
    """The pure-Python unpickler (joblib's) imports INST's class before it looks for the
    MARK the C one checks first: the import happens, so it is reported."""
    data = b"iposix\nsystem\n"
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "data.bin", data))


def npy(descr: str, payload: bytes, shape: str = "(1,)") -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def test_numpy_object_words(tmp_path: Path) -> None:
    for i, descr in enumerate(["object", "O", "|O", "O8", "(2,)O", "i4,O", "object_"]):
        result = scan_bytes(tmp_path, f"a{i}.npy", npy(descr, PAYLOAD))
        assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result), descr


def test_numpy_numbers_and_what_follows_them(tmp_path: Path) -> None:
    clean = npy("<f8", bytes(8))
    assert not blocking(scan_bytes(tmp_path, "a.npy", clean))
    result = scan_bytes(tmp_path, "b.npy", clean + PAYLOAD)
    assert {"DATA-UNACCOUNTED", "PICKLE-GLOBAL-DANGEROUS"} <= blocking(result)


def test_numpy_numbers_that_are_a_pickle_are_read_as_one(tmp_path: Path) -> None:
    """Raw numbers are tried as a pickle: the bytes of a ``uint8`` array that load and call
    ``os.system`` are reported (a protocol 2+ stream and a header-less protocol 0 one)."""
    for data in (PAYLOAD, b"cos\nsystem\n(S'echo hi'\ntR."):
        result = scan_bytes(tmp_path, "n.npy", npy("|u1", data, f"({len(data)},)"))
        assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result), data[:20]


def test_numpy_numbers_skipped_as_a_pickle_could_not_be_one() -> None:
    """``read_npy`` loads raw numbers as a pickle only where ``may_load`` says their first
    byte lets a load import something. Against the real unpicklers (the engine, run the
    way it ran before the check): every first byte the check skips, followed by many
    tails (payloads that import and call ``os.system``, random bytes), reads as nothing
    plausible."""
    rng = random.Random(7)
    tails = [PAYLOAD, b"cos\nsystem\n(S'echo hi'\ntR.", b"ios\nsystem\n", b""]
    tails += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) for _ in range(40)]
    skipped = 0
    for first in range(256):
        for tail in tails:
            data = bytes([first]) + tail
            if may_load(Blob(data)):
                continue
            skipped += 1
            read = PickleRead(ScanContext(), Blob(data), "n.npy")
            read.load(0)
            assert not plausible(read), data[:40]
    assert skipped > 100 * len(tails)  # most first bytes are no opcode at all


def test_a_harmless_first_stream_does_not_end_the_probe(tmp_path: Path) -> None:
    """Header-less data whose first stream does nothing: a loader that loads again reads
    the second, which imports (found by the differential fuzzer)."""
    data = b"\x8c\x02os." + b"\x95\x0b" + bytes(7) + b"ios\nsystem\n."
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "raw.pkl", data))


def test_a_stream_only_the_python_unpickler_completes(tmp_path: Path) -> None:
    """A FRAME announcing more bytes than follow: the C unpickler stops (truncated), the
    pure-Python one reads the short frame to its STOP and imports ``h`` (joblib's loader)."""
    data = b"cnumpy\ndtype\n\x95(.\x80\x04ctorch\nFloatStorage\n."
    result = scan_bytes(tmp_path, "raw.pkl", data)
    names = {(f.detail.get("module"), f.detail.get("name")) for f in result.findings}
    assert ("h", "FloatStorage") in names
    assert blocking(result)


def test_a_zip_inside_another_format_owns_only_its_own_span(tmp_path: Path) -> None:
    """An .xls (OLE) file holds an OOXML theme zip in its middle (statsmodels ships such
    test data): the zip is read, but the bytes after its end record are the outer
    format's, not unaccounted."""
    inner = zip_bytes({"theme/theme1.xml": b"<theme/>"})
    clean = b"\xd0\xcf\x11\xe0" + bytes(range(256)) * 4 + inner + b"\x01\x02" * 600
    assert "DATA-UNACCOUNTED" not in rules(scan_bytes(tmp_path, "a.xls", clean))
    evil_inner = zip_bytes({"theme/x.pkl": PAYLOAD})
    hidden = b"\xd0\xcf\x11\xe0" + bytes(range(256)) * 4 + evil_inner + b"\x01\x02" * 600
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "b.xls", hidden))


LEGACY_HEAD = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.\x80\x02}q\x00."
"""A legacy torch file's magic number, protocol and sys_info pickles."""


def test_streams_after_a_legacy_torch_files_five_pickles(tmp_path: Path) -> None:
    """torch reads storage bytes after the storage keys, but pickle.load called again on
    the same file reads them as a next stream (found by the differential fuzzer)."""
    data = LEGACY_HEAD + b"\x80\x02}." + b"\x80\x02]q\x00." + PAYLOAD
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "legacy.pt", data))
