"""Keras: Lambda layers, gadget modules and foreign objects in .keras and legacy HDF5 configs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import h5py  # type: ignore[import-untyped]
import pytest

from .helpers import blocking, rules, scan_bytes, zip_bytes

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpora" / "modelaudit" / "samples"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def h5_file(attrs: dict[str, str | bytes], **options: Any) -> bytes:
    """A real HDF5 file written by h5py, with these root attributes (str → vlen string)."""
    buf = io.BytesIO()
    with h5py.File(buf, "w", **options) as f:
        for name, value in attrs.items():
            f.attrs[name] = value
        f.create_dataset("w", data=[1.0, 2.0])
    return buf.getvalue()


def _h5(config: dict[str, object] | None) -> bytes:
    return h5_file({} if config is None else {"model_config": json.dumps(config)})


def _keras(config: dict[str, object], *, metadata: bool = True) -> bytes:
    members = {
        "config.json": json.dumps(config).encode(),
        "model.weights.h5": h5_file({}),
    }
    if metadata:
        members["metadata.json"] = b'{"keras_version": "3.5.0"}'
    return zip_bytes(members)


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


def test_keras_archive_without_metadata_is_recognised(tmp_path: Path) -> None:
    """Keras needs only config.json to build the model; metadata.json is optional."""
    data = _keras(_seq(LAMBDA), metadata=False)
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "plain.zip", data))


def test_escaped_keys_are_decoded_as_json(tmp_path: Path) -> None:
    text = json.dumps(_seq(DENSE, {"module": "os", "class_name": "function", "config": "system"}))
    text = text.replace('"module"', '"\\u006dodule"').replace('"class_name"', '"cl\\u0061ss_name"')
    res = scan_bytes(tmp_path, "m.h5", h5_file({"model_config": text}))
    assert "KERAS-UNSAFE-REFERENCE" in rules(res)


def test_decoy_attribute_does_not_hide_the_real_config(tmp_path: Path) -> None:
    decoy = json.dumps(_seq(DENSE))
    data = h5_file({"model_config": '{"class_name": "Seq', "zz_decoy": decoy})
    assert "KERAS-CONFIG-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.h5", data))


def test_training_config_is_judged_too(tmp_path: Path) -> None:
    loss = {"module": "evil_pkg.losses", "class_name": "Boom", "config": {}}
    data = h5_file(
        {"model_config": json.dumps(_seq(DENSE)), "training_config": json.dumps({"loss": loss})}
    )
    assert "KERAS-CUSTOM-OBJECT" in blocking(scan_bytes(tmp_path, "m.h5", data))


def test_user_block_does_not_hide_the_file(tmp_path: Path) -> None:
    data = h5_file({"model_config": json.dumps(_seq(LAMBDA))}, userblock_size=512)
    assert data[:8] != HDF5_MAGIC
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "m.h5", data))


def test_version_2_object_header_is_read(tmp_path: Path) -> None:
    data = h5_file({"model_config": json.dumps(_seq(LAMBDA))}, libver="latest")
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "m.h5", data))


def test_dense_attribute_storage_is_read(tmp_path: Path) -> None:
    """More than 8 attributes under the 1.8 format: a fractal heap (see test_hdf5_attrs)."""
    attrs: dict[str, str | bytes] = {f"a{i}": "v" for i in range(20)}
    attrs["model_config"] = json.dumps(_seq(LAMBDA))
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "m.h5", h5_file(attrs, libver="latest")))
    attrs["model_config"] = json.dumps(_seq(DENSE))
    assert blocking(scan_bytes(tmp_path, "m.h5", h5_file(attrs, libver="latest"))) == set()


def test_fixed_length_string_config_is_read(tmp_path: Path) -> None:
    data = h5_file({"model_config": json.dumps(_seq(LAMBDA)).encode()})
    assert "KERAS-LAMBDA" in rules(scan_bytes(tmp_path, "m.h5", data))


def test_folder_config_keras_would_load_is_judged(tmp_path: Path) -> None:
    """load_model(folder) builds any folder's config.json that names a class_name."""
    from tests.support.wheels import build_wheel

    files = {
        "demo/__init__.py": b"",
        "demo/model/config.json": json.dumps(_seq(LAMBDA)).encode(),
        "demo/hf/config.json": b'{"model_type": "bert", "hidden_size": 8}',
    }
    whl = build_wheel(tmp_path, "demo", "1.0", files)
    res = scan_bytes(tmp_path, whl.name, whl.read_bytes())
    assert "KERAS-LAMBDA" in rules(res)
    assert not [f for f in res.findings if "demo/hf/" in f.location]


@pytest.mark.parametrize(
    "value",
    [
        {"class_name": "thirdparty>Boom", "config": {}},
        {
            "module": "keras.activations",
            "class_name": "function",
            "config": "thirdparty>tripwire",
            "registered_name": "relu",
        },
    ],
)
def test_registered_names_outside_keras_are_custom_objects(
    tmp_path: Path, value: dict[str, object]
) -> None:
    dense = {**DENSE, "config": {"units": 4, "kernel_initializer": "thirdparty>Init"}}
    for data in (_h5(_seq(value)), _keras(_seq(value)), _h5(_seq(dense))):
        assert "KERAS-CUSTOM-OBJECT" in blocking(scan_bytes(tmp_path, "m.keras", data))


def test_registered_names_of_keras_packages_and_layer_names_pass(tmp_path: Path) -> None:
    hub = {"module": "keras_hub.src.models", "class_name": "X", "registered_name": "keras_hub>X"}
    named = {**DENSE, "config": {"units": 4, "name": "block>conv"}}
    for data in (_keras(_seq(hub)), _keras(_seq(named))):
        assert "KERAS-CUSTOM-OBJECT" not in rules(scan_bytes(tmp_path, "m.keras", data))


def test_keras_prefixed_package_is_not_keras(tmp_path: Path) -> None:
    """Keras imports only keras, keras_hub, keras_cv and keras_nlp; keras_anything is not."""
    evil = {"module": "keras_helpers.evil", "class_name": "Boom", "config": {}}
    assert "KERAS-CUSTOM-OBJECT" in blocking(scan_bytes(tmp_path, "m.keras", _keras(_seq(evil))))


def test_config_named_with_a_nul_is_the_config(tmp_path: Path) -> None:
    """Python's zipfile (Keras) reads ``config.json\\x00.txt`` as ``config.json``."""
    data = zip_bytes({"config.json\x01": json.dumps(_seq(LAMBDA)).encode()})
    data = data.replace(b"config.json\x01", b"config.json\x00")
    res = scan_bytes(tmp_path, "m.keras", data)
    assert {"KERAS-LAMBDA", "ZIP-NAME-TRUNCATED"} <= blocking(res), res.findings
