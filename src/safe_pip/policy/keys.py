"""Each policy key declared once: dataclass field metadata drives parsing, merging and display.

A policy key is a field of one of the frozen dataclasses in :mod:`safe_pip.policy.model`,
declared with one of the constructors below.  The declaration says everything the rest of
the package needs, so a key cannot be added to the parser and forgotten by the merge::

    @dataclass(frozen=True)
    class InstallPolicy:
        allow_sdist: bool = setting(False, plain(v.boolean), OFF_ONLY, doc="...")

What reads the declarations:

- **parsing** (``policy.parse``): a table's keys are looked up one level at a time among
  its declared fields, so a TOML key is a *path*: a quoted ``"install.allow_sdist"`` is
  one key with a dot in its name, which no table declares, and is reported with its line;
- **the schema**: unknown keys (with "did you mean"), types and messages come from the
  field's parser; required entry fields are the ones without a default;
- **merging** (``policy.layering``): a ``setting`` takes the value of the lowest layer
  that sets it, but a layer may only change a value that bounds it as its ``Tighten``
  permits; ``collect`` and ``entries`` accumulate, and their ``check`` drops what a layer
  may not add;
- **display** (``policy.show``): one line per key, in declaration order, with its origin;
- **the digest** (``Policy.digest``): every compared field.

Kinds of field:

``setting(default, parse, tighten)``
    A value (bool, number, duration, list...) that a lower layer replaces.
``ranked(default, *strict_to_loose)``
    A choice whose values rank from strictest to loosest; the one tuple gives the accepted
    values, the tighten rule and its message.
``table(cls)``
    A nested ``[section]`` whose keys are ``cls``'s fields.
``collect(parse)``
    A list whose items accumulate across layers (``names.deny``); adding only tightens.
``entries(cls, toml=..., check=...)``
    An array of tables (``[[package]]``) of ``cls``, whose fields are ``entry_field``s;
    ``check`` bounds what a lower layer may add.
``entry_field(parse)``
    A key inside an entry (or inside ``[remote]``); required when it has no default.
``embed(cls)``
    The fields of ``cls`` read from the same table (``[remote]`` carries a signer pin).

To add a key: declare the field where it belongs in ``model.py``; nothing else changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from safe_pip.policy import values as v

T = TypeVar("T")
LayerName = Literal["default", "org", "user", "project", "cli"]

_META = "safe_pip.policy"


# -- where a value came from --------------------------------------------------------------
@dataclass(frozen=True)
class SourceRef:
    """Where a value came from: the layer, the file and the line."""

    layer: LayerName
    path: Path | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` for messages, or ``built-in default``."""
        if self.path is None:
            return "built-in default"
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return "built-in default" if self.path is None else f"{self.layer} {self.where}"


BUILTIN = SourceRef("default")


class Context(Protocol):
    """What a parser may ask about the file being read."""

    @property
    def base(self) -> Path:
        """The folder of the policy file (relative paths are relative to it)."""
        ...

    def source(self, item: str | None = None) -> SourceRef:
        """Where the key being parsed is (or ``item``, a string inside its array)."""
        ...


Parser = Callable[[object, Context], Any]


class BadItem(ValueError):
    """A list item is invalid; ``item`` lets the locator find its line."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


def plain(fn: Callable[[object], Any]) -> Parser:
    """A parser from a validator that needs no context."""
    return lambda value, _ctx: fn(value)


def items(fn: Callable[[str], Any]) -> Parser:
    """An array of strings, each checked by ``fn``; a bad item is located by its text."""

    def parse(value: object, _ctx: Context) -> tuple[Any, ...]:
        out: list[Any] = []
        for item in v.string_list(value):
            try:
                out.append(fn(item))
            except ValueError as exc:
                raise BadItem(item, str(exc)) from None
        return tuple(out)

    return parse


def path_value(value: object, ctx: Context) -> Path:
    """A file path, relative to the policy file's folder."""
    return v.path(value, ctx.base)


