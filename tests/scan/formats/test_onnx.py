"""ONNX: external data that escapes the folder blocks; custom domains are listed, not blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import blocking, pb_int, pb_len, rules, scan_bytes


def _tensor(name: str, location: str | None) -> bytes:
    t = pb_int(2, 1) + pb_len(8, name)
    if location is not None:
        t += pb_len(13, pb_len(1, "location") + pb_len(2, location)) + pb_int(14, 1)
    return t


def _model(*, nodes: list[tuple[str, str]] = (), tensors: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    graph = b"".join(pb_len(1, pb_len(4, op) + pb_len(7, dom)) for op, dom in nodes)
    graph += pb_len(2, "g") + b"".join(pb_len(5, t) for t in tensors)
    return pb_int(1, 8) + pb_len(2, "pytorch") + pb_len(7, graph) + pb_len(8, pb_int(2, 17))


@pytest.mark.parametrize(
    "loc", ["../../etc/passwd", "/etc/shadow", "C:\\secrets.bin", "sub/../../x"]
)
def test_external_data_traversal_blocks(tmp_path: Path, loc: str) -> None:
    res = scan_bytes(tmp_path, "model.onnx", _model(tensors=[_tensor("w", loc)]))
    assert "ONNX-EXTERNAL-DATA-TRAVERSAL" in rules(res)


def test_external_data_inside_folder_passes(tmp_path: Path) -> None:
    data = _model(nodes=[("MatMul", "")], tensors=[_tensor("w", "weights/model.onnx_data")])
    res = scan_bytes(tmp_path, "model.onnx", data)
    assert res.findings == () and res.inventory.get("onnx") == 1


def test_traversal_in_subgraph_attribute_blocks(tmp_path: Path) -> None:
    attr = pb_len(1, "then_branch") + pb_len(6, pb_len(5, _tensor("t", "/abs")))
    node = pb_len(4, "If") + pb_len(5, attr)
    data = pb_int(1, 8) + pb_len(7, pb_len(1, node))
    assert "ONNX-EXTERNAL-DATA-TRAVERSAL" in rules(scan_bytes(tmp_path, "x.bin", data))


def test_custom_domain_is_listed_not_blocking(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "m.onnx", _model(nodes=[("Evil", "com.example"), ("Relu", "")]))
    assert "ONNX-CUSTOM-OP" in rules(res) and blocking(res) == set()


def test_damaged_onnx_is_a_finding(tmp_path: Path) -> None:
    good = _model(nodes=[("Relu", "")])
    # A graph whose inner node claims more bytes than the graph holds.
    graph = b"\x0a\x7f" + b"\x00" * 4
    bad = pb_int(1, 8) + pb_len(7, graph)
    assert scan_bytes(tmp_path, "a.onnx", good).findings == ()
    assert "MODEL-MALFORMED" in rules(scan_bytes(tmp_path, "b.onnx", bad))
