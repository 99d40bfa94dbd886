"""``torch.export`` programs (``.pt2``): a graph that names callables, and strings torch evaluates.

``torch.export.load`` reads the archive's programs (``models/…``, or the older top-level
``serialized_exported_program.json``) and:

* parses every record under ``models/`` of the archive folder (any depth, any extension;
  the folder is found by ``archive_format``, located case-insensitively like every record);
* resolves every node ``target`` with ``getattr`` from ``torch``, ``operator`` or ``math``
  (``torch.ops.aten.add.Tensor``, but equally ``torch.serialization.os.system``), which
  ``ep.module()(...)`` then calls;
* parses every symbolic shape ``expr_str`` with ``sympy.sympify`` — Python ``eval`` — while
  *loading*;
* and ``ep.module()`` ``exec``s the ``guards_code`` strings inside generated Python.

So each target must be an allowed operator (the TorchScript families of
:mod:`torchscript_ops`, a few ``higher_order`` control-flow operators, pure ``operator``
and ``math`` functions, torch's symbolic-int helpers), and each string torch evaluates
must be a plain expression in a strict grammar (names, numbers, the arithmetic and
comparison operators, calls of the symbolic-shape functions torch itself emits); anything
else is ``PT2-CODE``.  AOTInductor members (``data/aotinductor/…``: shared libraries that
``aoti_load_package`` loads) are native code (``PT2-NATIVE-CODE``).  Pickled weights and
constants (``torch.load(weights_only=False)``, ``pickle.loads``) are ordinary members the
pickle engine judges.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats import torchscript
from safe_pip.scan.formats import torchscript_ops as table
from safe_pip.scan.formats.keras import zipfile_name


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_PROGRAM = 256 * 1024 * 1024
MAX_NODES = 5_000_000
LEGACY_PROGRAM = "serialized_exported_program.json"

HIGHER_ORDER = frozenset(
    {
        "cond",
        "while_loop",
        "map_impl",
        "scan",
        "associative_scan",
        "invoke_subgraph",
        "wrap_with_set_grad_enabled",
        "wrap_with_autocast",
        "auto_functionalized",
        "auto_functionalized_v2",
        "with_effects",
    }
)
"""``torch.ops.higher_order`` operators that run subgraphs of the same program (judged
here too) or another operator named in their arguments (``as_operator``, judged too)."""

OPERATOR_FUNCTIONS = _words(
    "getitem add sub mul truediv floordiv mod pow neg pos abs eq ne lt le gt ge and_ or_ "
    "xor not_ invert lshift rshift matmul is_ is_not contains"
)
"""Functions of :mod:`operator` that compute on their arguments (``attrgetter`` and
``methodcaller``, which reach attributes by name, are absent)."""

TORCH_SYMBOLIC = _words(
    "sym_int sym_float sym_ite sym_max sym_min sym_not sym_sum sym_sqrt _sym_sqrt "
    "sym_fresh_size _assert _assert_async _check _check_is_size"
)
"""``torch.<name>`` targets that are symbolic-shape helpers, not operators."""

SYMPY_CALLS = _words(
    "Symbol Integer Rational Float Add Mul Pow Mod Max Min Eq Ne Lt Le Gt Ge Equality "
    "Unequality StrictLessThan StrictGreaterThan LessThan GreaterThan And Or Not floor "
    "ceiling Abs Piecewise ITE sqrt FloorDiv ModularIndexing Where PythonMod CleanDiv "
    "CeilToInt FloorToInt CeilDiv LShift RShift PowByNatural FloatPow FloatTrueDiv "
    "IntTrueDiv IsNonOverlappingAndDenseIndicator TruncToFloat TruncToInt RoundToInt "
    "RoundDecimal ToFloat Identity OpaqueUnaryFn_sqrt OpaqueUnaryFn_exp "
    "OpaqueUnaryFn_log BitwiseFn_bitwise_and BitwiseFn_bitwise_or"
)
"""The sympy and ``torch.utils._sympy`` classes torch writes into ``expr_str``.  Anything
else reachable from sympify's namespace (``lambdify``, ``sympify``, ``preview``, which
runs LaTeX) is refused."""

GUARD_CALLS = frozenset({"IsNonOverlappingAndDenseIndicator", "cast_symbool_to_symint_guardless"})
GUARD_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_PLAIN_TEXT = re.compile(r"[\w.]*\Z")


def is_program(name: str, prefix: str | None) -> bool:
    """Is zip member ``name`` an exported program's graph that torch.export.load reads?

    ``_load_exported_programs`` takes *every* record that starts with ``models/`` (in
    subfolders too, whatever its extension: the model name is the path between
    ``models/`` and the last five characters) and parses it as a program.
    """
    if zipfile_name(name) == LEGACY_PROGRAM:
        return True  # the legacy reader goes through Python's zipfile
    if prefix is None:
        return False
    return name.startswith(f"{prefix}/models/") and not name.endswith("/")


def is_native(name: str, prefix: str | None) -> bool:
    return prefix is not None and name.startswith(f"{prefix}/data/aotinductor/")


def check_program(ctx: ScanContext, blob: Blob, location: str) -> None:
    """Judge one serialized exported program (its JSON)."""
    if blob.size > MAX_PROGRAM:
        ctx.report("PT2-UNREADABLE", "exported program larger than 256 MiB", location)
        return
    try:
        program = json.loads(blob.read(0, blob.size))
    except (ValueError, RecursionError) as exc:
        ctx.report("PT2-UNREADABLE", f"exported program is not JSON ({exc})", location)
        return
    if not isinstance(program, dict) or "graph_module" not in program:
        return  # not an exported program: torch.export.load would refuse it
    ctx.saw("torch-export-program")
    for i, guard in enumerate(program.get("guards_code") or []):
        if not isinstance(guard, str) or not guard_ok(guard):
            ctx.report(
                "PT2-CODE",
                f"guards_code[{i}] is not a plain shape guard; ep.module() executes it "
                f"as Python: {str(guard)[:200]!r}",
                location,
            )
    try:
        _judge_entries(ctx, program, location)
    except _TooLarge:
        ctx.report("PT2-UNREADABLE", "exported program is too large to judge", location)


def _judge_entries(ctx: ScanContext, program: dict[str, Any], location: str) -> None:
    for path, key, value in _walk(program):
        if key in ("target", "as_operator") and isinstance(value, str):
            _judge_target(ctx, value, path, location)
        elif key == "expr_str" and not (isinstance(value, str) and sympy_ok(value)):
            ctx.report(
                "PT2-CODE",
                f"symbolic expression at {path} is not a plain sympy expression; "
                f"torch.export.load evaluates it with sympify (eval): {str(value)[:200]!r}",
                location,
            )


def _walk(root: Any) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every dict entry, iteratively and bounded."""
    stack: list[tuple[Any, str]] = [(root, "")]
    seen = 0
    while stack:
        obj, path = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise _TooLarge
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield path, str(k), v
                stack.append((v, f"{path}/{k}"))
        elif isinstance(obj, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(obj))


