"""ONNX models: external-data paths and custom operator domains, read without ``onnx``.

An ONNX file is a protobuf ``ModelProto`` with no magic number.  It cannot carry
Python, but it can make the loader read files: a tensor whose ``external_data``
``location`` is absolute or climbs out of the model folder exposes any file the
process can read (CVE-2024-27318, CVE-2025-51480).  Operators from domains other
than the standard ones need a native custom-op library; they are listed (LOW)
for review.  Every graph is walked, including subgraphs in node attributes
(If/Loop/Scan bodies), local functions and training graphs.

Not checked: the tensor values themselves, shape consistency, or whether a
custom-op library is actually shipped next to the model.
"""

from __future__ import annotations

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.paths import unsafe_member_name
from safe_pip.scan.core.sniff import ONNX_FIRST
from safe_pip.scan.formats.protobuf import LEN, VARINT, Message, ProtoError, well_formed

STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
    }
)
"""ONNX's own domains plus onnxruntime's built-in contrib domains."""

_MODEL_FIELDS = {
    1: VARINT,
    2: LEN,
    3: LEN,
    4: LEN,
    5: VARINT,
    6: LEN,
    7: LEN,
    8: LEN,
    14: LEN,
    20: LEN,
    25: LEN,
    26: LEN,
}
_MAX_DEPTH = 64
_MAX_ITEMS = 10_000_000


def looks_like_onnx(blob: Blob) -> bool:
    """A ModelProto: only known top-level fields, with an ir_version and a graph."""
    return blob.head(1) == ONNX_FIRST and well_formed(blob, _MODEL_FIELDS, {1, 7})


class _Walk:
    def __init__(self, ctx: ScanContext, location: str) -> None:
        self.ctx = ctx
        self.location = location
        self.domains: dict[str, set[str]] = {}
        self.local: set[str] = set()
        self.items = 0

    def tick(self) -> None:
        self.items += 1
        if self.items > _MAX_ITEMS:
            raise ProtoError(f"more than {_MAX_ITEMS} nodes and tensors")
        if self.items & 0xFFF == 0:
            self.ctx.check_time(self.location)

    def graph(self, g: Message, level: int) -> None:
        if level > _MAX_DEPTH:
            raise ProtoError("subgraphs nested too deep")
        for f in g.fields():
            if f.wire != LEN:
                continue
            if f.number == 1:
                self.node(g.sub(f), level)
            elif f.number == 5:
                self.tensor(g.sub(f))
            elif f.number == 15:
                self.sparse(g.sub(f))

    def node(self, n: Message, level: int) -> None:
        self.tick()
        op = domain = ""
        for f in n.fields():
            if f.wire != LEN:
                continue
            if f.number == 4:
                op = n.text(f, 256)
            elif f.number == 7:
                domain = n.text(f, 256)
            elif f.number == 5:
                self.attribute(n.sub(f), level)
        if domain not in STANDARD_DOMAINS:
            self.domains.setdefault(domain, set()).add(op)

    def attribute(self, a: Message, level: int) -> None:
        for f in a.fields():
            if f.wire != LEN:
                continue
            if f.number in (5, 10):
                self.tensor(a.sub(f))
            elif f.number in (6, 11):
                self.graph(a.sub(f), level + 1)
            elif f.number in (22, 23):
                self.sparse(a.sub(f))

    def sparse(self, s: Message) -> None:
        for f in s.fields():
            if f.wire == LEN and f.number in (1, 2):
                self.tensor(s.sub(f))

    def tensor(self, t: Message) -> None:
        self.tick()
        name = ""
        entries: list[tuple[str, str]] = []
        for f in t.fields():
            if f.wire != LEN:
                continue
            if f.number == 8:
                name = t.text(f, 256)
            elif f.number == 13:
                e = t.sub(f)
                key = value = ""
                for kv in e.fields():
                    if kv.wire == LEN and kv.number == 1:
                        key = e.text(kv, 256)
                    elif kv.wire == LEN and kv.number == 2:
                        value = e.text(kv, 4096)
                entries.append((key, value))
        for key, value in entries:
            if key == "location":
                self.ctx.saw("onnx-external-data")
                if unsafe_member_name(value) or "\x00" in value:
                    self.ctx.report(
                        "ONNX-EXTERNAL-DATA-TRAVERSAL",
                        f"tensor {name!r} loads its data from {value!r}, outside the model folder",
                        self.location,
                        tensor=name,
                        path=value,
                    )

    def function(self, fn: Message) -> None:
        domain = name = ""
        for f in fn.fields():
            if f.wire != LEN:
                continue
            if f.number == 1:
                name = fn.text(f, 256)
            elif f.number == 10:
                domain = fn.text(f, 256)
            elif f.number == 7:
                self.node(fn.sub(f), 1)
        self.local.add(f"{domain}\x00{name}")


def read_onnx(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("onnx")
    w = _Walk(ctx, location)
    model = Message(blob)
    try:
        for f in model.fields():
            if f.wire != LEN:
                continue
            if f.number == 7:
                w.graph(model.sub(f), 0)
            elif f.number == 25:
                w.function(model.sub(f))
            elif f.number == 20:
                info = model.sub(f)
                for g in info.fields():
                    if g.wire == LEN and g.number in (1, 2):
                        w.graph(info.sub(g), 1)
    except ProtoError as exc:
        ctx.report("MODEL-MALFORMED", f"ONNX protobuf is damaged: {exc}", location)
    for domain, ops in sorted(w.domains.items()):
        custom = sorted(op for op in ops if f"{domain}\x00{op}" not in w.local)
        if custom:
            ctx.report(
                "ONNX-CUSTOM-OP",
                f"operators from custom domain {domain!r}: {', '.join(custom[:10])}",
                location,
                domain=domain,
                ops=custom[:100],
            )
