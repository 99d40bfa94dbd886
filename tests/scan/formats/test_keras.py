"""Keras: Lambda layers, gadget modules and foreign objects in .keras and legacy HDF5 configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import blocking, rules, scan_bytes, zip_bytes

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpora" / "modelaudit" / "samples"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _h5(config: dict[str, object] | None, extra: bytes = b"") -> bytes:
    """A stand-in HDF5 file: superblock magic, padding, the attribute name and JSON string."""
    body = HDF5_MAGIC + b"\x00" * 200
    if config is not None:
        body += b"model_config\x00\x00\x00\x00" + json.dumps(config).encode() + b"\x00" * 16
    return body + extra + b"\x00" * 64


def _keras(config: dict[str, object]) -> bytes:
    return zip_bytes(
        {
            "metadata.json": b'{"keras_version": "3.5.0"}',
            "config.json": json.dumps(config).encode(),
            "model.weights.h5": HDF5_MAGIC + b"\x00" * 64,
        }
    )


DENSE = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"units": 4},
    "registered_name": None,
}
LAMBDA = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAA=="}}},
}


def _seq(*layers: object) -> dict[str, object]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "m", "layers": list(layers)},
    }


@pytest.mark.parametrize("name", ["malicious_lambda.h5"])
def test_corpus_lambda_h5_blocks(tmp_path: Path, name: str) -> None:
    data = (CORPUS / "keras" / name).read_bytes()
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "x.bin", data))


def test_corpus_safe_h5_passes(tmp_path: Path) -> None:
    data = (CORPUS / "keras" / "safe_model.h5").read_bytes()
    assert blocking(scan_bytes(tmp_path, "x.h5", data)) == set()


def test_h5_lambda_blocks_and_dense_passes(tmp_path: Path) -> None:
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "a.h5", _h5(_seq(LAMBDA))))
    assert blocking(scan_bytes(tmp_path, "b.h5", _h5(_seq(DENSE)))) == set()


def test_h5_with_unreadable_config_blocks(tmp_path: Path) -> None:
    data = HDF5_MAGIC + b"model_config\x00" + b'{"class_name": "Seq' + b"\x00" * 8
    assert "KERAS-CONFIG-UNREADABLE" in rules(scan_bytes(tmp_path, "c.h5", data))


def test_h5_weights_only_is_informational(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "w.h5", _h5(None))
    assert rules(res) == {"HDF5-NOT-INSPECTED"} and blocking(res) == set()
    assert res.skipped


def test_keras_v3_lambda_blocks(tmp_path: Path) -> None:
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "m.keras", _keras(_seq(DENSE, LAMBDA))))


def test_keras_v3_plain_model_passes(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "m.keras", _keras(_seq(DENSE)))
    assert blocking(res) == set() and res.inventory.get("keras-v3") == 1


@pytest.mark.parametrize(
    ("obj", "rule"),
    [
        # CVE-2025-1550: a function from any module, called with config values.
        (
            {
                "module": "os",
                "class_name": "function",
                "config": "system",
                "registered_name": "function",
            },
            "KERAS-UNSAFE-REFERENCE",
        ),
        (
            {"module": "builtins", "class_name": "function", "config": "exec"},
            "KERAS-UNSAFE-REFERENCE",
        ),
        # CVE-2025-8747 / CVE-2025-9906 / CVE-2025-49655
        (
            {"module": "keras.utils", "class_name": "function", "config": "get_file"},
            "KERAS-UNSAFE-REFERENCE",
        ),
        (
            {
                "module": "keras.config",
                "class_name": "function",
                "config": "enable_unsafe_deserialization",
            },
            "KERAS-UNSAFE-REFERENCE",
        ),
        (
            {"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {}},
            "KERAS-UNSAFE-REFERENCE",
        ),
        (
            {
                "module": "my_pkg.layers",
                "class_name": "Fancy",
                "config": {},
                "registered_name": "my_pkg>Fancy",
            },
            "KERAS-CUSTOM-OBJECT",
        ),
    ],
)
def test_keras_v3_unsafe_references(tmp_path: Path, obj: dict[str, object], rule: str) -> None:
    assert rule in rules(scan_bytes(tmp_path, "m.keras", _keras(_seq(DENSE, obj))))


def test_keras_layout_needs_both_config_and_metadata(tmp_path: Path) -> None:
    data = zip_bytes({"config.json": json.dumps(_seq(LAMBDA)).encode()})
    assert "KERAS-LAMBDA" not in rules(scan_bytes(tmp_path, "plain.zip", data))