class _TooLarge(Exception):
    pass


def _judge_target(ctx: ScanContext, target: str, path: str, location: str) -> None:
    where = path or "/"
    if target.startswith("torch.ops."):
        parts = target.split(".")
        if len(parts) not in (4, 5) or (len(parts) == 5 and not _overload_name(parts[4])):
            # torch writes torch.ops.<ns>.<op>[.<overload>]; deserialize_operator walks
            # any longer chain with getattr, from the operator object onwards
            _unsafe(ctx, target, where, location, "not an operator or one of its overloads")
            return
        ns, op = parts[2], parts[3]
        if ns == "higher_order":
            if op not in HIGHER_ORDER or len(parts) != 4:
                _unsafe(ctx, target, where, location, "not a reviewed higher-order operator")
            return
        use = torchscript.Use("op", f"{ns}::{op}", f"graph node {where}")
        torchscript.judge(ctx, [use], location)
        return
    head, _, rest = target.partition(".")
    if head == "_operator" and rest in OPERATOR_FUNCTIONS:
        return
    if head == "math" and rest.isidentifier() and not rest.startswith("_"):
        return  # the math module computes; it has no I/O
    if head == "torch" and rest in TORCH_SYMBOLIC:
        return
    if target.startswith("#"):
        ctx.report(
            "TORCHSCRIPT-CUSTOM-OP",
            f"graph node {where} calls the extension operator {target!r}: it exists only "
            "if a native library registered it",
            location,
            target=target,
        )
        return
    _unsafe(ctx, target, where, location, "torch.export resolves it with getattr and calls it")


