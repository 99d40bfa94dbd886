"""Inert recording stand-ins for everything a pickle would import or create by calling.

CPython's unpickler (C or pure Python) runs the real opcodes; whenever it would reach
outside plain data — ``find_class``, a call, ``cls.__new__``, ``__setstate__``,
``extend``/``append``/``add``, item assignment on an object — it meets one of these
stand-ins instead, which writes down what was asked of it into a :class:`Trace` and
hands back another stand-in.  Nothing of the artifact's choosing is ever imported or run.

Stand-ins must never fail where a real object would not, or the unpickler would stop
early and later opcodes would go unread:

* ``find_class`` returns a *type* (NEWOBJ / NEWOBJ_EX insist on ``cls`` being a type
  and call ``cls.__new__(cls, ...)``), one per ``(module, name)`` so identity holds;
* the type is callable with any arguments, hashable, accepts BUILD, SETITEM, APPEND(S)
  and ADDITEMS aimed at the global itself (recorded as mutations of a global);
* what a call returns is an :class:`Instance`: callable (recorded as an indirect call),
  hashable, iterable and a mapping (both empty, so ``f(*x)`` / ``f(**x)`` in the pure
  Python unpickler work), with ``__setstate__``, ``extend``, ``append``, ``add`` and
  ``__setitem__`` that record;
* a few allowlisted builtin *value constructors* (``str``, ``int``, ``tuple``,
  ``collections.OrderedDict``...) called on plain data return the real value, computed
  here under size bounds, because the unpickler's own control flow depends on such
  values (``STACK_GLOBAL`` requires exact ``str`` operands, REDUCE a real ``tuple``):
  a stand-in there would make the engine stop where the loader goes on.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from safe_pip.scan.formats.pickle.names import canonical

MAX_DISTINCT_GLOBALS = 10_000
"""Distinct (module, name) pairs tracked one by one per trace; the rest are counted."""

MAX_RECORDS = 200_000
"""Calls, builds and persistent ids kept for analysis per trace (counted beyond)."""

MAX_REAL_VALUE = 1 << 20
"""Largest item count or byte size a value constructor is evaluated for (else a stand-in)."""


class Position:
    """Where the unpickler's reader is, for locating events in the file."""

    __slots__ = ("pos", "window")

    def __init__(self) -> None:
        self.pos = 0
        self.window = 0


@dataclass
class GlobalRec:
    """One ``(module, name)`` the pickle makes the loader import."""

    module: str
    name: str
    pos: int
    window: int
    order: int
    count: int = 1
    uses: set[str] = field(default_factory=set)
    """What was done with it: ``call``, ``new`` (instantiated), ``mutate`` (BUILD,
    SETITEM, APPEND, ADDITEMS on the global itself), ``handed`` (given to an allowlisted
    helper that calls it or sets it as state), ``persid`` (inside a persistent id),
    ``bound`` (the function of a ``functools.partial``: called only if the partial is),
    ``inst`` (INST/OBJ without arguments: instantiated if a class, else called)."""
    stand_in: type | None = None
    constructor: Callable[..., Any] | None = None
    """For allowlisted builtin value constructors: computes the real value on plain data."""


@dataclass
class CallRec:
    """A call the loader would make: REDUCE / OBJ / INST (``call``) or NEWOBJ (``new``)."""

    kind: str
    callee: Any
    args: Any
    kwargs: Any
    pos: int
    result: Any = None


@dataclass
class Trace:
    """Everything the unpickler asked of the stand-ins while loading one or more streams."""

    position: Position = field(default_factory=Position)
    globals: dict[tuple[str, str], GlobalRec] = field(default_factory=dict)
    untracked_globals: int = 0
    calls: list[CallRec] = field(default_factory=list)
    indirect: list[CallRec] = field(default_factory=list)
    mutations: list[tuple[GlobalRec, str, int]] = field(default_factory=list)
    persids: list[tuple[Any, int]] = field(default_factory=list)
    dropped: int = 0
    """Records beyond MAX_RECORDS (counted, not kept: analysis then fails closed)."""
    hand_over: frozenset[tuple[str, str]] = frozenset()
    """Classes (canonical names) whose BUILD ends this reading: another loader's reading
    (joblib's, for its array wrappers) takes over from there."""

    def keep(self, seq: list[Any], item: Any) -> None:
        if len(seq) < MAX_RECORDS:
            seq.append(item)
        else:
            self.dropped += 1


class HandOver(Exception):
    """Raised by a BUILD on a class in ``Trace.hand_over``."""


# --- global stand-ins ------------------------------------------------------------------


