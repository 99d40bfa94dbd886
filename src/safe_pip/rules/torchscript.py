"""Rules of the TorchScript and torch.export readers: code that torch compiles and runs.

A scripted model is a program: ``torch.jit.load`` compiles its ``code/`` and runs
scripted ``__setstate__`` methods while loading, and every method when the model is
called.  These rules name the operator or native class that program reaches.
"""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date "
    "(bind it to the file's sha256 where you can)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "TORCHSCRIPT-UNSAFE-OP",
        "TorchScript code calls an operator outside the allowlist",
        S.CRITICAL,
        "A scripted method, function or __setstate__ (which torch.jit.load runs while "
        "loading) calls an operator that is not in the allowlist generated from torch's "
        "own registry: aten::from_file (creates or overwrites any file), aten::save, RPC "
        "operators, prim::PythonOp, or a name torch's registry does not list. The finding "
        "names the operator and the method.",
        _EXC,
        suspicious=True,
    ),
    Rule(
        "TORCHSCRIPT-CUSTOM-OP",
        "TorchScript code calls an operator of a custom namespace",
        S.HIGH,
        "The code calls torch.ops.<namespace>.<op> outside aten/prim/quantized. Such an "
        "operator exists only after a native library (torch.ops.load_library or an "
        "imported extension) registered it; what it does is C++ code that is not in the "
        "model and cannot be judged here.",
        _EXC,
    ),
    Rule(
        "TORCHSCRIPT-CUSTOM-CLASS",
        "TorchScript model uses a native TorchBind class",
        S.HIGH,
        "The code or a pickle of the archive names __torch__.torch.classes.<ns>.<Class>, "
        "a C++ class whose __setstate__ and methods run native code (process groups, "
        "RPC, profilers, NNAPI, or a class a native library adds). Only the packed-weight "
        "classes of quantized layers are allowed.",
        _EXC,
    ),
    Rule(
        "TORCHSCRIPT-UNREADABLE",
        "TorchScript code could not be judged",
        S.HIGH,
        "A code/ file of a TorchScript archive, a flatbuffer (.ptl/.ff) module or its "
        "bytecode is not UTF-8, does not parse, uses getattr with a computed name, or "
        "exceeds the scanner's bounds. torch's own parser might accept it, so what it "
        "runs is unknown.",
        _EXC,
    ),
)

RULES += (
    Rule(
        "PT2-CODE",
        "torch.export program carries a string torch evaluates as code",
        S.CRITICAL,
        "A symbolic-shape expr_str of a .pt2 program is not a plain sympy expression "
        "(torch.export.load evaluates it with sympy.sympify, which is eval), or a "
        "guards_code entry is not a plain shape guard (ep.module() exec()s it inside "
        "generated Python). Either runs arbitrary Python.",
        _EXC,
    ),
    Rule(
        "PT2-UNSAFE-TARGET",
        "torch.export graph node calls something that is not an allowed operator",
        S.CRITICAL,
        "torch.export resolves each node target with getattr from torch, operator or math "
        "(so 'torch.serialization.os.system' resolves) and the program calls it when run. "
        "Only allowlisted ATen/prim/quantized operators, reviewed higher-order operators, "
        "pure operator/math functions and torch's symbolic-int helpers are allowed.",
        _EXC,
    ),
    Rule(
        "PT2-NATIVE-CODE",
        "torch.export archive carries AOTInductor native code",
        S.HIGH,
        "The .pt2 archive holds data/aotinductor/ members: shared libraries and kernels "
        "that torch._inductor.aoti_load_package loads and runs. Compiled code cannot be "
        "judged.",
        _EXC,
    ),
    Rule(
        "PT2-UNREADABLE",
        "torch.export program could not be judged",
        S.HIGH,
        "A models/*.json (or serialized_exported_program.json) of a .pt2 archive is not "
        "JSON, is too large, or could not be read; what torch.export.load would evaluate "
        "is unknown.",
        _EXC,
    ),
)
