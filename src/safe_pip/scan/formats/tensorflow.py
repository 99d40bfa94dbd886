"""TensorFlow SavedModel (``saved_model.pb``): ops that touch files or call Python.

A SavedModel graph is data, but some ops are not pure tensor maths: ``ReadFile``
and ``WriteFile`` reach the file system, ``PyFunc``/``EagerPyFunc`` call back
into Python functions registered in the process, and a few others memory-map or
write files.  These run when the graph (or a restored function) runs.  The
reader walks the protobuf with :mod:`safe_pip.scan.formats.protobuf` — no TensorFlow —
through every meta graph, every node and every function of the library.

The file has no magic number; ``tf.saved_model.load`` finds it by its name,
so the dispatcher routes un-sniffable data named ``saved_model.pb`` here.
What is not checked: Keras metadata (``keras_metadata.pb``), variables (raw
checkpoint data), and the semantics of ordinary ops.
"""

from __future__ import annotations

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.protobuf import LEN, Message, ProtoError

DANGEROUS_OPS: dict[str, str] = {
    "ReadFile": "reads an arbitrary file",
    "WriteFile": "writes an arbitrary file",
    "MatchingFiles": "lists files matching a pattern",
    "PyFunc": "calls a Python function",
    "PyFuncStateless": "calls a Python function",
    "EagerPyFunc": "calls a Python function",
    "ImmutableConst": "memory-maps a file",
    "CreateSummaryFileWriter": "writes event files",
    "CreateSummaryDbWriter": "writes a database file",
    "Save": "writes tensors to a chosen file name",
    "SaveSlices": "writes tensors to a chosen file name",
}
"""Op → what it does. ``SaveV2``/``RestoreV2`` are the standard checkpoint ops and are
not listed: every SavedModel has them, bound to its own variables folder."""

_MAX_NODES = 5_000_000


def read_saved_model(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("tf-savedmodel")
    found: dict[str, list[str]] = {}
    count = 0
    try:
        for f in Message(blob).fields():
            if f.number == 2 and f.wire == LEN:  # SavedModel.meta_graphs
                mg = Message(blob, f.value, f.value + f.length)
                for g in mg.fields():
                    if g.number == 2 and g.wire == LEN:  # MetaGraphDef.graph_def
                        count += _graph(ctx, mg.sub(g), found, location)
            elif f.number == 1 and f.wire != 0:
                raise ProtoError("saved_model_schema_version is not an integer")
            ctx.check_time(location)
    except ProtoError as exc:
        ctx.report("MODEL-MALFORMED", f"SavedModel protobuf is damaged: {exc}", location)
    for op, nodes in sorted(found.items()):
        ctx.report(
            "TF-DANGEROUS-OP",
            f"graph uses {op}, which {DANGEROUS_OPS[op]} when the graph runs "
            f"({len(nodes)} node(s): {', '.join(nodes[:5])})",
            location,
            op=op,
            nodes=nodes[:50],
        )
    ctx.saw("tf-node", count)


def _graph(ctx: ScanContext, graph: Message, found: dict[str, list[str]], loc: str) -> int:
    """GraphDef: node = 1 (NodeDef), library = 2 (FunctionDefLibrary.function = 1)."""
    count = 0
    for f in graph.fields():
        if f.number == 1 and f.wire == LEN:
            count += _node(graph.sub(f), found, "")
        elif f.number == 2 and f.wire == LEN:
            lib = graph.sub(f)
            for fn in lib.fields():
                if fn.number == 1 and fn.wire == LEN:
                    count += _function(lib.sub(fn), found)
        if count > _MAX_NODES:
            raise ProtoError(f"more than {_MAX_NODES} nodes")
        if count & 0xFFF == 0:
            ctx.check_time(loc)
    return count


def _function(fn: Message, found: dict[str, list[str]]) -> int:
    """FunctionDef: signature = 1 (OpDef, name = 1), node_def = 3."""
    name = ""
    nodes: list[Message] = []
    for f in fn.fields():
        if f.number == 1 and f.wire == LEN:
            sig = fn.sub(f)
            for s in sig.fields():
                if s.number == 1 and s.wire == LEN:
                    name = sig.text(s, 256)
        elif f.number == 3 and f.wire == LEN:
            nodes.append(fn.sub(f))
    for node in nodes:
        _node(node, found, f"{name}/" if name else "")
    return len(nodes)


def _node(node: Message, found: dict[str, list[str]], prefix: str) -> int:
    """NodeDef: name = 1, op = 2."""
    name = op = ""
    for f in node.fields():
        if f.wire != LEN:
            continue
        if f.number == 1:
            name = node.text(f, 256)
        elif f.number == 2:
            op = node.text(f, 256)
    if op in DANGEROUS_OPS:
        found.setdefault(op, []).append(prefix + name)
    return 1