class GlobalType(type):
    """Metaclass of the stand-ins ``find_class`` returns: records what is done to a global.

    Only the names the unpicklers look up on a BUILD / APPEND(S) / ADDITEMS target are
    answered (with recorders); any other attribute does not exist, exactly as for an
    ordinary class without it (``__getinitargs__``, for OBJ/INST, must be missing).
    """

    _sp_rec: GlobalRec
    _sp_trace: Trace

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        trace = cls._sp_trace
        cls._sp_rec.uses.add("call")
        rec = CallRec("call", cls, args, kwargs, trace.position.pos)
        result = _real_value(cls._sp_rec, args, kwargs)
        if result is _NO_VALUE:
            result = rec.result = Instance(rec, trace)
        # a real value is not kept: the loaded object graph must die with the unpickler
        trace.keep(trace.calls, rec)
        return result

    def __getattr__(cls, name: str) -> Any:
        if name in _MUTATORS:
            return _GlobalMutator(cls, _MUTATORS[name])
        if name == "__getinitargs__":
            # only INST/OBJ without arguments ask, just before ``cls.__new__(cls)``: the
            # real loader *calls* the name instead when it is not a class
            cls._sp_rec.uses.add("inst")
        raise AttributeError(name)

    def __setitem__(cls, key: Any, value: Any) -> None:
        _mutated(cls, "SETITEM")

    def __iter__(cls) -> Iterator[Any]:
        return iter(())

    def keys(cls) -> tuple[()]:
        return ()

    def __repr__(cls) -> str:
        return f"<global {cls._sp_rec.module}.{cls._sp_rec.name}>"


_MUTATORS = {"__setstate__": "BUILD", "extend": "APPENDS", "append": "APPEND", "add": "ADDITEMS"}


class _GlobalMutator:
    """``global.__setstate__`` / ``.extend`` / ...: calling it records a mutation."""

    __slots__ = ("cls", "what")

    def __init__(self, cls: GlobalType, what: str) -> None:
        self.cls = cls
        self.what = what

    def __call__(self, *args: Any) -> None:
        _mutated(self.cls, self.what)


def _mutated(cls: GlobalType, what: str) -> None:
    rec = cls._sp_rec
    rec.uses.add("mutate")
    trace = cls._sp_trace
    trace.keep(trace.mutations, (rec, what, trace.position.pos))


def _newobj(cls: Any, *args: Any, **kwargs: Any) -> Instance:
    """``cls.__new__(cls, *args)``: NEWOBJ, NEWOBJ_EX, and OBJ/INST without arguments."""
    if not isinstance(cls, GlobalType):  # pure-Python NEWOBJ on an instance
        raise TypeError("__new__ needs a type")
    trace = cls._sp_trace
    cls._sp_rec.uses.add("new")
    rec = CallRec("new", cls, args, kwargs, trace.position.pos)
    result = rec.result = Instance(rec, trace)
    trace.keep(trace.calls, rec)
    return result


def make_global(trace: Trace, module: str, name: str) -> GlobalType:
    """The stand-in ``find_class(module, name)`` returns, one per name per trace."""
    key = (module, name)
    pos = trace.position
    rec = trace.globals.get(key)
    if rec is not None:
        rec.count += 1
        assert rec.stand_in is not None
        return rec.stand_in  # type: ignore[return-value]
    rec = GlobalRec(module, name, pos.pos, pos.window, len(trace.globals))
    if len(trace.globals) >= MAX_DISTINCT_GLOBALS:
        trace.untracked_globals += 1
        key = ("*", "*")
        if key in trace.globals:
            return trace.globals[key].stand_in  # type: ignore[return-value]
        rec = GlobalRec("*", "*", pos.pos, pos.window, len(trace.globals))
    rec.constructor = VALUE_CONSTRUCTORS.get(canonical(module, name))
    stand_in = GlobalType(
        "StandIn",
        (),
        {"__new__": _newobj, "__slots__": (), "_sp_rec": rec, "_sp_trace": trace},
    )
    rec.stand_in = stand_in
    trace.globals[key] = rec
    return stand_in


# --- instances ---------------------------------------------------------------------------


class Instance:
    """What a call, NEWOBJ or persistent id produced: records how it is used afterwards."""

    __slots__ = ("items", "origin", "states", "trace")

    def __init__(self, origin: CallRec | tuple[str, Any], trace: Trace) -> None:
        self.origin = origin
        """The :class:`CallRec` that made it, or ``("persid", pid)``."""
        self.trace = trace
        self.states: list[Any] | None = None
        self.items: list[Any] | None = None

    def __setstate__(self, state: Any) -> None:
        if self.trace.hand_over and isinstance(self.origin, CallRec):
            callee = self.origin.callee
            if isinstance(callee, GlobalType):
                rec = callee._sp_rec
                if canonical(rec.module, rec.name) in self.trace.hand_over:
                    raise HandOver
        if self.states is None:
            self.states = []
        if len(self.states) < 64:
            self.states.append(state)

    def _add(self, values: Any) -> None:
        if self.items is None:
            self.items = []
        if len(self.items) < MAX_RECORDS:
            self.items.append(values)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._add((key, value))

    def extend(self, values: Any) -> None:
        self._add(values)

    def append(self, value: Any) -> None:
        self._add(value)

    def add(self, value: Any) -> None:
        self._add(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Instance:
        trace = self.trace
        rec = CallRec("call", self, args, kwargs, trace.position.pos)
        result = rec.result = Instance(rec, trace)
        trace.keep(trace.indirect, rec)
        return result

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def keys(self) -> tuple[()]:
        return ()

    def __repr__(self) -> str:
        return "<result of a call>" if isinstance(self.origin, CallRec) else f"<{self.origin[0]}>"


def persistent(trace: Trace, pid: Any) -> Instance:
    """A stand-in for what a loader's ``persistent_load(pid)`` returns (a storage)."""
    trace.keep(trace.persids, (pid, trace.position.pos))
    return Instance(("persid", pid), trace)


# --- value constructors ------------------------------------------------------------------

_NO_VALUE = object()
_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray)
_CONTAINERS = (tuple, list, dict, set, frozenset)


