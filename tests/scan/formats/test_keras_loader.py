"""Keras differential: whatever config real Keras would deserialize, the scanner judged.

Files are saved by Keras itself (torch backend), then edited with h5py or zipfile the way
an attacker would.  The oracle loads each one with ``keras.models.load_model`` in a
subprocess with name resolution intercepted: every module outside Keras that Keras'
resolver (``serialization_lib._retrieve_class_or_fn``) is asked for is recorded, any
import outside Keras is refused (nothing outside Keras is imported), and
Lambda function deserialization is recorded and replaced by an identity function.  The
scanner must report every module the oracle saw requested and every Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py  # type: ignore[import-untyped]
import pytest

from .helpers import blocking, scan_bytes

pytestmark = pytest.mark.slow

ORACLE = """
import importlib, json, os, sys, types
os.environ["KERAS_BACKEND"] = "torch"
import keras
from keras.src.saving import serialization_lib
from keras.src.utils import python_utils
seen = []
def spy(name, package=None):
    if name.split(".")[0] not in ("keras", "tf_keras", "tensorflow"):
        seen.append(name)
        raise ImportError("refused by the oracle: " + name)
    return importlib.import_module(name, package)
# Keras resolves every config object here: record the module it is asked for
serialization_lib.importlib = types.SimpleNamespace(import_module=spy)
real_retrieve = serialization_lib._retrieve_class_or_fn
def retrieve(name, registered_name, module, *args, **kwargs):
    if module and module.split(".")[0] not in ("keras", "tf_keras", "tensorflow", "builtins"):
        seen.append(module)
    return real_retrieve(name, registered_name, module, *args, **kwargs)
serialization_lib._retrieve_class_or_fn = retrieve
def func_load(*args, **kwargs):
    seen.append("<lambda>")
    return lambda x: x
python_utils.func_load = func_load
result = {}
for path in sys.argv[1:]:
    seen = []
    try:
        keras.models.load_model(path, safe_mode=False)
    except Exception as exc:
        print(path, type(exc).__name__, str(exc)[:200], file=sys.stderr)
    result[path] = seen
print(json.dumps(result))
"""

SAVE = (
    "import os, sys\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras\n"
    "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name='d')])\n"
    "m.compile(optimizer='adam', loss='mse')\n"
    "for out in sys.argv[1:]:\n    m.save(out)\n"
)

EVIL_LAYER = {"module": "evil_pkg.layers", "class_name": "Boom", "config": {}}


def _with_evil_layer(config_text: str, *, escape: bool) -> str:
    config = json.loads(config_text)
    config["config"]["layers"].append({**EVIL_LAYER, "registered_name": "evil_pkg>Boom"})
    text = json.dumps(config)
    if escape:
        text = text.replace('"module"', '"\\u006dodule"')
        text = text.replace('"class_name"', '"cl\\u0061ss_name"')
    return text


def _keras_env() -> dict[str, str]:
    return {**os.environ, "KERAS_BACKEND": "torch"}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model saved by real Keras as legacy HDF5 and as a ``.keras`` archive (once)."""
    d = tmp_path_factory.mktemp("keras-real")
    real_h5, real_keras = d / "real.h5", d / "real.keras"
    subprocess.run(
        [sys.executable, "-c", SAVE, str(real_h5), str(real_keras)],
        check=True,
        env=_keras_env(),
        timeout=600,
    )
    return real_h5, real_keras


