"""joblib files: raw array bytes inside the pickle stream, plain and compressed.

joblib writes each numpy array's bytes straight into the file after its
``NumpyArrayWrapper`` (padded for alignment), and object arrays as a nested
pickle. The VM must step over the raw bytes exactly as joblib's unpickler
reads them, and must read the nested pickles. Real dumps made by joblib are
the benign samples; ``joblib.dump`` of an object whose ``__reduce__`` names
``os.system`` makes the malicious ones (dumping runs nothing; nothing here is
ever loaded).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.scan.pickles import PROTO2, STOP, TUPLE1, evil, glob, ustr
from tests.scan.scan_harness import EXIT_BLOCKED, EXIT_CLEAN, run_scan

joblib = pytest.importorskip("joblib")
np = pytest.importorskip("numpy")

COMPRESSORS = [None, "zlib", "gzip", "bz2", "lzma", "xz"]


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/safe-pip-joblib-pwned",))


def _benign() -> dict[str, object]:
    return {
        "floats": np.arange(1000, dtype="<f4"),
        "matrix": np.zeros((30, 40), dtype=">i8"),
        "text": np.array(["a", "bcd"], dtype="U5"),
        "objects": np.array([1, "x", None], dtype=object),
        "record": np.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]),
        "nested": [np.ones(7), {"k": np.arange(3)}],
    }


def _dump(obj: object, path: Path, compress: str | None) -> Path:
    joblib.dump(obj, path, compress=compress) if compress else joblib.dump(obj, path)
    return path


@pytest.mark.parametrize("compress", COMPRESSORS)
def test_real_joblib_dumps_are_clean(tmp_path: Path, compress: str | None) -> None:
    run = run_scan([_dump(_benign(), tmp_path / "model.joblib", compress)])
    assert run.returncode == EXIT_CLEAN, run.describe()
    assert not run.findings(), run.describe()


@pytest.mark.parametrize("compress", COMPRESSORS)
@pytest.mark.parametrize("where", ["top-level", "object-array"])
def test_payload_in_joblib_is_found(tmp_path: Path, compress: str | None, where: str) -> None:
    payload = (
        {"w": np.arange(10), "model": _Evil()}
        if where == "top-level"
        else {"w": np.arange(10), "o": np.array([1, _Evil()], dtype=object)}
    )
    run = run_scan([_dump(payload, tmp_path / "model.joblib", compress)])
    assert run.returncode == EXIT_BLOCKED, run.describe()
    assert {f["rule_id"] for f in run.findings()} == {"PICKLE-GLOBAL-DANGEROUS"}, run.describe()


def test_payload_after_the_raw_array_bytes(tmp_path: Path) -> None:
    """The bytes after an array are opcodes again: a payload there is still seen."""
    path = _dump({"w": np.arange(64, dtype="<f8")}, tmp_path / "a.joblib", None)
    data = path.read_bytes()
    assert data.endswith(b".")
    evil = data[:-1] + b"0" + glob("os", "system") + ustr("true") + TUPLE1 + b"R."
    path.write_bytes(evil)
    run = run_scan([path])
    assert run.returncode == EXIT_BLOCKED, run.describe()
    assert "PICKLE-GLOBAL-DANGEROUS" in {f["rule_id"] for f in run.findings()}


def test_wrapper_that_cannot_be_sized_is_blocked(tmp_path: Path) -> None:
    data = (
        PROTO2
        + glob("joblib.numpy_pickle", "NumpyArrayWrapper")
        + b")\x81"
        + b"}"
        + ustr("shape")
        + ustr("not-a-shape")
        + b"s"
        + b"b"
        + STOP
    )
    path = tmp_path / "odd.joblib"
    path.write_bytes(data)
    run = run_scan([path])
    assert run.returncode == EXIT_BLOCKED, run.describe()
    assert "PICKLE-MALFORMED" in {f["rule_id"] for f in run.findings()}


# --- legacy multi-file format (joblib < 0.10): the pickle names side .npy files ----------


def _legacy_pickle(filename: str, module: str = "joblib.numpy_pickle") -> bytes:
    """What old joblib wrote: an NDArrayWrapper whose state names the side file."""
    state = (
        b"}"
        + ustr("filename")
        + ustr(filename)
        + b"s"
        + ustr("subclass")
        + glob("numpy", "ndarray")
        + b"s"
        + ustr("allow_mmap")
        + b"\x88s"
    )
    return PROTO2 + glob(module, "NDArrayWrapper") + b")\x81" + state + b"b" + STOP


def _npy(payload: bytes, descr: str) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}".encode()
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


@pytest.mark.parametrize(
    "module",
    ["joblib.numpy_pickle", "joblib.numpy_pickle_compat", "sklearn.externals.joblib.numpy_pickle"],
)
def test_legacy_multi_file_dump_is_clean(tmp_path: Path, module: str) -> None:
    (tmp_path / "model.pkl").write_bytes(_legacy_pickle("model.pkl_01.npy", module))
    (tmp_path / "model.pkl_01.npy").write_bytes(_npy(b"\0" * 8, "<f8"))
    run = run_scan([tmp_path])
    assert run.returncode == EXIT_CLEAN, run.describe()
    assert not run.findings(), run.describe()


def test_legacy_side_file_with_a_pickle_payload_is_found(tmp_path: Path) -> None:
    """joblib loads side files with allow_pickle=True: their object arrays are pickles."""
    (tmp_path / "model.pkl").write_bytes(_legacy_pickle("model.pkl_01.npy"))
    (tmp_path / "model.pkl_01.npy").write_bytes(_npy(evil(), "|O"))
    run = run_scan([tmp_path])
    assert run.returncode == EXIT_BLOCKED, run.describe()
    bad = [f for f in run.findings() if f["rule_id"] == "PICKLE-GLOBAL-DANGEROUS"]
    assert bad and "model.pkl_01.npy" in bad[0]["location"], run.describe()


@pytest.mark.parametrize("name", ["../../etc/x.npy", "/tmp/x.npy", "sub/x.npy", ".."])
def test_legacy_side_file_outside_the_folder_is_blocked(tmp_path: Path, name: str) -> None:
    (tmp_path / "model.pkl").write_bytes(_legacy_pickle(name))
    run = run_scan([tmp_path / "model.pkl"])
    assert run.returncode == EXIT_BLOCKED, run.describe()
    assert "ARCHIVE-PATH-TRAVERSAL" in {f["rule_id"] for f in run.findings()}
