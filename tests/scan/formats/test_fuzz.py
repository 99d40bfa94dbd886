"""Every new reader, fed random and mutated input: findings, never a crash or a hang.

A crash would surface as a SCAN-ERROR finding (the dispatcher's fail-closed net); these
tests call the readers directly so any exception escaping a reader fails the test.
"""

from __future__ import annotations

import ast
import contextlib
import json
import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.core.dispatch import scan_blob
from safe_pip.scan.dist import pysource
from safe_pip.scan.formats import gguf, keras, onnx, safetensors, tensorflow

from .helpers import pb_int, pb_len, safetensors_bytes, zip_bytes

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

READERS = [
    (tensorflow.read_saved_model, "saved_model.pb"),
    (onnx.read_onnx, "m.onnx"),
    (gguf.read_gguf, "m.gguf"),
    (safetensors.read_safetensors, "m.safetensors"),
    (keras.read_hdf5, "m.h5"),
    (pysource.read_python, "m.py"),
]

SEEDS = [
    pb_len(2, pb_len(2, pb_len(1, pb_len(1, "a") + pb_len(2, "PyFunc")))),
    pb_int(1, 8) + pb_len(7, pb_len(1, pb_len(4, "Relu")) + pb_len(5, pb_len(8, "w"))),
    b"GGUF"
    + struct.pack("<IQQ", 3, 0, 1)
    + struct.pack("<Q", 1)
    + b"k"
    + struct.pack("<IQ", 8, 5)
    + b"{{x}}",
    safetensors_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    b"\x89HDF\r\n\x1a\nmodel_config\0" + json.dumps({"class_name": "Lambda"}).encode(),
    b"import torch\nM = torch.load('x')\nexec(__import__('base64').b64decode(M))\n",
]


def _run(reader: object, data: bytes, name: str) -> ScanContext:
    ctx = ScanContext()
    start = time.monotonic()
    with contextlib.suppress(BudgetExhausted):
        reader(ctx, Blob(data), name, 0)  # type: ignore[operator]
    assert time.monotonic() - start < 2.0
    return ctx


@FUZZ
@given(data=st.binary(max_size=2048))
def test_readers_on_random_bytes(data: bytes) -> None:
    for reader, name in READERS:
        _run(reader, data, name)


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 4096),
)
def test_readers_on_mutated_samples(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(seed)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    data = bytes(buf[: max(1, cut % (len(buf) + 1))])
    for reader, name in READERS:
        _run(reader, data, name)


@FUZZ
@given(
    config=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["class_name", "module", "config", "registered_name", "function", "layers", "x"]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=30,
    )
)
def test_keras_config_checker_on_random_json(config: object) -> None:
    ctx = ScanContext()
    keras.check_config(ctx, config, "m.keras")
    keras.read_config_json(ctx, Blob(json.dumps(config).encode()), "m.keras")


@FUZZ
@given(
    names=st.lists(st.text(alphabet="abc./_-", min_size=1, max_size=30), max_size=8),
    body=st.binary(max_size=64),
)
def test_wheel_layout_on_random_members(names: list[str], body: bytes) -> None:
    files = {n: body for n in names}
    files["x-1.0.dist-info/WHEEL"] = b"Wheel-Version: 1.0\n"
    files["x-1.0.dist-info/RECORD"] = body
    ctx = ScanContext()
    scan_blob(ctx, Blob(zip_bytes(files)), "x.whl", 0)
    assert not [f for f in ctx.findings if f.rule_id == "SCAN-ERROR"]


@FUZZ
@given(src=st.text(max_size=300))
def test_pysource_on_random_text(src: str) -> None:
    ctx = ScanContext()
    pysource.read_python(ctx, Blob(src.encode()), "m.py", 0)
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return
    pysource.check_tree(ctx, tree, "m.py", whole_file=True)