# -- how a lower layer may change a value --------------------------------------------------
@dataclass(frozen=True)
class Tighten:
    """``permits(lower, upper)``: may a lower layer set ``lower`` where ``upper`` applies?"""

    permits: Callable[[Any, Any], bool]
    rule: str
    """How the value may change, for messages ("may only be lowered")."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _at_most(lower: object, upper: object) -> bool:
    if isinstance(lower, dt.timedelta) and isinstance(upper, dt.timedelta):
        return lower <= upper
    a, b = _number(lower), _number(upper)
    return a is not None and b is not None and a <= b


def _at_least(lower: object, upper: object) -> bool:
    if isinstance(lower, dt.timedelta) and isinstance(upper, dt.timedelta):
        return lower >= upper
    a, b = _number(lower), _number(upper)
    return a is not None and b is not None and a >= b


def _subset(lower: object, upper: object) -> bool:
    return isinstance(lower, tuple) and isinstance(upper, tuple) and set(lower) <= set(upper)


LOWER = Tighten(_at_most, "may only be lowered")
HIGHER = Tighten(_at_least, "may only be raised")
OFF_ONLY = Tighten(lambda lower, upper: lower is False or upper is True, "may only be turned off")
ON_ONLY = Tighten(lambda lower, upper: lower is True or upper is False, "may only be turned on")
FIXED = Tighten(lambda lower, upper: bool(lower == upper), "cannot be changed")


def subset(rule: str) -> Tighten:
    """A list that a lower layer may only narrow, with its own message."""
    return Tighten(_subset, rule)


def _order(strict_to_loose: tuple[str, ...]) -> Callable[[Any, Any], bool]:
    def permits(lower: object, upper: object) -> bool:
        if lower not in strict_to_loose or upper not in strict_to_loose:
            return False
        return strict_to_loose.index(str(lower)) <= strict_to_loose.index(str(upper))

    return permits


# -- refusals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conflict:
    """A lower layer tried to loosen what bounds it; the upper value still applies."""

    key: str
    lower: SourceRef
    upper: SourceRef | None
    """What bounds the lower layer; ``None`` when nothing may be added at all."""
    message: str

    def __str__(self) -> str:
        if self.upper is None:
            return f"{self.lower.where}: {self.message}"
        if self.upper.path is None:
            return f"{self.lower.where}: {self.message} (the built-in default applies)"
        who = self.upper.layer
        return (
            f"{self.lower.where}: {self.message} "
            f"({who} rule at {self.upper.where}; the {who}'s rule applies)"
        )


def whose(ref: SourceRef) -> str:
    """``the org's`` / ``the user's`` ... or ``the built-in default``, for messages."""
    return "the built-in default" if ref.path is None else f"the {ref.layer}'s"


@dataclass(frozen=True)
class Bound:
    """A value that bounds a layer, and where it was set."""

    value: Any
    source: SourceRef


class Bounds(Protocol):
    """What one layer may not loosen (see ``policy.layering``)."""

    @property
    def layer(self) -> LayerName: ...

    @property
    def below_user(self) -> bool:
        """Project, ``--policy`` and flags: bounded by everything above, defaults included."""
        ...

    def setting(self, key: str) -> Bound | None:
        """The value ``key`` may not be loosened from, or ``None`` when it is free."""
        ...

    def collected(self, key: str) -> Sequence[Any]:
        """Items the bounding layers collected under ``key`` (their ``names.deny``...)."""
        ...


Check = Callable[[Sequence[Any], Bounds, list[Conflict]], list[Any]]
"""``check(items, bounds, conflicts)``: the items a layer may add; refusals go to conflicts."""


# -- declarations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    """The metadata of one declared field (see the module docstring)."""

    kind: Literal["setting", "table", "collect", "entries", "field", "embed"]
    parse: Parser | None = None
    tighten: Tighten | None = None
    cls: type | None = None
    check: Check | None = None
    toml: str | None = None
    show: Callable[[Any], str] | None = None
    org_only: bool = False
    doc: str = ""


def _field(default: Any, key: Key, *, factory: Callable[[], Any] | None = None) -> Any:
    metadata = {_META: key}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def setting(
    default: T,
    parse: Parser,
    tighten: Tighten,
    *,
    doc: str,
    show: Callable[[Any], str] | None = None,
    check: Check | None = None,
    org_only: bool = False,
) -> T:
    """A value a lower layer replaces, within ``tighten`` of what bounds it.

    ``check`` (for list values whose items carry sources) drops items that loosen in a way
    a single comparison cannot see, such as a typosquat exemption for a denied name.
    """
    key = Key("setting", parse, tighten, check=check, show=show, org_only=org_only, doc=doc)
    return _field(default, key)  # type: ignore[no-any-return]


def ranked(default: str, *strict_to_loose: str, doc: str) -> Any:
    """A choice ranked from strictest to loosest: values, tighten rule and message in one."""
    rule = f"may only be tightened ({' → '.join(reversed(strict_to_loose))})"
    return setting(
        default,
        plain(v.choice(strict_to_loose)),
        Tighten(_order(strict_to_loose), rule),
        doc=doc,
    )


def table(cls: type[T], *, doc: str) -> T:
    """A nested ``[section]`` holding ``cls``'s keys."""
    return _field(dataclasses.MISSING, Key("table", cls=cls, doc=doc), factory=cls)  # type: ignore[no-any-return]


def collect(parse: Parser, *, doc: str, show: Callable[[Any], str] | None = None) -> Any:
    """A list whose items accumulate across layers (adding only tightens)."""
    return _field((), Key("collect", parse, show=show, doc=doc))


def entries(cls: type, *, toml: str, check: Check | None, doc: str) -> Any:
    """An array of tables ``[[toml]]`` of ``cls``; ``check`` bounds lower layers' entries."""
    return _field((), Key("entries", cls=cls, check=check, toml=toml, doc=doc))


