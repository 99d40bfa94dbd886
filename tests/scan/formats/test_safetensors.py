"""safetensors: header checks like the crate's; a .safetensors name on a pickle/zip blocks."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest

from .helpers import rules, safetensors_bytes, scan_bytes, zip_bytes


def _ok() -> bytes:
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]},
    }
    return safetensors_bytes(header, b"\x00" * 22)


def test_well_formed_file_passes(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "model.safetensors", _ok())
    assert res.findings == () and res.inventory.get("safetensors") == 1


@pytest.mark.parametrize(
    "header,data",
    [
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            12,
        ),  # overlap
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8),  # out of bounds
        ({"a": {"dtype": "X99", "shape": [1], "data_offsets": [0, 1]}}, 1),  # unknown dtype
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8),  # size mismatch
        ({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}}, 1),  # bad shape
        ({"__metadata__": {"k": 1}}, 0),  # metadata not str→str
    ],
)
def test_bad_headers_are_findings(tmp_path: Path, header: dict[str, object], data: int) -> None:
    res = scan_bytes(tmp_path, "m.safetensors", safetensors_bytes(header, b"\x00" * data))
    assert "MODEL-MALFORMED" in rules(res)


def test_invalid_json_header(tmp_path: Path) -> None:
    data = struct.pack("<Q", 12) + b'{"a": [1, 2' + b"\x00" * 8
    assert rules(scan_bytes(tmp_path, "m.safetensors", data)) & {
        "MODEL-MALFORMED",
        "MODEL-NAME-MISMATCH",
    }


@pytest.mark.parametrize(
    "payload",
    [pickle.dumps({"w": [1.0]}, protocol=2), zip_bytes({"archive/data.pkl": pickle.dumps(1)})],
)
def test_pickle_or_zip_named_safetensors_blocks(tmp_path: Path, payload: bytes) -> None:
    assert "MODEL-NAME-MISMATCH" in rules(scan_bytes(tmp_path, "model.safetensors", payload))
