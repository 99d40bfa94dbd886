"""SavedModel: file/Python ops in the graph or its function library block; plain ops pass."""

from __future__ import annotations

from pathlib import Path

from .helpers import pb_len, rules, scan_bytes


def _node(name: str, op: str) -> bytes:
    return pb_len(1, name) + pb_len(2, op)


def _saved_model(graph: bytes) -> bytes:
    meta_graph = pb_len(2, graph)
    return pb_len(2, meta_graph)


def test_pyfunc_node_blocks(tmp_path: Path) -> None:
    graph = pb_len(1, _node("c", "Const")) + pb_len(1, _node("bad", "PyFunc"))
    res = scan_bytes(tmp_path, "m/saved_model.pb", _saved_model(graph))
    assert "TF-DANGEROUS-OP" in rules(res)


def test_readfile_in_function_library_blocks(tmp_path: Path) -> None:
    fn = pb_len(1, pb_len(1, "leak")) + pb_len(3, _node("r", "ReadFile"))
    graph = pb_len(2, pb_len(1, fn))
    res = scan_bytes(tmp_path, "m/saved_model.pb", _saved_model(graph))
    finding = next(f for f in res.findings if f.rule_id == "TF-DANGEROUS-OP")
    assert finding.detail["nodes"] == ["leak/r"]


def test_benign_graph_with_checkpoint_ops_passes(tmp_path: Path) -> None:
    graph = b"".join(
        pb_len(1, _node(n, op))
        for n, op in [("c", "Const"), ("m", "MatMul"), ("s", "SaveV2"), ("r", "RestoreV2")]
    )
    res = scan_bytes(tmp_path, "m/saved_model.pb", _saved_model(graph))
    assert res.findings == ()
    assert res.inventory.get("tf-savedmodel") == 1


def test_truncated_protobuf_is_a_finding(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "saved_model.pb", b"\x12\x40\x12\x10")
    assert "MODEL-MALFORMED" in rules(res)


def test_other_pb_names_are_not_read_as_savedmodel(tmp_path: Path) -> None:
    graph = pb_len(1, _node("bad", "PyFunc"))
    res = scan_bytes(tmp_path, "other.pb", _saved_model(graph))
    assert "tf-savedmodel" not in res.inventory