def _sized(value: Any) -> bool:
    """A plain value small enough to hand to a real constructor."""
    if isinstance(value, (str, bytes, bytearray, *_CONTAINERS)):
        return len(value) <= MAX_REAL_VALUE
    return isinstance(value, _PLAIN)


def _str(*args: Any) -> Any:
    if len(args) == 1 and isinstance(args[0], (str, int, float, type(None))):
        return str(args[0])  # the interpreter's digit limit bounds ints
    encoded = 2 <= len(args) <= 3 and isinstance(args[0], (bytes, bytearray))
    if encoded and all(isinstance(a, str) for a in args[1:]):
        return str(*args)
    return _NO_VALUE


def _bytes_like(kind: Callable[..., Any]) -> Callable[..., Any]:
    def build(*args: Any) -> Any:
        if not args:
            return kind()
        first = args[0]
        if len(args) == 1:
            if isinstance(first, int) and not 0 <= first <= MAX_REAL_VALUE:
                return _NO_VALUE
            if isinstance(first, (list, tuple)) and not all(type(x) is int for x in first):
                return _NO_VALUE
            if isinstance(first, (int, bytes, bytearray, list, tuple)):
                return kind(first)
        if isinstance(first, str) and len(args) <= 3 and all(isinstance(a, str) for a in args):
            return kind(*args)
        return _NO_VALUE

    return build


def _number(kind: Callable[..., Any]) -> Callable[..., Any]:
    def build(*args: Any) -> Any:
        if all(isinstance(a, (int, float, complex, str, bytes)) for a in args):
            return kind(*args)
        return _NO_VALUE

    return build


_MAPPINGS = (dict, collections.OrderedDict)


def _iterable(kind: Callable[..., Any]) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        if (kwargs and kind not in _MAPPINGS) or len(args) > 1:
            return _NO_VALUE
        if not all(isinstance(v, (str, *_CONTAINERS)) for v in args):
            return _NO_VALUE
        if kind in _MAPPINGS and args and not _pairs_or_mapping(args[0]):
            return _NO_VALUE
        return kind(*args, **kwargs)

    return build


def _pairs_or_mapping(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(p, (tuple, list)) and len(p) == 2 for p in value)
    return False


def _defaultdict(*args: Any) -> Any:
    if not args or not isinstance(args[0], (GlobalType, type(None))):
        return _NO_VALUE
    rest = args[1:]
    if len(rest) > 1 or not all(_pairs_or_mapping(v) for v in rest):
        return _NO_VALUE
    return collections.defaultdict(args[0], *rest)


def _slice(*args: Any) -> Any:
    return slice(*args) if 1 <= len(args) <= 3 else _NO_VALUE


def _range(*args: Any) -> Any:
    if 1 <= len(args) <= 3 and all(type(a) is int for a in args):
        return range(*args)
    return _NO_VALUE


VALUE_CONSTRUCTORS: dict[tuple[str, str], Callable[..., Any]] = {
    ("builtins", "str"): _str,
    ("builtins", "bytes"): _bytes_like(bytes),
    ("builtins", "bytearray"): _bytes_like(bytearray),
    ("builtins", "int"): _number(int),
    ("builtins", "float"): _number(float),
    ("builtins", "complex"): _number(complex),
    ("builtins", "bool"): _number(bool),
    ("builtins", "tuple"): _iterable(tuple),
    ("builtins", "list"): _iterable(list),
    ("builtins", "dict"): _iterable(dict),
    ("builtins", "set"): _iterable(set),
    ("builtins", "frozenset"): _iterable(frozenset),
    ("builtins", "slice"): _slice,
    ("builtins", "range"): _range,
    ("collections", "OrderedDict"): _iterable(collections.OrderedDict),
    ("collections", "defaultdict"): _defaultdict,
}
"""Allowlisted builtin constructors whose result on plain data is computed for real,
keyed by the canonical (py3) name a py2 name maps to."""


def _real_value(rec: GlobalRec, args: tuple[Any, ...], kwargs: Any) -> Any:
    build = rec.constructor
    if build is None or not all(_sized(a) for a in args):
        return _NO_VALUE
    if not all(isinstance(k, str) and _sized(v) for k, v in kwargs.items()):
        return _NO_VALUE
    try:
        return build(*args, **kwargs)
    except (TypeError, ValueError, OverflowError, MemoryError, UnicodeError, LookupError):
        return _NO_VALUE