def _variants(d: Path, real_h5: Path, real_keras: Path) -> dict[str, Path]:
    """Real Keras files, and the attacker's edits of them."""
    out = {"real.h5": real_h5, "real.keras": real_keras}
    with h5py.File(real_h5, "r") as f:
        config = f.attrs["model_config"]
    for escape in (False, True):
        path = d / f"edited-{escape}.h5"
        path.write_bytes(real_h5.read_bytes())
        with h5py.File(path, "a") as f:
            f.attrs["model_config"] = _with_evil_layer(config, escape=escape)
            f.attrs["zz_decoy"] = config  # a benign config elsewhere must not hide it
        out[f"edited-{escape}.h5"] = path
    nometa = d / "nometa.keras"
    with zipfile.ZipFile(real_keras) as zin, zipfile.ZipFile(nometa, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "metadata.json":
                continue
            if info.filename == "config.json":
                data = _with_evil_layer(data.decode(), escape=False).encode()
            zout.writestr(info.filename, data)
    out["nometa.keras"] = nometa
    evil = _with_evil_layer(config, escape=False)
    with h5py.File(d / "user.h5", "w", userblock_size=512) as f:
        f.attrs["model_config"] = evil
    out["user.h5"] = d / "user.h5"
    with h5py.File(d / "dense.h5", "w", libver="latest") as f:
        for i in range(20):
            f.attrs[f"a{i}"] = "v"
        f.attrs["model_config"] = evil
    out["dense.h5"] = d / "dense.h5"
    return out


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, real: tuple[Path, Path]
) -> dict[str, tuple[Path, list[str]]]:
    """Each variant and what real Keras resolved while loading it (one subprocess)."""
    files = _variants(tmp_path_factory.mktemp("keras"), *real)
    proc = subprocess.run(
        [sys.executable, "-c", ORACLE, *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=900,
        env=_keras_env(),
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr
    seen: dict[str, list[str]] = json.loads(lines[-1])
    return {name: (path, seen[str(path)]) for name, path in files.items()}


def _report_names(findings: Any) -> set[str]:
    names: set[str] = set()
    for f in findings:
        if f.rule_id == "KERAS-LAMBDA":
            names.add("<lambda>")
        module = f.detail.get("module") if isinstance(f.detail, dict) else None
        if module:
            names.add(str(module))
    return names


@pytest.mark.parametrize("name", ["real.h5", "real.keras"])
def test_real_keras_files_pass(
    tmp_path: Path, loaded: dict[str, tuple[Path, list[str]]], name: str
) -> None:
    path, seen = loaded[name]
    assert seen == []
    res = scan_bytes(tmp_path, path.name, path.read_bytes())
    assert blocking(res) == set(), res.findings


@pytest.mark.parametrize(
    "name", ["edited-False.h5", "edited-True.h5", "nometa.keras", "user.h5", "dense.h5"]
)
def test_what_keras_resolves_is_reported(
    tmp_path: Path, loaded: dict[str, tuple[Path, list[str]]], name: str
) -> None:
    path, seen = loaded[name]
    assert "evil_pkg.layers" in seen, seen
    res = scan_bytes(tmp_path, path.name, path.read_bytes())
    assert set(seen) <= _report_names(res.findings), (seen, res.findings)
    assert blocking(res)


# -- objects other installed packages registered -----------------------------------------
REGISTERING_LOADER = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras, numpy as np
marker = None
@keras.saving.register_keras_serializable(package="thirdparty")
def tripwire(x):
    open(marker, "w").close()
    return x
@keras.saving.register_keras_serializable(package="thirdparty")
class Boom(keras.layers.Layer):
    def __init__(self, **kwargs):
        open(marker, "w").close()
        super().__init__(**kwargs)
    def call(self, x):
        return x
@keras.saving.register_keras_serializable(package="thirdparty")
class Init(keras.initializers.Initializer):
    def __call__(self, shape, dtype=None):
        open(marker, "w").close()
        return keras.ops.zeros(shape, dtype=dtype)
args = sys.argv[1:]
for path, marker in zip(args[::2], args[1::2]):
    try:
        keras.saving.load_model(path)(np.zeros((1, 3), "float32"))
    except Exception as exc:
        print(path, type(exc).__name__, str(exc)[:200], file=sys.stderr)
"""
"""Loads each file with objects registered the way an installed package registers them
(``register_keras_serializable``); each records that Keras called it."""

NUL_NAME = "config.json\x00.txt"


def _dense(config: dict[str, Any]) -> dict[str, Any]:
    layer: dict[str, Any] = next(
        lay for lay in config["config"]["layers"] if lay["class_name"] == "Dense"
    )
    return layer


def _edit_keras(real: Path, out: Path, config: dict[str, Any], *, nul: bool = False) -> None:
    placeholder = "config.json" + "X" * (len(NUL_NAME) - len("config.json"))  # swapped in later
    with zipfile.ZipFile(real) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            name = info.filename
            if name == "config.json":
                data = json.dumps(config).encode()
                name = placeholder if nul else name
            zout.writestr(name, data)
    if nul:
        out.write_bytes(out.read_bytes().replace(placeholder.encode(), NUL_NAME.encode()))


def _activation(module: str, registered_name: str) -> Callable[[dict[str, Any]], None]:
    """An edit that makes the Dense layer's activation the registered ``thirdparty>tripwire``."""

    def change(config: dict[str, Any]) -> None:
        _dense(config)["config"]["activation"] = {
            "module": module,
            "class_name": "function",
            "config": "thirdparty>tripwire",
            "registered_name": registered_name,
        }

    return change


def _registered_variants(d: Path, real_h5: Path, real_keras: Path) -> dict[str, Path]:
    with zipfile.ZipFile(real_keras) as z:
        v3 = json.loads(z.read("config.json"))
    with h5py.File(real_h5, "r") as f:
        legacy = json.loads(f.attrs["model_config"])
    out: dict[str, Path] = {}

    def keras_file(name: str, change: Any, *, nul: bool = False) -> None:
        config = json.loads(json.dumps(v3))
        change(config)
        _edit_keras(real_keras, d / name, config, nul=nul)
        out[name] = d / name

    def h5_file(name: str, change: Any) -> None:
        config = json.loads(json.dumps(legacy))
        change(config)
        (d / name).write_bytes(real_h5.read_bytes())
        with h5py.File(d / name, "a") as f:
            f.attrs["model_config"] = json.dumps(config)
        out[name] = d / name

    # a function object whose *config* is the registered name: Keras looks that up first
    keras_file("function-config.keras", _activation("keras.activations", "relu"))
    # a plain string where Keras expects an initializer
    keras_file(
        "initializer-string.keras",
        lambda c: _dense(c)["config"].update(kernel_initializer="thirdparty>Init"),
    )
    # legacy HDF5 resolves class_name among registered objects, without any module
    h5_file(
        "registered-class.h5",
        lambda c: c["config"]["layers"].append(
            {"class_name": "thirdparty>Boom", "config": {"name": "b"}}
        ),
    )
    h5_file(
        "initializer-class.h5",
        lambda c: _dense(c)["config"].update(
            kernel_initializer={"class_name": "thirdparty>Init", "config": {}}
        ),
    )
    # config.json named with a NUL: Python's zipfile (Keras) cuts the name there
    keras_file("nul-name.keras", _activation("builtins", "thirdparty>tripwire"), nul=True)
    return out


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory, real: tuple[Path, Path]
) -> dict[str, tuple[Path, bool]]:
    """Each variant, and whether real Keras called the registered object while loading and
    calling the model (one subprocess)."""
    d = tmp_path_factory.mktemp("keras-registered")
    files = _registered_variants(d, *real)
    args: list[str] = []
    for name, path in files.items():
        args += [str(path), str(d / f"{name}.ran")]
    subprocess.run(
        [sys.executable, "-c", REGISTERING_LOADER, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=_keras_env(),
    )
    return {name: (path, (d / f"{name}.ran").exists()) for name, path in files.items()}


@pytest.mark.parametrize(
    "name",
    [
        "function-config.keras",
        "initializer-string.keras",
        "registered-class.h5",
        "initializer-class.h5",
        "nul-name.keras",
    ],
)
def test_registered_objects_keras_calls_are_reported(
    tmp_path: Path, registered: dict[str, tuple[Path, bool]], name: str
) -> None:
    """Bypasses of the first reader: Keras resolves ``<package>><name>`` wherever it
    deserializes a string, and reads a member named ``config.json\\x00…`` as config.json.
    Real Keras calls each registered object; the scanner must report it."""
    path, ran = registered[name]
    assert ran, name
    res = scan_bytes(tmp_path, path.name, path.read_bytes())
    assert "KERAS-CUSTOM-OBJECT" in blocking(res), res.findings
    if name.startswith("nul"):
        assert "ZIP-NAME-TRUNCATED" in blocking(res)
