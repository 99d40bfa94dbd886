"""TorchScript: the code of a scripted model, judged by what torch.jit would run.

``torch.jit.load`` (and ``torch.load`` on a scripted archive, which hands it over)
compiles every ``code/**/*.py`` file of the archive and runs scripted methods while
loading: the ``__setstate__`` of each scripted class it unpickles, and whatever those
call.  TorchScript is Python syntax over a closed world: a name resolves only to
operators of torch's registry (``torch.X`` is ``aten::X``, ``ops.ns.X`` is ``ns::X``,
``torch.autograd...`` folds back to ``aten``), to classes and functions of the archive
itself (``__torch__.*``), or to TorchBind classes compiled into a native library
(``__torch__.torch.classes.ns.Cls``).  So the code is parsed with :mod:`ast` and every
reference is resolved the way torch's source importer resolves it:

* an operator is allowed only if it is in :mod:`torchscript_ops` (generated from torch's
  registry: families of operators that cannot touch files, processes or the network);
  ``aten::from_file``/``aten::save`` (file names), RPC and Python-calling ``prim`` ops and
  any operator the registry does not list block (``TORCHSCRIPT-UNSAFE-OP``);
* an operator of another namespace needs a native library the loader must have loaded
  (``TORCHSCRIPT-CUSTOM-OP``); a TorchBind class outside the reviewed packed-weights
  classes likewise (``TORCHSCRIPT-CUSTOM-CLASS``);
* method calls on values (``s.from_file(...)`` on a string binds ``aten::from_file``)
  are checked against every operator of that name;
* a file that does not decode as UTF-8 or parse as Python, or that exceeds the bounds,
  is ``TORCHSCRIPT-UNREADABLE``: torch's own parser might still accept it.

The same judgement applies to the two other code carriers of a TorchScript model:
mobile bytecode (``bytecode.pkl``, read through the pickle engine) and the flatbuffer
format (``PTMF``), which ``torch.jit.load`` also accepts and whose functions name their
operators and whose ``jit_sources`` hold the same Python-syntax code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.sniff import is_torch_flatbuffer
from safe_pip.scan.formats import torchscript_ops as table

MAX_CODE_BYTES = 64 * 1024 * 1024
"""All code of one archive together; real models hold kilobytes to a few megabytes."""

SCHEMA_NAMESPACES = frozenset({"aten", "prim", "quantized"})
"""Namespaces whose operators the generated table judges; any other is a custom op."""

TORCHBIND_PREFIX = "__torch__.torch.classes."
_CLASS_TEXT = re.compile(r"__torch__\.torch\.classes\.[A-Za-z_][\w]*\.[A-Za-z_]\w*")
_OP_TEXT = re.compile(r"\b([A-Za-z_]\w*)::([A-Za-z_]\w*)\b")
_DOTTED_WORD = re.compile(r"""(?:\.|["'])\s*([A-Za-z_]\w*)""")
_OPS_TEXT = re.compile(r"\bops\s*\.\s*([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Use:
    """One executable thing the code refers to."""

    kind: str
    """``op``, ``class`` or ``unresolved``."""
    target: str
    where: str
    """The function or method it appears in (``__torch__.Evil.__setstate__``)."""
    line: int = 0


# -- resolving Python-syntax TorchScript ------------------------------------------
@dataclass(frozen=True)
class _Module:
    """``torch`` (the ``aten`` namespace) or ``ops.<ns>``: attributes are operators."""

    ns: str


@dataclass(frozen=True)
class _Ops:
    """The ``ops`` root: attributes are namespaces."""


@dataclass(frozen=True)
class _Classes:
    """A ``__torch__`` path: the archive's classes, or TorchBind under ``torch.classes``."""

    path: str


@dataclass(frozen=True)
class _Op:
    name: str


@dataclass(frozen=True)
class _GetAttr:
    """The ``getattr``/``hasattr`` special forms: the attribute named by a string constant."""


_Ref = _Module | _Ops | _Classes | _Op | _GetAttr
_Refs = frozenset[_Ref]
_NONE: _Refs = frozenset()

_ROOTS: dict[str, _Ref] = {
    "torch": _Module("aten"),
    "ops": _Ops(),
    "__torch__": _Classes("__torch__"),
    "getattr": _GetAttr(),
    "hasattr": _GetAttr(),
}
"""The source importer's environment (``import_source.cpp``) and the compiler's
``getattr``/``hasattr``; the other names they bind (``CONSTANTS``, ``fork``, ``annotate``,
``unchecked_cast``, ``uninitialized``, builtins such as ``print``/``len``) are special
forms or map to operators of the allowed families."""

MAX_ALIAS_PASSES = 64


class _Resolver(ast.NodeVisitor):
    """Resolves every reference of one code file the way torch's compiler does.

    TorchScript's environment holds *sugared* values, not only tensors and numbers: a
    local variable may be bound to ``ops``, a namespace (``o.mylib``), ``torch``, a
    ``__torch__`` path or an operator, and ``o = ops`` … ``o.mylib.op(x)`` calls
    ``mylib::op`` (``emitAssignment`` → ``setSugaredVar``).  So each function's local
    names are first resolved to what they may be bound to (all bindings, flow-
    insensitively), and every reference through them is judged like a direct one.
    """

    def __init__(self, qualifier: str) -> None:
        self.scope = [qualifier]
        self.uses: list[Use] = []
        self.aliases: list[dict[str, _Refs]] = [{}]

    @property
    def where(self) -> str:
        return ".".join(self.scope)

    def _use(self, kind: str, target: str, node: ast.AST) -> None:
        self.uses.append(Use(kind, target, self.where, getattr(node, "lineno", 0)))

    # scopes, so findings name the method
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.aliases.append(self._aliases(node))
        self.generic_visit(node)
        self.aliases.pop()
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _aliases(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, _Refs]:
        """Local names of ``fn`` bound to something other than a value, and to what."""
        pairs: list[tuple[str, ast.expr]] = []
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign):
                pairs += [(t.id, n.value) for t in n.targets if isinstance(t, ast.Name)]
            elif (
                isinstance(n, (ast.AnnAssign, ast.NamedExpr))
                and n.value is not None
                and isinstance(n.target, ast.Name)
            ):
                pairs.append((n.target.id, n.value))
        local: dict[str, _Refs] = {}
        self.aliases.append(local)
        try:
            for _ in range(MAX_ALIAS_PASSES):
                changed = False
                for name, value in pairs:
                    refs = self.refs(value, report=False)
                    if not refs <= local.get(name, _NONE):
                        local[name] = local.get(name, _NONE) | refs
                        changed = True
                if not changed:
                    return local
            self._use("unresolved", "local names bound to ever longer paths", fn)
            return local
        finally:
            self.aliases.pop()

    # references
    def refs(self, node: ast.expr, *, report: bool = True) -> _Refs:
        """What ``node`` may name in torch's resolver (empty: a value), reporting what it
        reaches when ``report``."""
        if isinstance(node, ast.Name):
            found = {_ROOTS[node.id]} if node.id in _ROOTS else set()
            for scope in self.aliases:
                found |= scope.get(node.id, _NONE)
            return frozenset(found)
        if isinstance(node, ast.Attribute):
            return self._attr(self.refs(node.value, report=report), node.attr, node, report)
        if self._is_getattr(node):
            assert isinstance(node, ast.Call)
            name = node.args[1]
            base = self.refs(node.args[0], report=report)
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                return self._attr(base, name.value, node, report)
            if report:
                self._use("unresolved", "getattr with a computed name", node)
            return _NONE
        if report:
            self.visit(node)
        return _NONE

    def _attr(self, bases: _Refs, attr: str, node: ast.AST, report: bool) -> _Refs:
        out: set[_Ref] = set()
        for base in bases:
            if isinstance(base, _Module):
                if attr == "autograd":
                    out.add(_Module("aten"))  # BuiltinModule::attr: torch.autograd.X is aten::X
                    continue
                op = f"{base.ns}::{attr}"
                if report:
                    self._use("op", op, node)
                out.add(_Op(op))
            elif isinstance(base, _Ops):
                out.add(_Module(attr))
            elif isinstance(base, _Classes):
                path = f"{base.path}.{attr}"
                if report and path.startswith(TORCHBIND_PREFIX) and path.count(".") == 4:
                    self._use("class", path, node)
                out.add(_Classes(path))
        if not bases and report:
            # A method or attribute of a value: a string, list, tensor... binds the
            # builtin operator of that name with the value as ``self``.
            for ns in ("aten", "prim"):
                if f"{ns}::{attr}" in table.EXCLUDED:
                    self._use("op", f"{ns}::{attr}", node)
        return frozenset(out)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.refs(node)

    def _is_getattr(self, node: ast.AST) -> bool:
        """A call of ``getattr``/``hasattr``, under its own name or a local one."""
        return (
            isinstance(node, ast.Call)
            and len(node.args) >= 2
            and any(isinstance(r, _GetAttr) for r in self.refs(node.func, report=False))
        )

    def visit_Call(self, node: ast.Call) -> None:
        if self._is_getattr(node):
            self.refs(node)
            for extra in node.args[2:]:
                self.visit(extra)
        else:
            self.refs(node.func)
            for arg in node.args:
                self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for m in _CLASS_TEXT.finditer(node.value):
                self._use("class", m.group(0), node)


def code_uses(source: str, qualifier: str) -> list[Use]:
    """Every operator and native class ``source`` (one ``code/`` file) refers to.

    Raises ``SyntaxError``/``ValueError`` when Python cannot parse it (the caller
    reports that; torch's parser might accept what Python's does not).
    """
    tree = ast.parse(source, filename=qualifier)
    resolver = _Resolver(qualifier)
    resolver.visit(tree)
    uses = resolver.uses
    seen = {u.target for u in uses}
    # Differential guard: a blocked operator named in the text but not found by the
    # resolver (a lexer that reads the file differently from Python's).
    for m in _DOTTED_WORD.finditer(source):
        for ns in ("aten", "prim"):
            op = f"{ns}::{m.group(1)}"
            if op in table.EXCLUDED and op not in seen:
                seen.add(op)
                uses.append(Use("op", op, f"{qualifier} (text)", source.count("\n", 0, m.start())))
    for m in _OPS_TEXT.finditer(source):
        op = f"{m.group(1)}::{m.group(2)}"
        if m.group(1) not in SCHEMA_NAMESPACES and op not in seen:
            seen.add(op)
            uses.append(Use("op", op, f"{qualifier} (text)", source.count("\n", 0, m.start())))
    for m in _CLASS_TEXT.finditer(source):
        if m.group(0) not in seen:
            seen.add(m.group(0))
            uses.append(Use("class", m.group(0), f"{qualifier} (text)"))
    return uses


def text_uses(strings: Iterable[str], where: str) -> Iterator[Use]:
    """Operators (``ns::name``) and TorchBind classes named by strings of bytecode."""
    for s in strings:
        for m in _OP_TEXT.finditer(s):
            yield Use("op", f"{m.group(1)}::{m.group(2)}", where)
        for m in _CLASS_TEXT.finditer(s):
            yield Use("class", m.group(0), where)


# -- judging ----------------------------------------------------------------------
def judge(ctx: ScanContext, uses: Iterable[Use], location: str) -> None:
    """Report every use that is not allowed (each target once per method)."""
    done: set[tuple[str, str]] = set()
    for use in uses:
        key = (use.target, use.where)
        if key in done:
            continue
        done.add(key)
        _judge_one(ctx, use, location)


def _judge_one(ctx: ScanContext, use: Use, location: str) -> None:
    at = f"{use.where}" + (f" (line {use.line})" if use.line else "")
    detail: dict[str, Any] = {"target": use.target, "method": use.where, "line": use.line}
    if use.kind == "unresolved":
        ctx.report(
            "TORCHSCRIPT-UNREADABLE",
            f"{at}: {use.target}; torch would refuse it or resolve it at load time",
            location,
            **detail,
        )
        return
    if use.kind == "class":
        short = use.target[len(TORCHBIND_PREFIX) :]
        if short not in table.TORCHBIND:
            ctx.report(
                "TORCHSCRIPT-CUSTOM-CLASS",
                f"{at} uses the native TorchBind class {use.target}, whose methods are C++ "
                "code outside the reviewed packed-weight classes",
                location,
                **detail,
            )
        return
    ns = use.target.split("::", 1)[0]
    if use.target in table.OPS:
        return
    if ns not in SCHEMA_NAMESPACES:
        ctx.report(
            "TORCHSCRIPT-CUSTOM-OP",
            f"{at} calls {use.target}, an operator of the custom namespace {ns!r}: it "
            "exists only if a native library is loaded first, and that code is not here",
            location,
            **detail,
        )
        return
    why = table.EXCLUDED.get(use.target, "not an operator of torch's registry")
    ctx.report(
        "TORCHSCRIPT-UNSAFE-OP",
        f"{at} calls {use.target}, which is not on the TorchScript operator allowlist: {why}",
        location,
        **detail,
    )


# -- archives -----------------------------------------------------------------------
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def record_key(name: str) -> str:
    """A member name as torch's zip reader compares it.

    ``PyTorchStreamReader`` finds records with miniz's ``mz_zip_reader_locate_file``,
    which compares names ASCII-case-insensitively (``MZ_TOLOWER``): ``archive/CODE/x.py``
    is the record ``archive/code/x.py``.
    """
    return name.translate(_ASCII_LOWER)


def archive_prefixes(names: Sequence[str], layout_prefix: str | None = None) -> list[str]:
    """Folders ``torch.jit.load`` could read as a TorchScript archive (as :func:`record_key`).

    torch takes the archive's folder from its *first* member and then reads
    ``<folder>/data.pkl`` and ``<folder>/code/…`` (case-insensitively), whatever else the
    zip holds, so every folder with both is checked, not only a zip whose every member
    sits in one folder.
    """
    keys = {record_key(n) for n in names}
    prefixes = {record_key(layout_prefix)} if layout_prefix is not None else set()
    for key in keys:
        head, sep, rest = key.partition("/")
        if sep and rest.startswith("code/") and f"{head}/data.pkl" in keys:
            prefixes.add(head)
    return sorted(prefixes)


def qualifier_of(member: str, prefix: str) -> str | None:
    """``<prefix>/code/__torch__/a/b.py`` → ``__torch__.a.b``: the name torch loads it by.

    Matched as torch's reader matches (:func:`record_key`), so ``<prefix>/CODE/x.PY``
    is code too.
    """
    head = f"{record_key(prefix)}/code/"
    key = record_key(member)
    if not key.startswith(head) or not key.endswith(".py"):
        return None
    return member[len(head) : -3].replace("/", ".")


class ArchiveCheck:
    """Collects a TorchScript archive's code while the zip is read, judges it at the end."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.code_bytes = 0
        self.over = False

    def member(self, ctx: ScanContext, name: str, data: Blob | None, loc: str) -> None:
        qualifier = qualifier_of(name, self.prefix)
        if qualifier is not None:
            ctx.saw("torchscript-code")
            if data is None:
                ctx.report("TORCHSCRIPT-UNREADABLE", "code file could not be read", loc)
                return
            self.code_bytes += data.size
            if self.code_bytes > MAX_CODE_BYTES:
                if not self.over:
                    ctx.report(
                        "TORCHSCRIPT-UNREADABLE",
                        f"more than {MAX_CODE_BYTES} bytes of TorchScript code; the rest "
                        "was not judged",
                        loc,
                    )
                self.over = True
                return
            check_source(ctx, data.read(0, data.size), qualifier, loc)
        elif data is not None and record_key(name).endswith(".pkl"):
            _check_pickle(ctx, data, loc)


def check_source(ctx: ScanContext, raw: bytes, qualifier: str, location: str) -> None:
    """Judge one file of TorchScript source (``code/…py`` or a flatbuffer jit source)."""
    try:
        source = raw.decode("utf-8")
        uses = code_uses(source, qualifier)
    except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        ctx.report(
            "TORCHSCRIPT-UNREADABLE",
            f"TorchScript code does not parse as UTF-8 Python ({type(exc).__name__}: "
            f"{str(exc)[:200]}); torch's own parser may still accept and run it",
            location,
        )
        return
    judge(ctx, uses, location)


def _check_pickle(ctx: ScanContext, blob: Blob, location: str) -> None:
    """Native classes and operators a TorchScript pickle names.

    ``data.pkl``/``constants.pkl`` name the archive's ``__torch__`` classes (judged
    through their code) and possibly TorchBind classes, whose ``__setstate__`` is C++;
    ``bytecode.pkl`` (the lite interpreter's program) lists the operators it calls.  The
    pickle engine reads them; its own findings are reported when the archive reader
    scans the member, so here only the names matter.
    """
    from safe_pip.scan.core.context import ScanContext as Scratch
    from safe_pip.scan.formats.pickle import PickleRead
    from safe_pip.scan.formats.pickle_reader import follow

    scratch = Scratch(ctx.limits)
    scratch.torchscript = 1
    read = PickleRead(scratch, blob, location)
    follow(read, read.load(0))
    uses: list[Use] = []
    for g in read.trace.globals.values():
        qual = f"{g.module}.{g.name}"
        if qual.startswith(TORCHBIND_PREFIX):
            uses.append(Use("class", qual, "pickled object"))
    for stream in read.streams:
        uses.extend(text_uses(_strings(stream.value), "mobile bytecode"))
    judge(ctx, uses, location)


def _strings(value: object, limit: int = 1_000_000) -> Iterator[str]:
    """Every string inside a pickled value (tuples, lists, dicts), bounded."""
    stack = [value]
    seen = 0
    while stack and seen < limit:
        v = stack.pop()
        seen += 1
        if isinstance(v, str):
            yield v
        elif isinstance(v, (tuple, list)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())


# -- the flatbuffer format ------------------------------------------------------------
# ``torch.jit.load`` checks sniff.FLATBUFFER_ID at offset 4 and, if present, loads the file
# as a flatbuffer module (``mobile_bytecode.fbs``) instead of a zip: a file that sniffs as
# plain data is then a program.

_FUNCTION, _OBJECT_TYPES, _IVALUES, _JIT_SOURCES = 16, 7, 4, 8
"""IValueUnion tag of Function; Module field slots of object_types, ivalues, jit_sources."""


def looks_like_flatbuffer(blob: Blob) -> bool:
    return is_torch_flatbuffer(blob.head(8), blob.size)


class _Corrupt(Exception):
    pass


class _Flat:
    """Bounds-checked reads of FlatBuffers tables, vectors and strings."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def u32(self, pos: int) -> int:
        if pos < 0 or pos + 4 > len(self.data):
            raise _Corrupt(f"offset {pos} is out of bounds")
        return int.from_bytes(self.data[pos : pos + 4], "little")

    def u16(self, pos: int) -> int:
        if pos < 0 or pos + 2 > len(self.data):
            raise _Corrupt(f"offset {pos} is out of bounds")
        return int.from_bytes(self.data[pos : pos + 2], "little")

    def field(self, table: int, slot: int) -> int | None:
        """Position of field ``slot`` of the table at ``table``, or ``None`` if absent."""
        soff = self.u32(table)
        vtable = table - (soff - (1 << 32) if soff >= 1 << 31 else soff)
        vsize = self.u16(vtable)
        if 4 + 2 * slot + 2 > vsize:
            return None
        off = self.u16(vtable + 4 + 2 * slot)
        return table + off if off else None

    def ref(self, table: int, slot: int) -> int | None:
        """Follow an offset field (table, vector or string) of a table."""
        pos = self.field(table, slot)
        return None if pos is None else pos + self.u32(pos)

    def vector(self, table: int, slot: int) -> list[int]:
        """Positions of the offset elements of a vector field (tables or strings)."""
        pos = self.ref(table, slot)
        if pos is None:
            return []
        n = self.u32(pos)
        if pos + 4 + 4 * n > len(self.data):
            raise _Corrupt(f"vector of {n} elements at {pos} runs past the end")
        return [pos + 4 + 4 * i + self.u32(pos + 4 + 4 * i) for i in range(n)]

    def string_at(self, pos: int) -> str:
        n = self.u32(pos)
        if pos + 4 + n > len(self.data):
            raise _Corrupt(f"string of {n} bytes at {pos} runs past the end")
        return self.data[pos + 4 : pos + 4 + n].decode("utf-8", "replace")

    def string(self, table: int, slot: int) -> str:
        pos = self.ref(table, slot)
        return "" if pos is None else self.string_at(pos)

    def byte(self, table: int, slot: int) -> int:
        pos = self.field(table, slot)
        if pos is None:
            return 0
        if pos >= len(self.data):
            raise _Corrupt(f"offset {pos} is out of bounds")
        return self.data[pos]


def read_flatbuffer(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """A flatbuffer TorchScript module: its functions' operators and its jit sources."""
    ctx.saw("torchscript-flatbuffer")
    if blob.size > ctx.limits.max_total_bytes:
        ctx.report("TORCHSCRIPT-UNREADABLE", "flatbuffer module is too large to read", location)
        return
    ctx.charge_bytes(blob.size, location)
    fb = _Flat(blob.read(0, blob.size))
    uses: list[Use] = []
    try:
        root = fb.u32(0)
        for i, iv in enumerate(fb.vector(root, _IVALUES)):
            if i & 0xFFF == 0:
                ctx.check_time(location)
            if fb.byte(iv, 0) != _FUNCTION:
                continue
            fn = fb.ref(iv, 1)
            if fn is None:
                continue
            where = fb.string(fn, 0) or f"function {i}"
            for op in fb.vector(fn, 2):
                name = fb.string(op, 0)
                uses.append(Use("op", name if "::" in name else f"?::{name}", where))
            uses.extend(text_uses((fb.string_at(p) for p in fb.vector(fn, 4)), where))
        uses.extend(
            text_uses((fb.string(t, 0) for t in fb.vector(root, _OBJECT_TYPES)), "object types")
        )
        sources = [(fb.string(f, 0), fb.string(f, 1)) for f in fb.vector(root, _JIT_SOURCES)]
    except _Corrupt as exc:
        ctx.report(
            "TORCHSCRIPT-UNREADABLE",
            f"flatbuffer TorchScript module is damaged ({exc}); torch may still load it",
            location,
        )
        return
    judge(ctx, uses, location)
    for name, text in sources:
        qualifier = name[:-3].replace("/", ".") if name.endswith(".py") else name
        check_source(ctx, text.encode("utf-8"), qualifier, f"{location}!{name}")
