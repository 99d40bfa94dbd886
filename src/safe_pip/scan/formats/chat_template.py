"""Jinja chat templates judged by jinja2's own parser: no path to Python internals.

A GGUF ``tokenizer.chat_template`` (and a tokenizer's ``chat_template``) is a Jinja
program.  Some runtimes render it in an unsandboxed environment (llama-cpp-python,
CVE-2024-34359), where ``x.__class__.__mro__[1].__subclasses__()`` reaches ``os``.  Every
such escape walks an attribute jinja2's own sandbox calls *internal*
(:func:`jinja2.sandbox.is_internal_attribute`): a name starting with ``_``, or a public
attribute of an interpreter object (``gi_frame`` of the generator a ``|map`` returns,
then ``f_globals``/``f_builtins`` of its frame).  So the template is parsed with
``jinja2.Environment().parse`` (never rendered) and every way jinja2 looks an attribute
up by name is judged:

* ``x.name``: ``name`` must not be internal;
* ``x[key]`` (jinja2 falls back to ``getattr`` for a string key): ``key`` must be shown
  not to be an internal name: a constant, a number (arithmetic, ``|length``,
  ``loop.index0``), a slice, a constant expression folded here (``'gi_' ~ 'frame'``), a
  variable every binding of which is such a key, or a key of the very mapping it indexes
  (``for k, v in d.items()`` … ``d[k]``).  Anything else (``'%c' % 95``, ``'{:c}'.format``,
  ``dict(__init__=1)|first``, a special token, a reversed string) may be computed into
  one and is reported;
* the attribute-name arguments of filters, found from each filter's own signature (every
  parameter named ``attribute``: ``groupby``, ``sort``, ``sum``, ``join``, ``unique``,
  ``min``, ``max``) and from the two that take it positionally (``map``,
  ``selectattr``/``rejectattr``); ``map('<filter>', …)`` is judged as that filter;
  ``|attr`` always;
* ``str.format``/``format_map`` (format fields read attributes: ``'{0.__class__}'``):
  the method may only be called on a constant whose fields (parsed by Python's own
  format parser) read no attribute or index, or appear where its value is only printed
  or tested;
* ``{% include %}``/``{% import %}``/``{% extends %}`` (read other templates through the
  runtime's loader).

A template-keyed string that jinja2 cannot parse is reported too: another Jinja
implementation may still render it.
"""

from __future__ import annotations

import enum
import inspect
import operator
import string
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, TypeVar, cast

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.sandbox import is_internal_attribute, modifies_known_mutable

FORMAT_METHODS = frozenset({"format", "format_map"})
"""``str`` methods that read attributes named inside their format string."""

NUMERIC_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round", "wordcount"})
"""Filters whose result is a number, never a name."""

LOOP_NUMBERS = frozenset(
    {"index", "index0", "revindex", "revindex0", "length", "depth", "depth0", "first", "last"}
)
"""Attributes of jinja2's ``loop`` object that are numbers or booleans."""

MAPPING_ITERATORS = frozenset({"items", "keys"})
"""Methods (and filters: ``|items``, ``|dictsort``) whose loop targets are a mapping's keys."""


class _Generation(Extension):
    """transformers' ``{% generation %}…{% endgeneration %}`` marker (AssistantTracker)."""

    tags = {"generation"}  # noqa: RUF012 - jinja2's Extension API

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


@cache
def _environment() -> Environment:
    """The parser chat-template runtimes configure (transformers adds these extensions)."""
    return Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", _Generation])


# -- which names are internal: jinja2's own predicate, asked about real objects ----------
def _samples() -> Iterator[object]:
    """One live object of each interpreter type jinja2's sandbox treats specially."""

    def function() -> None:
        return None

    class Holder:
        def method(self) -> None:
            return None

    async def coroutine() -> None:
        return None

    async def agen() -> Any:
        yield None

    yield function
    yield Holder().method
    yield Holder
    yield type  # ``mro`` is an attribute of the metaclass, absent from dir() of a class
    yield function.__code__
    yield sys._getframe()
    try:
        raise ValueError
    except ValueError as exc:
        yield exc.__traceback__
    gen = (x for x in range(0))
    yield gen
    coro = coroutine()
    yield coro
    coro.close()
    yield agen()


