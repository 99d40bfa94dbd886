"""Jinja chat templates judged by jinja2's own parser: no path to Python internals.

A GGUF ``tokenizer.chat_template`` (and a tokenizer's ``chat_template``) is a Jinja
program.  Some runtimes render it in an unsandboxed environment (llama-cpp-python,
CVE-2024-34359), where ``x.__class__.__mro__[1].__subclasses__()`` reaches ``os``.  Every
such escape walks an attribute whose name starts with ``_``, so the template is parsed
with ``jinja2.Environment().parse`` (never rendered) and these are blocked:

* attribute access (``x.name``) and subscripts (``x['name']``) whose name is, or may be
  computed to be, an underscore name: string keys are followed through concatenation
  (``~``, ``+``), ``*``, filters (``|join``, ``|reverse``, ``|replace``...), method calls
  and variables the template sets or loops over; a key that cannot be shown to be a
  number or a non-underscore string is treated as one;
* the name arguments of attribute filters (``|attr``, ``map(attribute=…)``,
  ``selectattr``, ``sort(attribute=…)``...), every dotted component of them;
* ``str.format``/``format_map`` (format fields read attributes: ``'{0.__class__}'``)
  unless the format string is a constant without attribute or index fields;
* ``{% include %}``/``{% import %}``/``{% extends %}`` (read other templates through the
  runtime's loader).

A template-keyed string that jinja2 cannot parse is reported too: another Jinja
implementation may still render it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser

ATTRIBUTE_FILTERS = frozenset(
    {"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"}
)
"""Built-in filters that look attributes up by a name given as an argument."""

NUMERIC_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round", "wordcount"})
"""Filters whose result is a number, never a name."""

_FORMAT_FIELD = re.compile(r"\{[^{}]*[.\[][^{}]*\}")


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
    return list(_Checker(tree).problems())


class _Checker:
    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.tainted = self._tainted_names()

    # -- which template variables may hold an underscore name -----------------------
    def _assignments(self) -> Iterator[tuple[nodes.Node, nodes.Node | None]]:
        """(target, value) of every binding the template makes; value None = unknown."""
        for assign in self.tree.find_all(nodes.Assign):
            yield assign.target, assign.node
        for block in self.tree.find_all(nodes.AssignBlock):
            yield block.target, None
        for loop in self.tree.find_all(nodes.For):
            yield loop.target, loop.iter
        for with_ in self.tree.find_all(nodes.With):
            yield from zip(with_.targets, with_.values, strict=False)
        for macro in self.tree.find_all(nodes.Macro):
            for arg in macro.args:
                yield arg, None  # arguments come from the template's own calls
        for call in self.tree.find_all(nodes.CallBlock):
            for arg in call.args:
                yield arg, None

    def _tainted_names(self) -> set[str]:
        tainted: set[str] = set()
        pairs = list(self._assignments())
        changed = True
        while changed:
            changed = False
            for target, value in pairs:
                names = {n.name for n in target.find_all(nodes.Name)}
                if isinstance(target, nodes.Name):
                    names.add(target.name)
                if isinstance(target, nodes.NSRef):
                    names.add(f"{target.name}.{target.attr}")
                if names <= tainted:
                    continue
                if value is None or self._may_hold_name(value, tainted):
                    tainted |= names
                    changed = True
        return tainted

    def _may_hold_name(self, node: nodes.Node, tainted: set[str]) -> bool:
        """Could evaluating ``node`` (or anything inside it) produce an underscore name?"""
        for const in node.find_all(nodes.Const):
            if isinstance(const.value, str) and "_" in const.value:
                return True
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return "_" in node.value
        for name in node.find_all(nodes.Name):
            if name.name in tainted:
                return True
        for ref in node.find_all(nodes.Getattr):
            if isinstance(ref.node, nodes.Name) and f"{ref.node.name}.{ref.attr}" in tainted:
                return True
        return isinstance(node, nodes.Name) and node.name in tainted

    def _key_is_safe(self, key: nodes.Node) -> bool:
        """A subscript key shown to be a number, a slice or a non-underscore string."""
        if isinstance(key, nodes.Const):
            return not (isinstance(key.value, str) and key.value.startswith("_"))
        if isinstance(key, nodes.Slice):
            return all(p is None or self._key_is_safe(p) for p in (key.start, key.stop, key.step))
        if isinstance(key, (nodes.Neg, nodes.Pos)):
            return self._key_is_safe(key.node)
        if isinstance(key, (nodes.Sub, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)):
            return True  # numbers only: strings do not subtract or divide
        if isinstance(key, (nodes.Add, nodes.Mul)):
            # loop.index0 + 1; a string sum or repetition is safe only if every part is
            return self._key_is_safe(key.left) and self._key_is_safe(key.right)
        if isinstance(key, nodes.Concat):
            return all(self._key_is_safe(part) for part in key.nodes)
        if isinstance(key, nodes.Filter) and key.name in NUMERIC_FILTERS:
            return True
        if isinstance(key, nodes.Name):
            return key.name not in self.tainted
        if isinstance(key, nodes.Getattr):
            # data the caller passed (loop.index0, message.role): safe unless the
            # template stored a computed name there (namespace attributes)
            if isinstance(key.node, nodes.Name) and (
                key.node.name in self.tainted or f"{key.node.name}.{key.attr}" in self.tainted
            ):
                return False
            return self._key_is_safe(key.node) if isinstance(key.node, nodes.Getattr) else True
        if isinstance(key, nodes.Getitem):
            return self._key_is_safe(key.arg) and not self._may_hold_name(key.node, self.tainted)
        return False

    # -- the checks -------------------------------------------------------------------
    def problems(self) -> Iterator[Problem]:
        for ref in self.tree.find_all(nodes.Getattr):
            if ref.attr.startswith("_"):
                yield Problem(f"attribute {ref.attr!r}", ref.lineno)
        for item in self.tree.find_all(nodes.Getitem):
            if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
                if item.arg.value.startswith("_"):
                    yield Problem(f"subscript [{item.arg.value!r}]", item.lineno)
            elif not self._key_is_safe(item.arg):
                yield Problem(
                    "subscript with a computed key that may be an underscore name", item.lineno
                )
        for filt in self.tree.find_all(nodes.Filter):
            yield from self._filter(filt)
        for call in self.tree.find_all(nodes.Call):
            yield from self._call(call)
        for load in self.tree.find_all(
            (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
        ):
            yield Problem(f"{type(load).__name__.lower()} of another template", load.lineno)

    def _filter(self, node: nodes.Filter) -> Iterator[Problem]:
        if node.name == "attr":
            yield Problem("|attr filter (attribute by computed name)", node.lineno)
            return
        if node.name not in ATTRIBUTE_FILTERS:
            return
        names = [kw.value for kw in node.kwargs if kw.key == "attribute"]
        if node.name in ("selectattr", "rejectattr", "map") and node.args:
            names.append(node.args[0])
        for arg in names:
            if not isinstance(arg, nodes.Const) or not isinstance(arg.value, (str, int)):
                yield Problem(f"|{node.name} with a computed attribute name", node.lineno)
            elif isinstance(arg.value, str) and any(
                part.startswith("_") for part in arg.value.split(".")
            ):
                yield Problem(f"|{node.name} attribute {arg.value!r}", node.lineno)

    def _call(self, node: nodes.Call) -> Iterator[Problem]:
        func = node.node
        if not isinstance(func, nodes.Getattr) or func.attr not in ("format", "format_map"):
            return
        fmt = func.node
        if not (isinstance(fmt, nodes.Const) and isinstance(fmt.value, str)):
            yield Problem(f".{func.attr}() on a computed format string", node.lineno)
        elif _FORMAT_FIELD.search(fmt.value):
            yield Problem(f".{func.attr}() with attribute or index fields", node.lineno)
