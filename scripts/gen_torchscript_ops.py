"""Write ``src/safe_pip/scan/formats/torchscript_ops.py`` from torch's own operator registry.

Why generated: TorchScript code calls ATen and ``prim`` operators by name, and the
scanner allows a call only when the operator cannot touch files, processes or the
network.  Which operators exist, and what their arguments are, is a fact of the torch
build that loads the model, so it is read from that build's registry
(``torch._C._jit_get_all_schemas()``), never typed in by hand.  torch is a dev/test
extra only: this script runs at development time and its output is committed.

    pip install torch==2.13.0      # never a plain ``torch``: that pulls a CUDA build
    python scripts/gen_torchscript_ops.py

Every operator *name* (all its overloads together: TorchScript picks the overload from
the arguments) is put in one family, each family with the reason it is safe.  A name
lands in a family only if *every* overload meets the family's criterion; names that meet
none are left out and therefore blocked.  The script prints what it left out so a
reviewer sees each exclusion when torch is upgraded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "safe_pip" / "scan" / "formats"
OUT = OUT / "torchscript_ops.py"

TORCH_VERSION = "2.13.0"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- the families -------------------------------------------------------------------
# aten: decided by the types in each schema.
DATA_TYPE = re.compile(
    r"Tensor|Scalar|ScalarType|Layout|MemoryFormat|QScheme|Device|Generator|Dimname|"
    r"SymInt|SymFloat|SymBool|int|float|complex|bool|number|NoneType|Any|AnyEnumType|"
    r"AnyClassType|t\d?|tVal|Future|Await|str"
)
"""Type names an ``aten`` operator may take or return and still count as computation.