@cache
def internal_attributes() -> frozenset[str]:
    """Public names jinja2's sandbox refuses on interpreter objects (``gi_frame``, ``f_globals``,
    ``mro``…), minus names every plain value also has (``replace``, ``clear``): those are
    harmless without the object only the refused names reach."""
    plain: set[str] = set()
    values: tuple[object, ...] = ("", b"", 0, 0.0, 0j, [], (), {}, set(), frozenset(), range(0))
    for value in (*values, None):
        plain.update(dir(value))
    names: set[str] = set()
    for obj in _samples():
        names.update(
            a
            for a in dir(obj)
            if not a.startswith("_") and a not in plain and is_internal_attribute(obj, a)
        )
    return frozenset(names)


def is_internal(name: str) -> bool:
    """An attribute name whose lookup can reach Python internals."""
    return name.startswith("_") or name in internal_attributes()


@cache
def mutating_methods() -> frozenset[str]:
    """Methods jinja2's immutable sandbox refuses because they change a list, dict or set."""
    from collections import deque

    out: set[str] = set()
    values: tuple[object, ...] = ([], {}, set(), deque())
    for value in values:
        out.update(a for a in dir(value) if modifies_known_mutable(value, a))
    return frozenset(out)


@cache
def attribute_positions() -> dict[str, int]:
    """Filter name → position (after the value) of its ``attribute`` parameter."""
    out: dict[str, int] = {}
    for name, func in _environment().filters.items():
        params = list(inspect.signature(func).parameters.values())
        if getattr(func, "jinja_pass_arg", None) is not None:
            params = params[1:]  # context / environment / eval_ctx, passed by jinja2
        for i, p in enumerate(params[1:]):
            if p.name == "attribute":
                out[name] = i
    return out


def format_fields(fmt: str) -> list[str]:
    """Field names of a ``str.format`` string (nested ones too), by Python's own parser."""
    fields: list[str] = []
    todo = [fmt]
    while todo:
        try:
            for _, field, spec, _ in string.Formatter().parse(todo.pop()):
                if field is not None:
                    fields.append(field)
                if spec:
                    todo.append(spec)
        except ValueError:
            continue  # str.format raises here too, after the fields before it
    return fields


def format_reads_attributes(fmt: str) -> bool:
    return any("." in f or "[" in f for f in format_fields(fmt))


@dataclass(frozen=True)
class Problem:
    what: str
    line: int


class TemplateUnreadable(Exception):
    """jinja2 cannot parse the template."""


def template_problems(text: str) -> list[Problem]:
    """Every escape primitive in ``text``; raises :class:`TemplateUnreadable`."""
    try:
        tree = _environment().parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateUnreadable(f"line {exc.lineno}: {exc.message}") from exc
    except RecursionError as exc:
        raise TemplateUnreadable("nested too deeply to parse") from exc
    try:
        return list(_Checker(tree).problems())
    except RecursionError as exc:
        raise TemplateUnreadable("nested too deeply to judge") from exc


_NOT_CONSTANT = object()
_N = TypeVar("_N", bound=nodes.Node)


class Kind(enum.IntEnum):
    """What strings an expression may produce, as far as attribute names go."""

    CONST = 0
    """Numbers, booleans, and constants of the template that are not internal names."""
    INPUT = 1
    """Derived only from the conversation the user passes (messages, tools...)."""
    MIXED = 2
    """Either of the above: a safe key, but transforming it may make a name."""
    UNSAFE = 3
    """Computed by the template from pieces it chose: may be any name."""


def _join(*kinds: Kind) -> Kind:
    out = Kind.CONST
    for k in kinds:
        out = Kind.MIXED if {out, k} == {Kind.CONST, Kind.INPUT} else max(out, k)
    return out