def entry_field(
    parse: Parser,
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    toml: str | None = None,
    show: Callable[[Any], str] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A key inside an entry or a fixed table; required when it has no default."""
    return _field(default, Key("field", parse, toml=toml, show=show, doc=doc), factory=factory)


def embed(cls: type, *, doc: str) -> Any:
    """``cls``'s fields, read from the same table as the fields around it."""
    return _field(dataclasses.MISSING, Key("embed", cls=cls, doc=doc))


# -- reading the declarations ---------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """One declared field: its TOML name, Python name, dotted key and metadata."""

    name: str
    attr: str
    key: str
    meta: Key
    field: dataclasses.Field[Any]

    @property
    def required(self) -> bool:
        f = self.field
        return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def members(cls: type, prefix: str = "") -> list[Member]:
    """The declared fields of ``cls`` (undeclared ones such as ``source`` are skipped)."""
    out: list[Member] = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_META)
        if isinstance(meta, Key):
            out.append(Member(meta.toml or f.name, f.name, prefix + f.name, meta, f))
    return out


def by_name(cls: type, prefix: str = "") -> dict[str, Member]:
    """TOML name → member, for one table (embedded fields included)."""
    out: dict[str, Member] = {}
    for m in members(cls, prefix):
        if m.meta.kind == "embed" and m.meta.cls is not None:
            out.update(by_name(m.meta.cls, prefix))
        else:
            out[m.name] = m
    return out


def walk(cls: type, prefix: str = "") -> Iterator[Member]:
    """Every setting, collected list and entry array under ``cls``, tables flattened."""
    for m in members(cls, prefix):
        if m.meta.kind == "table" and m.meta.cls is not None:
            yield from walk(m.meta.cls, m.key + ".")
        else:
            yield m


def default_of(m: Member) -> Any:
    f = m.field
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def build(cls: type[T], settings: Mapping[str, Any], collected: Mapping[str, Sequence[Any]]) -> T:
    """An instance of ``cls`` from effective values by dotted key; unset keys keep defaults."""

    def make(c: type, prefix: str) -> Any:
        kwargs: dict[str, Any] = {}
        for m in members(c, prefix):
            if m.meta.kind == "table" and m.meta.cls is not None:
                kwargs[m.attr] = make(m.meta.cls, m.key + ".")
            elif m.meta.kind == "setting" and m.key in settings:
                kwargs[m.attr] = settings[m.key]
            elif m.meta.kind in ("collect", "entries") and m.key in collected:
                kwargs[m.attr] = tuple(collected[m.key])
        return c(**kwargs)

    result: T = make(cls, "")
    return result


def unknown_message(key: str, known: Sequence[str], where: str) -> str:
    """``unknown key 'x' in install; did you mean 'y'?``, and why a quoted dot is no path."""
    import difflib  # only for a mistyped key: not on every run that loads a policy

    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    if "." in key:
        table, _, name = key.rpartition(".")
        hint += f"; a quoted key is one name, not a path: write {name} = ... under [{table}]"
    return f"unknown key {key!r} in {where}{hint}"


def read_entry(
    cls: type[T], raw: Mapping[str, Any], ctx: Context, label: str, *, array: bool = False
) -> tuple[T | None, list[tuple[str | None, str, str | None]]]:
    """Read one table into ``cls``: the instance (or ``None``) and every problem.

    Problems are ``(key or None, message, item or None)`` so the caller can locate the
    line.  ``label`` names the table in messages (``package``, ``remote``; ``array`` for an
    entry of an array of tables).  Fields that are not declared (``source``) get
    ``ctx.source()`` when they are called ``source``.
    """
    declared = by_name(cls)
    problems: list[tuple[str | None, str, str | None]] = []
    for name in raw:
        if name not in declared:
            problems.append((name, unknown_message(name, sorted(declared), label), None))
    for name, m in declared.items():
        if m.required and m.meta.kind != "embed" and name not in raw:
            header = f"[[{label}]]" if array else f"[{label}]"
            problems.append((None, f"{header} is missing required key {name!r}", None))
    values: dict[str, Any] = {}
    for name, m in declared.items():
        if name not in raw or m.meta.parse is None:
            continue
        try:
            values[name] = m.meta.parse(raw[name], ctx)
        except BadItem as exc:
            problems.append((name, f"{label}.{name}: {exc}", exc.item))
        except ValueError as exc:
            problems.append((name, f"{label}.{name}: {exc}", None))
    if problems:
        return None, problems
    return _construct(cls, values, ctx), []


def _construct(cls: type[T], values: Mapping[str, Any], ctx: Context) -> T:
    kwargs: dict[str, Any] = {}
    for m in members(cls):
        if m.meta.kind == "embed" and m.meta.cls is not None:
            kwargs[m.attr] = _construct(m.meta.cls, values, ctx)
        elif m.name in values:
            kwargs[m.attr] = values[m.name]
    if any(f.name == "source" for f in dataclasses.fields(cls)):  # type: ignore[arg-type]
        kwargs["source"] = ctx.source()
    result: T = cls(**kwargs)
    return result


def from_table(cls: type[T], raw: object, ctx: Context, label: str) -> T:
    """A nested table (a publisher pin) as ``cls``, or ``ValueError`` naming the first problem."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected a table, got {v.type_name(raw)}")
    made, problems = read_entry(cls, raw, ctx, label)
    if made is None:
        raise ValueError(problems[0][1])
    return made