def _overload_name(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_")


def _unsafe(ctx: ScanContext, target: str, where: str, location: str, why: str) -> None:
    known = table.EXCLUDED.get(target)
    ctx.report(
        "PT2-UNSAFE-TARGET",
        f"graph node {where} calls {target!r}: {known or why}",
        location,
        target=target,
    )


def sympy_ok(text: str) -> bool:
    """A plain sympy expression: names, numbers, operators, calls of torch's sympy classes."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in SYMPY_CALLS):
                return False
            strings = [
                a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if strings and (node.func.id != "Symbol" or node.args[0] is not strings[0]):
                return False
            if any(not isinstance(kw.value, ast.Constant) for kw in node.keywords):
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and not _PLAIN_TEXT.match(node.value):
                return False
        elif not isinstance(node, _EXPR_NODES):
            return False
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            return False
    return True


def guard_ok(text: str) -> bool:
    """A shape guard: L['x'].size()[0] <= 8, math.floor(...), comparisons and arithmetic."""
    if any(c in text for c in '"\\\n\r'):
        return False  # pasted into a double-quoted string of generated code
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            ok = (isinstance(func, ast.Name) and func.id in GUARD_CALLS) or (
                isinstance(func, ast.Attribute)
                and (
                    func.attr in GUARD_METHODS
                    or (isinstance(func.value, ast.Name) and func.value.id == "math")
                )
            )
            if not ok or node.keywords:
                return False
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or not (
                node.attr in GUARD_METHODS
                or (isinstance(node.value, ast.Name) and node.value.id == "math")
            ):
                return False
        elif isinstance(node, ast.Subscript):
            if not isinstance(node.slice, ast.Constant):
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and not _PLAIN_TEXT.match(node.value):
                return False
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                return False
        elif not isinstance(node, _EXPR_NODES):
            return False
    return True


_EXPR_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.Tuple,
    ast.keyword,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)


def archive_prefixes(names: set[str]) -> list[str | None]:
    """Folders torch.export.load reads as a PT2 archive (``None``: the legacy top level).

    ``PT2ArchiveReader`` checks ``<folder>/archive_format`` through torch's zip reader,
    which finds records case-insensitively (:func:`torchscript.record_key`), so
    ``<folder>/ARCHIVE_FORMAT`` makes a PT2 archive too.
    """
    found: set[str | None] = set()
    for n in names:
        head, sep, rest = n.partition("/")
        if sep and torchscript.record_key(rest) == "archive_format":
            found.add(head)
    if LEGACY_PROGRAM in {zipfile_name(n) for n in names}:
        found.add(None)
    return sorted(found, key=lambda f: (f is None, f or ""))


class ArchiveCheck:
    """Judges the programs and native members of a PT2 archive as the zip is read."""

    def __init__(self, prefixes: list[str | None]) -> None:
        self.prefixes = prefixes
        self.native_reported = False

    def member(self, ctx: ScanContext, name: str, data: Blob | None, loc: str) -> None:
        for prefix in self.prefixes:
            if is_program(name, prefix):
                if data is None:
                    ctx.report("PT2-UNREADABLE", "exported program could not be read", loc)
                else:
                    check_program(ctx, data, loc)
            elif is_native(name, prefix) and not name.endswith("/"):
                ctx.report(
                    "PT2-NATIVE-CODE",
                    "AOTInductor member: compiled native code that aoti_load_package loads "
                    "and runs; it cannot be judged",
                    loc,
                )