CONVERSATION = frozenset(
    {
        "messages",
        "tools",
        "documents",
        "functions",
        "function_call",
        "tool_choice",
        "add_generation_prompt",
    }
)
"""Variables runtimes fill from the user's request (transformers' ``apply_chat_template``,
llama-cpp-python's chat formatter).  Every other variable a runtime passes may come from
the model itself (``bos_token``, ``eos_token`` and the other special tokens are the model's
vocabulary), so its value is the attacker's."""

SELECTING_FILTERS = frozenset(
    {
        "first",
        "last",
        "list",
        "items",
        "dictsort",
        "unique",
        "sort",
        "select",
        "reject",
        "selectattr",
        "rejectattr",
        "batch",
        "slice",
        "random",
        "min",
        "max",
        "default",
        "d",
    }
)
"""Filters whose result is made of their input's items and their arguments, never a
new string (a string input becomes single characters): ``|join``, ``|reverse``,
``|replace``, ``|format`` are absent, since they build new text."""

ITEM_METHODS = frozenset({"items", "keys", "values"})

MAX_PASSES = 32


class _Checker:
    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.parents: dict[int, nodes.Node] = {}
        self.by_type: dict[type[nodes.Node], list[nodes.Node]] = {}
        stack: list[nodes.Node] = [tree]
        while stack:  # one walk, in document order, without recursion
            node = stack.pop()
            self.by_type.setdefault(type(node), []).append(node)
            children = list(node.iter_child_nodes())
            for child in children:
                self.parents[id(child)] = node
            stack.extend(reversed(children))
        self.mutates = any(
            ref.attr in mutating_methods() for ref in self.all(nodes.Getattr)
        ) or any(
            isinstance(item.arg, nodes.Const) and item.arg.value in mutating_methods()
            for item in self.all(nodes.Getitem)
        )
        self.macros = {m.name for m in self.all(nodes.Macro)}
        self.macro_calls = self._macro_calls()
        self.loops: dict[str, list[nodes.For]] = {}
        for loop in self.all(nodes.For):
            names = {n.name for n in loop.target.find_all(nodes.Name)}
            if isinstance(loop.target, nodes.Name):
                names.add(loop.target.name)
            for name in names:
                self.loops.setdefault(name, []).append(loop)
        self.bindings = self._bindings()
        self.kinds: dict[str, Kind] = dict.fromkeys(self.bindings, Kind.CONST)
        self._settle()

    def all(self, cls: type[_N]) -> list[_N]:
        """Every node of exactly type ``cls`` (jinja2's node classes are not subclassed)."""
        return self.by_type.get(cls, [])  # type: ignore[return-value]

    # -- what each variable may be bound to ----------------------------------------------
    def _bindings(self) -> dict[str, list[Callable[[], Kind]]]:
        """Name (or ``ns.attr``) → the kind of each value it may be bound to."""
        out: dict[str, list[Callable[[], Kind]]] = {}

        def bind(target: nodes.Node, kind: Callable[[], Kind]) -> None:
            names = {n.name for n in target.find_all(nodes.Name)}
            if isinstance(target, nodes.Name):
                names.add(target.name)
            if isinstance(target, nodes.NSRef):
                names.add(f"{target.name}.{target.attr}")
            for name in names:
                out.setdefault(name, []).append(kind)

        def unsafe() -> Kind:
            return Kind.UNSAFE

        for assign in self.all(nodes.Assign):
            if isinstance(assign.target, (nodes.Name, nodes.NSRef)):
                bind(assign.target, partial(self.kind, assign.node))
            else:  # unpacking: each target is an item of the value
                bind(assign.target, partial(self.items, assign.node))
        for block in self.all(nodes.AssignBlock):
            bind(block.target, unsafe)
        for loop in self.all(nodes.For):
            bind(loop.target, partial(self.items, loop.iter))
        for with_ in self.all(nodes.With):
            for target, value in zip(with_.targets, with_.values, strict=False):
                bind(target, partial(self.kind, value))
        for macro in self.all(nodes.Macro):
            for i, arg in enumerate(macro.args):
                bind(arg, partial(self._macro_argument, macro, i))
        for call in self.all(nodes.CallBlock):
            for arg in call.args:
                bind(arg, unsafe)  # caller(...) arguments: not followed
        for special in ("varargs", "kwargs", "caller"):
            out.setdefault(special, []).append(unsafe)
        return out

    def _macro_calls(self) -> dict[str, list[nodes.Call] | None]:
        """Each macro's call sites; ``None`` when it escapes as a value or is defined twice
        (its callers, or which definition they reach, are then not followed)."""
        out: dict[str, list[nodes.Call] | None] = {}
        defined: dict[str, int] = {}
        for m in self.all(nodes.Macro):
            defined[m.name] = defined.get(m.name, 0) + 1
            out[m.name] = [] if defined[m.name] == 1 else None
        for ref in self.all(nodes.Name):
            calls = out.get(ref.name)
            if calls is None or ref.ctx != "load":
                continue
            call = self.parents.get(id(ref))
            if (
                not isinstance(call, nodes.Call)
                or call.node is not ref
                or call.dyn_args is not None
                or call.dyn_kwargs is not None
            ):
                out[ref.name] = None
            else:
                calls.append(call)
        return out

    def _macro_argument(self, macro: nodes.Macro, i: int) -> Kind:
        """Join of what every call of the macro passes as its ``i``-th argument."""
        calls = self.macro_calls.get(macro.name)
        if calls is None:
            return Kind.UNSAFE
        name = macro.args[i].name
        kinds: list[Kind] = []
        first_default = len(macro.args) - len(macro.defaults)
        if i >= first_default:
            kinds.append(self.kind(macro.defaults[i - first_default]))
        for call in calls:
            if i < len(call.args):
                kinds.append(self.kind(call.args[i]))
            kinds += [self.kind(kw.value) for kw in call.kwargs if kw.key == name]
        return _join(*kinds)

    def _settle(self) -> None:
        """Raise each variable's kind until stable (kinds only move toward UNSAFE).

        Bindings are evaluated in document order, so a chain of ``set`` statements settles
        in one pass; a template that has not settled after :data:`MAX_PASSES` passes has
        every variable treated as computed (fail closed, and bounded in time).
        """
        for _ in range(MAX_PASSES):
            changed = False
            for name, checks in self.bindings.items():
                new = _join(self.kinds[name], *(check() for check in checks))
                if new != self.kinds[name]:
                    self.kinds[name] = new
                    changed = True
            if not changed:
                return
        self.kinds = dict.fromkeys(self.bindings, Kind.UNSAFE)

    # -- the kind of an expression ---------------------------------------------------------
    def fold(self, node: nodes.Node) -> object:
        """The constant value of ``node`` if the template fixes it, else ``_NOT_CONSTANT``."""
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.TemplateData):
            return node.data
        if isinstance(node, (nodes.Add, nodes.Mul, nodes.Mod)):
            left, right = self.fold(node.left), self.fold(node.right)
            if left is _NOT_CONSTANT or right is _NOT_CONSTANT:
                return _NOT_CONSTANT
            if isinstance(node, nodes.Mul) and isinstance(right, int) and right > 1 << 16:
                return _NOT_CONSTANT
            try:
                return _OPERATORS[type(node)](left, right)
            except (TypeError, ValueError, OverflowError, MemoryError):
                return _NOT_CONSTANT
        if isinstance(node, nodes.Concat):
            parts = [self.fold(n) for n in node.nodes]
            if any(p is _NOT_CONSTANT for p in parts):
                return _NOT_CONSTANT
            return "".join(str(p) for p in parts)
        return _NOT_CONSTANT

    def numeric(self, node: nodes.Node) -> bool:
        """Is ``node`` a number or boolean whatever the data (never a string)?"""
        if isinstance(node, nodes.Const):
            return isinstance(node.value, (int, float, complex, bool)) or node.value is None
        if isinstance(node, (nodes.Neg, nodes.Pos, nodes.Sub, nodes.Div, nodes.FloorDiv)):
            return True  # strings do not negate, subtract or divide
        if isinstance(node, nodes.Pow):
            return True
        if isinstance(node, (nodes.Add, nodes.Mul, nodes.Mod)):
            return self.numeric(node.left) and self.numeric(node.right)
        if isinstance(node, (nodes.Compare, nodes.Test, nodes.Not)):
            return True
        if isinstance(node, nodes.Filter):
            return node.name in NUMERIC_FILTERS
        if isinstance(node, nodes.Getattr):
            return (
                isinstance(node.node, nodes.Name)
                and node.node.name == "loop"
                and "loop" not in self.bindings
                and node.attr in LOOP_NUMBERS
            )
        return False

    def kind(self, node: nodes.Node) -> Kind:
        """What strings evaluating ``node`` may produce (see :class:`Kind`)."""
        if self.numeric(node):
            return Kind.CONST
        value = self.fold(node)
        if value is not _NOT_CONSTANT:
            return Kind.UNSAFE if _has_internal(value) else Kind.CONST
        if isinstance(node, nodes.Slice):
            return Kind.CONST  # never a string, so jinja2 never turns it into getattr
        if isinstance(node, (nodes.List, nodes.Tuple)):
            return _join(*(self.kind(n) for n in node.items))
        if isinstance(node, nodes.Dict):
            return _join(*(_join(self.kind(p.key), self.kind(p.value)) for p in node.items))
        if isinstance(node, nodes.CondExpr):
            parts = [node.expr1] + ([node.expr2] if node.expr2 is not None else [])
            return _join(*(self.kind(n) for n in parts))
        if isinstance(node, (nodes.And, nodes.Or)):
            return _join(self.kind(node.left), self.kind(node.right))
        if isinstance(node, (nodes.Add, nodes.Concat)):
            parts = [node.left, node.right] if isinstance(node, nodes.Add) else node.nodes
            kinds = [self.kind(n) for n in parts]
            return Kind.INPUT if all(k == Kind.INPUT for k in kinds) else Kind.UNSAFE
        if isinstance(node, nodes.Name):
            return self._name(node.name)
        if isinstance(node, nodes.Getattr):
            key = Kind.UNSAFE if is_internal(node.attr) else Kind.CONST
            return _join(self._member(node.node, key), self._namespace_attr(node.attr))
        if isinstance(node, nodes.Getitem):
            arg = node.arg
            attr = _const_str(arg)
            return _join(self._member(node.node, self.kind(arg)), self._namespace_attr(attr))
        if isinstance(node, nodes.Filter):
            return self._filter_kind(node)
        if isinstance(node, nodes.Call):
            return self._call_kind(node)
        return Kind.UNSAFE

    def _name(self, name: str) -> Kind:
        if name in self.bindings:
            return self.kinds[name]
        if name in _environment().globals:
            return Kind.CONST  # range, dict, namespace...: not strings
        if name in CONVERSATION and not self.mutates:
            return Kind.INPUT
        return Kind.UNSAFE

    def _namespace_attr(self, attr: str | None) -> Kind:
        """What ``{% set <any namespace>.<attr> = … %}`` stored (``None``: any attribute).

        Namespaces are shared objects: a value stored through one name is read through
        every other name bound to the same namespace, so every such store counts."""
        stored = [
            self.kinds[n]
            for n in self.bindings
            if "." in n and (attr is None or n.rsplit(".", 1)[1] == attr)
        ]
        return _join(*stored)

    def _member(self, container: nodes.Node, key: Kind) -> Kind:
        """An item or attribute of ``container`` looked up with a key of kind ``key``."""
        if key == Kind.UNSAFE or self.mutates:
            return Kind.UNSAFE
        if isinstance(container, nodes.Name) and container.name == "loop":
            return Kind.UNSAFE  # loop.previtem, loop.cycle: items of any loop
        return self.kind(container)

    def items(self, node: nodes.Node) -> Kind:
        """The kind of each item the iterable ``node`` yields (loop and unpacking targets)."""
        if self.mutates:
            return Kind.UNSAFE
        return self.kind(node)

    def _args(self, node: nodes.Filter | nodes.Call) -> list[Kind]:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return [Kind.UNSAFE]
        keywords = cast("list[nodes.Keyword]", node.kwargs)  # jinja2 types them as Pair
        return [self.kind(a) for a in node.args] + [
            Kind.UNSAFE if is_internal(kw.key) else self.kind(kw.value) for kw in keywords
        ]

    def _filter_kind(self, node: nodes.Filter) -> Kind:
        base = self.kind(node.node) if node.node is not None else Kind.UNSAFE
        args = self._args(node)
        if node.name in SELECTING_FILTERS:
            return _join(base, *args)
        return _derived(base, args)

    def _call_kind(self, node: nodes.Call) -> Kind:
        func = node.node
        args = self._args(node)
        if isinstance(func, nodes.Name) and func.name not in self.bindings:
            if func.name == "range":
                return Kind.CONST
            if func.name in ("namespace", "dict"):
                return _join(*args)
            if func.name in self.macros:
                return Kind.UNSAFE  # renders template text
            return _derived(self._name(func.name), args)
        if isinstance(func, nodes.Getattr) and func.attr in ITEM_METHODS and not node.args:
            return self.kind(func.node)
        if isinstance(func, nodes.Getattr):
            return _derived(self.kind(func.node), args)
        return Kind.UNSAFE

    def _own_key(self, item: nodes.Getitem) -> bool:
        """``d[k]`` where every binding of ``k`` is a loop over ``d``'s own keys: a mapping
        lookup that succeeds, so jinja2 never falls back to ``getattr``."""
        key = item.arg
        if self.mutates or not isinstance(key, nodes.Name) or key.name not in self.bindings:
            return False
        loops = self.loops.get(key.name, [])
        if not loops or len(loops) != len(self.bindings[key.name]):
            return False  # bound elsewhere too
        want = repr(item.node)
        for loop in loops:
            target = loop.target
            first = target.items[0] if isinstance(target, nodes.Tuple) and target.items else target
            if not (isinstance(first, nodes.Name) and first.name == key.name):
                return False
            if not any(repr(m) == want for m in _mappings_iterated(loop.iter)):
                return False
        return True

    # -- the checks --------------------------------------------------------------------
    def problems(self) -> Iterator[Problem]:
        for ref in self.all(nodes.Getattr):
            if is_internal(ref.attr):
                yield Problem(f"attribute {ref.attr!r}", ref.lineno)
            elif ref.attr in FORMAT_METHODS:
                yield from self._format(ref, ref.node)
        for item in self.all(nodes.Getitem):
            key = item.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                if is_internal(key.value):
                    yield Problem(f"subscript [{key.value!r}]", item.lineno)
                elif key.value in FORMAT_METHODS:
                    yield from self._format(item, item.node)
            elif self.kind(key) == Kind.UNSAFE and not self._own_key(item):
                yield Problem(
                    "subscript with a computed key that may be an internal name", item.lineno
                )
        for filt in self.all(nodes.Filter):
            keywords = cast("list[nodes.Keyword]", filt.kwargs)  # jinja2 types them as Pair
            yield from self._filter(filt.name, filt.args, keywords, filt)
        loads: list[nodes.Node] = [
            *self.all(nodes.Include),
            *self.all(nodes.Import),
            *self.all(nodes.FromImport),
            *self.all(nodes.Extends),
        ]
        for load in loads:
            yield Problem(f"{type(load).__name__.lower()} of another template", load.lineno)

    def _filter(
        self,
        name: str,
        args: list[nodes.Expr],
        kwargs: list[nodes.Keyword],
        node: nodes.Filter,
    ) -> Iterator[Problem]:
        dynamic = node.dyn_args is not None or node.dyn_kwargs is not None
        if name == "attr":
            yield Problem("|attr filter (attribute by computed name)", node.lineno)
            return
        names: list[nodes.Expr] = [kw.value for kw in kwargs if kw.key == "attribute"]
        if name in ("selectattr", "rejectattr"):
            names += args[:1]
            dynamic = dynamic or not args
        elif name == "map":
            if not names:
                if not args:
                    if dynamic:
                        yield Problem("|map with computed arguments", node.lineno)
                    return
                inner = args[0]
                if not (isinstance(inner, nodes.Const) and isinstance(inner.value, str)):
                    yield Problem("|map with a computed filter name", node.lineno)
                    return
                yield from self._filter(inner.value, args[1:], kwargs, node)
                return
        elif name in attribute_positions():
            pos = attribute_positions()[name]
            names += args[pos : pos + 1]
        else:
            return
        if dynamic:
            yield Problem(f"|{name} with computed arguments", node.lineno)
        for arg in names:
            if not isinstance(arg, nodes.Const) or not isinstance(arg.value, (str, int)):
                yield Problem(f"|{name} with a computed attribute name", node.lineno)
            elif isinstance(arg.value, str) and any(
                is_internal(part) or part in FORMAT_METHODS for part in arg.value.split(".")
            ):
                yield Problem(f"|{name} attribute {arg.value!r}", node.lineno)

    def _format(self, ref: nodes.Node, receiver: nodes.Node) -> Iterator[Problem]:
        """``s.format``: called on a constant without attribute fields, or only printed."""
        parent = self.parents.get(id(ref))
        called = isinstance(parent, nodes.Call) and parent.node is ref
        if isinstance(receiver, nodes.Const) and isinstance(receiver.value, str):
            if format_reads_attributes(receiver.value):
                yield Problem("str.format with attribute or index fields", ref.lineno)
            return
        if called or not _inert(ref, parent):
            yield Problem("str.format on a computed format string", ref.lineno)