``str`` appears here because strings are values in TorchScript; which *argument names*
may carry one is checked separately (:data:`TEXT_ARGUMENTS`).  The TorchBind classes of
:data:`TORCHBIND_CLASSES` (packed weights) count as data too."""

TEXT_ARGUMENTS = _words(
    """self a b s l t el item key dict string input inputs values substr separator chars
    fillchar old new to_add idx norm reduce rounding_mode mode interpolation driver UPLO
    approximate side padding padding_side pad_mode equation indexing ord p activation
    algorithm device_type type api_name assert_msg message"""
)
"""Names of ``str`` arguments reviewed as text, not paths: string and container
methods (``self``, ``substr``, ``separator``...), mode selectors of tensor kernels
(``rounding_mode``, ``approximate``, ``padding``, ``UPLO``, ``equation``...), device
strings and messages that are printed or raised.  ``filename`` (``aten::from_file``,
``aten::save``) is deliberately absent; a new argument name in a future torch is absent
until someone reviews it, so its operator is blocked rather than guessed safe."""

STORAGE_TYPES = re.compile(r"\bStorage\b|\bStream\b")

PRIM_FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    "prim-introspection": (
        "reads a property of a value already in memory (device, dtype, layout, flags, "
        "sizes, enum names)",
        _words(
            "device dtype layout requires_grad nbytes itemsize name index type data grad id "
            "is_cpu is_cuda is_ipu is_maia is_meta is_mkldnn is_mps is_mtia is_nested "
            "is_quantized is_sparse is_sparse_csr is_vulkan is_xla is_xpu EnumName EnumValue"
        ),
    ),
    "prim-values": (
        "pure computation on ints, floats, tuples, lists and optionals that the "
        "compiler emits for Python built-ins (min/max/abs, indexing, casts, unpacking)",
        _words(
            "abs min max rangelist NumToTensor StringIndex TupleIndex TupleUnpack "
            "ModuleContainerIndex IfThenElse unchecked_cast unchecked_unwrap_optional "
            "Uninitialized tolist ReductionSizes BroadcastSizes ChunkSizes ConstantChunk "
            "VarConcat VarStack AutogradAdd AutogradZero AutogradAllZero AutogradAllNonZero "
            "AutogradAnyNonZero"
        ),
    ),
    "prim-messages": (
        "writes to standard output, raises an exception, or reads a clock/counter: "
        "no file, process or network",
        _words("Print RaiseException AddStatValue TimePoint"),
    ),
    "prim-await": (
        "waits for or wraps a value computed by other (checked) code of the same model",
        _words("awaitable_nowait awaitable_wait"),
    ),
    "prim-mkldnn": (
        "oneDNN kernels on tensors in memory",
        _words(
            "MKLDNNClamp MKLDNNClamp_ MKLDNNHardSigmoid MKLDNNHardSigmoid_ MKLDNNHardSwish "
            "MKLDNNHardSwish_ MKLDNNHardTanh MKLDNNHardTanh_ MKLDNNLayerNorm MKLDNNLayerNorm_ "
            "MKLDNNScalarMul MKLDNNScalarMul_ mkldnn_convolution ConstantMKLDNNTensor "
            "BroadcastMKLDNNTensors"
        ),
    ),
}
"""``prim`` operators are few and mixed (RPC, Python calls, profiling, fusion-group
internals sit beside ``min``/``max``), so they are listed by name; every other ``prim``
operator (``rpc_async``, ``rpc_sync``, ``rpc_remote``, ``PythonOp``, ``profile``...) is
blocked."""

SCHEMA_NAMESPACES = ("aten", "quantized")
"""Namespaces judged by their schemas' types: ATen, and the quantized kernels that
scripted quantized models call as ``ops.quantized.linear(...)``."""

ATEN_FAMILIES = {
    "quantized-compute": "quantized kernels (ops.quantized.*) over tensors and packed "
    "weights in memory: no argument is a string",
    "quantized-text": "quantized kernels whose string arguments are mode selectors",
    "aten-compute": "ATen kernels over tensors, numbers and containers held in memory: no "
    "argument is a string, so none can name a file, a process or a host",
    "aten-text": "ATen operators whose string arguments are text (string and container "
    "methods, mode selectors such as rounding_mode or padding, device strings, messages), "
    "never a path",
    "aten-storage": "tensor storage and stream plumbing (set_, record_stream): moves memory "
    "between tensors the model already holds",
}

TORCHBIND_CLASSES = {
    "quantized.LinearPackedParamsBase": "packed int8 weights of quantized Linear layers",
    "quantized.Conv2dPackedParamsBase": "packed weights of quantized Conv1d/Conv2d layers",
    "quantized.Conv3dPackedParamsBase": "packed weights of quantized Conv3d layers",
    "quantized.EmbeddingPackedParamsBase": "packed weights of quantized embeddings",
    "sparse.LinearPackedParamsBase": "packed weights of sparse quantized Linear layers",
    "rnn.CellParamsBase": "packed weights of quantized LSTM/GRU cells",
    "mkldnn.ConvOpContext": "prepacked oneDNN convolution weights",
}
"""TorchBind (C++) classes a scripted model may hold: their native ``__setstate__`` only
rebuilds packed tensors.  Others in the registry (``c10d.ProcessGroup``/``Work``,
``dist_rpc.WorkerInfo``, ``profiling.*``, ``_nnapi.Compilation``, ``aten.OpaqueObject``,
``backendutils.*``) talk to other processes, run a device compiler or wrap arbitrary
objects; any class outside this table, including one a native library would add, is
reported."""


_PRIM_WHY = {
    "rpc_async": "remote procedure call: runs code in another process over the network",
    "rpc_sync": "remote procedure call: runs code in another process over the network",
    "rpc_remote": "remote procedure call: runs code in another process over the network",
    "PythonOp": "calls a Python function",
    "IgnoredPythonOp": "stands for a Python function left out of the script",
}


def _types(schema: Any) -> list[tuple[str, str]]:
    out = [(a.name, str(a.type)) for a in schema.arguments]
    out += [("", str(r.type)) for r in schema.returns]
    return out


def _schema_family(ns: str, overloads: list[Any]) -> tuple[str | None, str]:
    """The family of an operator name, or ``None`` and why it is left out."""
    family = f"{ns}-compute"
    for schema in overloads:
        for arg, typ in _types(schema):
            if "RRef" in typ:
                return None, "works on RPC remote references: talks to other processes"
            if STORAGE_TYPES.search(typ):
                family = f"{ns}-storage" if family != f"{ns}-text" else family
                continue
            words = re.findall(r"[A-Za-z_][\w.]*", typ)
            odd = [w for w in words if w not in _CONTAINERS and not _data_type(w)]
            if odd:
                return None, f"takes or returns {odd[0]}, which is not plain data"
            if "str" in words:
                if arg and arg not in TEXT_ARGUMENTS:
                    return None, f"its string argument {arg!r} is not text (a file name or path)"
                family = f"{ns}-text"
    return family, ""


def _data_type(word: str) -> bool:
    prefix = "__torch__.torch.classes."
    if word.startswith(prefix):
        return word[len(prefix) :] in TORCHBIND_CLASSES
    return DATA_TYPE.fullmatch(word) is not None


_CONTAINERS = frozenset({"List", "Tuple", "Dict", "Optional", "Union"})


def main() -> int:
    import torch

    if torch.__version__.split("+")[0] != TORCH_VERSION:
        print(f"expected torch {TORCH_VERSION}, found {torch.__version__}", file=sys.stderr)
        return 1
    by_name: dict[str, list[Any]] = defaultdict(list)
    for schema in torch._C._jit_get_all_schemas():
        by_name[schema.name].append(schema)
    families: dict[str, list[str]] = defaultdict(list)
    excluded: dict[str, str] = {}
    for name, overloads in sorted(by_name.items()):
        ns, _, op = name.partition("::")
        if ns in SCHEMA_NAMESPACES:
            fam, why = _schema_family(ns, overloads)
            if fam is None:
                excluded[name] = why
            else:
                families[fam].append(op)
    prim_names = {n.partition("::")[2] for n in by_name if n.startswith("prim::")}
    for fam, (_, ops) in PRIM_FAMILIES.items():
        missing = sorted(set(ops) - prim_names)
        if missing:
            print(f"{fam}: not in this torch's registry: {missing}", file=sys.stderr)
            return 1
        families[fam] = sorted(ops)
    listed = {o for _, ops in PRIM_FAMILIES.values() for o in ops}
    for n in sorted(prim_names - listed):
        excluded[f"prim::{n}"] = _PRIM_WHY.get(n, "not on the reviewed list of prim operators")
    classes = {
        s.arguments[0].type.str()
        for s in torch._C._jit_get_custom_class_schemas()
        if s.arguments and str(s.arguments[0].type).startswith("__torch__.torch.classes.")
    }
    prefix = "__torch__.torch.classes."
    present = {c[len(prefix) :] for c in classes}
    missing = sorted(set(TORCHBIND_CLASSES) - present)
    if missing:
        print(f"TorchBind classes not in this torch: {missing}", file=sys.stderr)
        return 1
    reasons = {**ATEN_FAMILIES, **{k: v[0] for k, v in PRIM_FAMILIES.items()}}
    OUT.write_text(_render(families, reasons, excluded, torch.__version__), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(OUT)], check=True)
    print(f"wrote {OUT} ({sum(map(len, families.values()))} operators)")
    print(f"left out (blocked): {sorted(excluded)}")
    print(f"TorchBind classes left out: {sorted(present - set(TORCHBIND_CLASSES))}")
    return 0


def _render(
    families: dict[str, list[str]], reasons: dict[str, str], excluded: dict[str, str], version: str
) -> str:
    lines = [
        '"""Operators TorchScript code may call: generated by scripts/gen_torchscript_ops.py.',
        "",
        f"From torch {version}'s operator registry; do not edit by hand.  Each family says",
        "why its operators cannot touch files, processes or the network.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "FAMILIES: dict[str, str] = {",
    ]
    for fam in sorted(families):
        lines.append(f"    {_q(fam)}: (")
        lines += [f"        {_q(chunk)}" for chunk in _wrap(reasons[fam], 80)]
        lines.append("    ),")
    lines += ["}", "", "_OPS: dict[str, str] = {"]
    for fam in sorted(families):
        lines.append(f"    {_q(fam)}: (")
        lines += [f"        {_q(chunk)}" for chunk in _wrap(" ".join(families[fam]), 80)]
        lines.append("    ),")
    lines += [
        "}",
        "",
        "OPS: dict[str, str] = {",
        "    f\"{fam.split('-', 1)[0]}::{op}\": fam",
        "    for fam, names in _OPS.items()",
        "    for op in names.split()",
        "}",
        '"""``namespace::name`` → family, for every operator TorchScript code may call."""',
        "",
        "TORCHBIND: dict[str, str] = {",
    ]
    for name, why in sorted(TORCHBIND_CLASSES.items()):
        lines.append(f"    {_q(name)}: {_q(why)},")
    lines += ["}", '"""TorchBind classes a scripted model may hold, each with its reason."""', ""]
    lines += ["EXCLUDED: dict[str, str] = {"]
    for name, why in sorted(excluded.items()):
        lines.append(f"    {_q(name)}: {_q(why)},")
    lines += [
        "}",
        '"""Operators of the registry that are blocked, with the reason (for messages)."""',
        "",
    ]
    return "\n".join(lines)


def _q(text: str) -> str:
    return json.dumps(text)


def _wrap(text: str, width: int) -> list[str]:
    words, out, cur = text.split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            out.append(cur + " ")
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    out.append(cur)
    return out


if __name__ == "__main__":
    sys.exit(main())