def _derived(base: Kind, args: list[Kind]) -> Kind:
    """A new value computed from ``base`` and ``args`` (a method, a text filter, a call):
    only the user's own data stays the user's; template constants may be made into names."""
    if base == Kind.INPUT and all(a in (Kind.INPUT, Kind.CONST) for a in args):
        return Kind.INPUT if all(a == Kind.INPUT for a in args) else Kind.UNSAFE
    return Kind.UNSAFE


def _const_str(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _has_internal(value: object) -> bool:
    if isinstance(value, str):
        return is_internal(value)
    if isinstance(value, (tuple, list)):
        return any(_has_internal(v) for v in value)
    if isinstance(value, dict):
        return any(_has_internal(k) or _has_internal(v) for k, v in value.items())
    return False


_OPERATORS: dict[type[nodes.Node], Callable[[Any, Any], object]] = {
    nodes.Add: operator.add,
    nodes.Mul: operator.mul,
    nodes.Mod: operator.mod,
}


def _inert(ref: nodes.Node, parent: nodes.Node | None) -> bool:
    """Is the value of ``ref`` only printed or tested where it stands (never called later)?"""
    if isinstance(parent, (nodes.Output, nodes.Compare, nodes.Operand, nodes.Not)):
        return True
    if isinstance(parent, nodes.Test):
        return parent.node is ref
    if isinstance(parent, (nodes.If, nodes.CondExpr)):
        return parent.test is ref
    return isinstance(parent, nodes.Concat)


def _mappings_iterated(node: nodes.Node) -> Iterator[nodes.Node]:
    """``d`` for ``d.items()``, ``d.keys()``, ``d|items``, ``d|dictsort``: loops whose
    first target is a key of the mapping ``d`` (a mapping: these fail on anything else)."""
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Getattr)
        and node.node.attr in MAPPING_ITERATORS
        and not node.args
    ):
        yield node.node.node
    elif isinstance(node, nodes.Filter) and node.name in ("items", "dictsort") and node.node:
        yield node.node
