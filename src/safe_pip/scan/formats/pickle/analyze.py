"""Turn what the stand-ins recorded into findings: names, calls, hand-offs, breaks.

A global is allowed only when every name a loader may import for it is on the
allowlist; a call only when what it calls is.  Allowlisted helpers that call or
instantiate what they are handed (``allowlist.HANDLES``) pass that judgement on: what
they are handed is judged as if the pickle used it itself.  ``functools.partial``
*binds* its function: calling the partial (REDUCE on it, a helper that calls it) calls
the function; a partial nothing calls leaves it stored.  The relaxations, each a
criterion rather than a list of packages, and each only when every stream was read to
its end:

* a builtin that is only *stored* (a value in a dict, never called, instantiated,
  mutated or handed to a helper that calls it) is not a gadget call; importing
  ``builtins`` runs nothing (``PICKLE-GLOBAL-VALUE``, low);
* inside a wheel, a name of the wheel's own top-level packages that the pickle only
  instantiates (NEWOBJ, ``copyreg._reconstructor``; not INST/OBJ, which call a name
  that is not a class) and gives state, or only stores
  (also as the function of a partial nothing calls), is that package's data, wherever
  it sits (``PICKLE-GLOBAL-OWN-DATA``, low).  Calling the package's code with
  arguments, handing it to a helper that calls it, or any other package's name still
  blocks;
* inside a wheel, a name of a distribution the wheel unconditionally requires
  (``scan/dist/requires.py``) that is only stored (not in a partial: bound arguments
  would make another package's function callable with the pickle's arguments) is a
  value: importing its module runs code the user installs with the wheel anyway
  (``PICKLE-GLOBAL-VALUE``, low);
* inside a wheel, a pickle in a test folder of one of its own packages that calls no
  function that is not allowlisted (it only instantiates classes and gives them state),
  hands nothing to a helper that calls it and names no known gadget is test data: the
  other packages' classes it instantiates are ``PICKLE-GLOBAL-TEST-DATA`` (low).  It is
  inert unless something loads it: code of the wheel that unpickles a file when imported
  is judged by the source rules (``PY-UNSAFE-LOAD``), and a load inside a function runs
  only when someone calls it (a test runner).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from safe_pip.scan.core.paths import package_test_member
from safe_pip.scan.formats.pickle.allowlist import HANDLES, Handles, is_allowed
from safe_pip.scan.formats.pickle.denylist import dangerous_reason
from safe_pip.scan.formats.pickle.engine import Stream
from safe_pip.scan.formats.pickle.names import canonical, imported_names
from safe_pip.scan.formats.pickle.read import PickleRead
from safe_pip.scan.formats.pickle.standins import CallRec, GlobalRec, GlobalType, Instance

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
"""The integer a legacy (non-zip) ``torch.save`` file pickles first."""

MAX_GLOBAL_FINDINGS = 100
"""Distinct unlisted globals reported one by one per member; the rest are summarised."""

MAX_EVENT_FINDINGS = 100
"""Indirect calls, mutations and persistent ids reported one by one per member."""

_WALK_LIMIT = 1_000_000
"""Objects visited when following what a helper is handed (beyond: fail closed)."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def looks_like_pickle_start(head: bytes) -> bool:
    """Cheap pre-check: a protocol 2+ header, or a plausible protocol 0/1 first opcode."""
    if not head:
        return False
    if head[0] == 0x80:
        return len(head) > 1 and head[1] <= 5
    return head[0] in _P0_FIRST


# Opcodes a protocol 0/1 pickle can reasonably start with.
_P0_FIRST = frozenset(b"(]})cNIJKLMFGSTUVXdlptg")


def plausible(read: PickleRead) -> bool:
    """Is this header-less data a protocol 0/1 pickle that would do something if loaded?

    Text often parses as a few opcodes: a CSV line starting with ``c`` is a GLOBAL, a
    ``.`` later is STOP.  What matters is whether loading it could import a real module
    and call it: a global whose names are identifiers (an import of ``"a,b,c"`` fails
    before anything runs), and either a whole stream or a call made before the break,
    or a known gadget's name (a payload whose tail was damaged on purpose).
    """
    trace = read.trace
    named = [g for g in trace.globals.values() if _IDENT.match(g.module) and _IDENT.match(g.name)]
    first = read.streams[0] if read.streams else None
    # ``ends`` is set when any unpickler read the first stream to its STOP (the
    # pure-Python one is more lenient than the C one in places)
    if first is not None and (first.complete or first.ends or trace.calls or trace.indirect):
        return bool(named)
    return any(dangerous_reason(g.module, g.name) for g in named)


# --- hand-offs to allowlisted helpers ----------------------------------------------------


class _Judge:
    """Follows what allowlisted helpers are handed and collects the resulting findings."""

    def __init__(self, read: PickleRead) -> None:
        self.read = read
        self.own = read.ctx.own_packages
        self.roots = self.own | read.ctx.required_packages
        """Top-level import names whose code the user installs with the wheel anyway."""
        self.test_data = False
        """The whole pickle is test data (set by :meth:`run`)."""
        self.indirect: list[tuple[int, str]] = []
        self.flagged: dict[int, str] = {}
        """Helpers (by GlobalRec order) misused: handed something they must not call."""
        self.incomplete = False
        self._allowed: dict[tuple[str, str], bool] = {}
        self._handles: dict[tuple[str, str], Handles | None] = {}
        """Both answers depend on the name and ``own`` only: asked once per name, not
        once per call (a pickle of 20,000 objects instantiates a few classes)."""

    def allowed(self, rec: GlobalRec) -> bool:
        key = (rec.module, rec.name)
        known = self._allowed.get(key)
        if known is None:
            names = imported_names(rec.module, rec.name, self.own)
            known = self._allowed[key] = all(is_allowed(m, n) for m, n in names)
        return known

    def installed(self, rec: GlobalRec, *, own_only: bool = False) -> bool:
        """Every module a loader may import for ``rec`` is the wheel's own or a required
        distribution's top-level package (with ``own_only``: the wheel's own).

        Of a required distribution only the top-level package itself counts: importing it
        is what the wheel's own code does, while importing one of its submodules runs code
        nobody else runs on import (``numpy.f2py.__main__`` runs f2py's command line, a
        ``scripts`` module its script).  The wheel's own modules are its own code, judged
        by the source rules like every module it ships; only those it ships: another
        distribution's module in a package folder both install into (``google/``) is not."""
        required = set() if own_only else self.roots - self.own
        names = imported_names(rec.module, rec.name, self.own)
        return all(_own_module(m, self.own) or m in required for m, _ in names)

    @property
    def whole(self) -> bool:
        """What a stream does after a break, a limit or a second reading is unknown: the
        relaxations need to have seen every stream to its end."""
        streams = self.read.streams
        return all(s.complete and not s.anomalies for s in streams) and not self.incomplete

    def handles(self, callee: Any) -> Handles | None:
        if not isinstance(callee, GlobalType):
            return None
        rec = callee._sp_rec
        key = (rec.module, rec.name)
        if key not in self._handles:
            spec = HANDLES.get(canonical(rec.module, rec.name)) if self.allowed(rec) else None
            self._handles[key] = spec
        return self._handles[key]

    # -- entry points ------------------------------------------------------------------
    def run(self) -> None:
        trace = self.read.trace
        for call in trace.calls:
            # NEWOBJ too: ``partial.__new__(partial, func)`` binds like ``partial(func)``
            spec = self.handles(call.callee)
            if spec is not None:
                self.apply(spec, call.callee, call.args, call.kwargs, call.result, 0)
        for call in trace.indirect:
            self.called(call.callee, None, call.pos, "is called", 0)
        for call in trace.calls:
            # ``cls.__new__(cls, *args)`` runs the class's constructor with the arguments
            if call.kind != "new" or not isinstance(call.callee, GlobalType):
                continue
            args, kwargs = call.args, call.kwargs
            if args == () and kwargs == {}:
                continue  # NEWOBJ's usual ``cls.__new__(cls)``
            uses = call.callee._sp_rec.uses
            if "new-args" not in uses and not (_numbers(args) and _numbers(kwargs)):
                uses.add("new-args")
        self.test_data = _is_test_data(self)

    def apply(
        self, spec: Handles, owner: Any, args: Any, kwargs: Any, result: Any, depth: int
    ) -> None:
        if depth > 16:
            self.incomplete = True
            return
        for where in spec.calls:
            self.called(
                _arg(args, kwargs, where), owner if spec.needs_callable else None, -1, "", depth
            )
        for where in spec.binds:
            self.bound(_arg(args, kwargs, where), owner if spec.needs_callable else None, depth)
        for where in spec.call_items:
            for item in _values(_arg(args, kwargs, where)):
                self.called(item, None, -1, "", depth)
        for where in spec.instantiates:
            value = _arg(args, kwargs, where)
            if isinstance(value, GlobalType):
                value._sp_rec.uses.add("new")
        for where in spec.constructs:
            value = _arg(args, kwargs, where)
            if isinstance(value, GlobalType):
                value._sp_rec.uses.update(("new", "new-args"))
        for where in spec.state:
            self.hand_over(_arg(args, kwargs, where))
        calls_made = [(spec.invokes, False), (spec.invokes_with, True)]
        for invoked, single in calls_made:
            if invoked is None:
                continue
            func = _arg(args, kwargs, invoked[0])
            inner = _arg(args, kwargs, invoked[1])
            inner_args = (inner,) if single else inner
            if not isinstance(inner_args, (tuple, list)):
                inner_args = ()
            self.invoke(func, tuple(inner_args), depth + 1)
        if spec.state_binds and isinstance(result, Instance) and result.states:
            for state in result.states:
                for index in spec.state_binds:
                    if isinstance(state, (tuple, list)) and len(state) > index:
                        self.bound(state[index], owner if spec.needs_callable else None, depth)

    def invoke(self, func: Any, args: tuple[Any, ...], depth: int) -> None:
        """A helper calls ``func(*args)`` itself."""
        if isinstance(func, GlobalType):
            func._sp_rec.uses.add("call")
            spec = self.handles(func)
            if spec is not None:
                self.apply(spec, func, args, {}, None, depth)
        elif func is not None:
            self.called(func, None, -1, "", depth)

    def called(self, value: Any, owner: Any, pos: int, how: str, depth: int) -> None:
        """``value`` is (or will be) called: a global then counts as called."""
        if isinstance(value, GlobalType):
            value._sp_rec.uses.add("handed" if not how else "call")
            if owner is not None and not self.allowed(value._sp_rec):
                self.flag(owner, f"wraps {value._sp_rec.module}.{value._sp_rec.name}")
            return
        if isinstance(value, Instance):
            target = _partial_target(self, value)
            if target is not None and depth < 16:
                self.called(target, owner, pos, "is called", depth + 1)
                return
            where = pos if pos >= 0 else _origin_pos(value)
            self.indirect.append((where, f"calls {describe(value)}"))
            return
        if owner is not None:
            self.flag(owner, f"wraps {describe(value)}, which is not an allowed callable")

    def bound(self, value: Any, owner: Any, depth: int) -> None:
        """``value`` is kept to be called when what keeps it is called (a partial's
        function).  A global of the wheel's own packages stays stored until then
        (``_partial_target`` marks it called if the partial is); anything else is judged
        as called now, as before.  Not a required distribution's function: arguments bound
        to it make it callable with the pickle's arguments by whoever calls the loaded
        object, and that code is not this wheel's (numpy.testing has ``runstring``)."""
        if isinstance(value, GlobalType) and self.installed(value._sp_rec, own_only=True):
            value._sp_rec.uses.add("bound")
            return
        self.called(value, owner, -1, "", depth)

    def flag(self, owner: Any, why: str) -> None:
        if isinstance(owner, GlobalType):
            self.flagged.setdefault(owner._sp_rec.order, why)

    def hand_over(self, value: Any) -> None:
        """Everything reachable from ``value`` is handed to code that may call it."""
        for item in _reachable(value, self):
            if isinstance(item, GlobalType):
                item._sp_rec.uses.add("handed")


def _own_module(module: str, own: frozenset[str]) -> bool:
    """``module`` is a module the wheel ships or lies below one of its regular packages
    (whose ``__path__`` is the wheel's own folder: the import finds the wheel's code or
    fails)."""
    parts = module.split(".")
    return any(".".join(parts[:i]) in own for i in range(1, len(parts) + 1))


def _numbers(value: Any, depth: int = 0) -> bool:
    """Only numbers, booleans and None, in tuples, lists or dicts: arguments that cannot
    name a file, a command, a host or a module for a constructor (``numpy.memmap(path,
    mode='w+')`` truncates ``path``; a namedtuple of counts is given numbers)."""
    if value is None or isinstance(value, (bool, int, float, complex)):
        return True
    if depth > 8:
        return False
    if isinstance(value, (tuple, list)):
        return all(_numbers(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_numbers(v, depth + 1) for v in value.values())  # keywords' names: str
    return False


def _partial_target(judge: _Judge, inst: Instance) -> Any:
    """What calling ``functools.partial(...)`` calls (its last BUILD may replace it)."""
    origin = inst.origin
    if not isinstance(origin, CallRec) or not isinstance(origin.callee, GlobalType):
        return None
    rec = origin.callee._sp_rec
    if canonical(rec.module, rec.name) != ("functools", "partial") or not judge.allowed(rec):
        return None
    for state in reversed(inst.states or []):
        if isinstance(state, (tuple, list)) and state:
            return state[0]
    args = origin.args
    return args[0] if isinstance(args, tuple) and args else None


def _arg(args: Any, kwargs: Any, where: tuple[int, str]) -> Any:
    index, keyword = where
    if isinstance(kwargs, dict) and keyword in kwargs:
        return kwargs[keyword]
    if isinstance(args, (tuple, list)) and 0 <= index < len(args):
        return args[index]
    return None


def _values(container: Any) -> Iterator[Any]:
    if isinstance(container, dict):
        yield from container.values()
    elif isinstance(container, (list, tuple, set, frozenset)):
        yield from container
    elif isinstance(container, Instance):
        for item in container.items or ():
            yield item[1] if isinstance(item, tuple) and len(item) == 2 else item
        if isinstance(container.origin, CallRec):
            yield from _values(container.origin.args)
    elif container is not None:
        yield container


def _reachable(value: Any, judge: _Judge) -> Iterator[Any]:
    """Every object reachable from ``value`` through containers and stand-ins."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if len(seen) > _WALK_LIMIT:
            judge.incomplete = True
            return
        yield item
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, Instance):
            stack.extend(item.states or ())
            stack.extend(item.items or ())
            if isinstance(item.origin, CallRec):
                stack.extend((item.origin.callee, item.origin.args, item.origin.kwargs))
            else:
                stack.append(item.origin[1])


def _origin_pos(inst: Instance) -> int:
    return inst.origin.pos if isinstance(inst.origin, CallRec) else -1


def describe(value: Any) -> str:
    """A person-readable name for a stand-in or value."""
    if isinstance(value, GlobalType):
        return f"global {value._sp_rec.module}.{value._sp_rec.name}"
    if isinstance(value, Instance):
        origin = value.origin
        if isinstance(origin, CallRec):
            return f"the result of calling {describe(origin.callee)}"
        return "an object from persistent_load"
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, tuple):
        return f"tuple of {len(value)}"
    return type(value).__name__


# --- reporting ---------------------------------------------------------------------------


def report(read: PickleRead) -> None:
    """Report everything ``read``'s streams would make a loader do."""
    ctx = read.ctx
    ctx.saw("pickle-legacy-torch" if read.legacy_torch else "pickle")
    judge = _Judge(read)
    judge.run()
    _report_globals(read, judge)
    _report_events(read, judge)
    for index, stream in enumerate(read.streams):
        _report_stream(read, stream, index)
    _report_magic(read)


def _where(read: PickleRead, absolute: int) -> str:
    return f"{read.location}@{max(0, read.offset(absolute))}"


def _report_globals(read: PickleRead, judge: _Judge) -> None:
    ctx = read.ctx
    flagged: list[tuple[int, int, GlobalRec, str]] = []
    for rec in read.trace.globals.values():
        if rec.module == "*" and rec.name == "*":
            continue
        verdict = _classify(read, judge, rec)
        if verdict is not None:
            rank = {"dangerous": 0, "unknown": 1}.get(verdict, 2)
            flagged.append((rank, rec.order, rec, verdict))
    flagged.sort(key=lambda t: (t[0], t[1]))
    for _, _, rec, verdict in flagged[:MAX_GLOBAL_FINDINGS]:
        _report_global(read, judge, rec, verdict)
    rest = flagged[MAX_GLOBAL_FINDINGS:]
    untracked = read.trace.untracked_globals
    if rest or untracked:
        dangerous = any(v == "dangerous" for *_, v in rest)
        ctx.report(
            "PICKLE-GLOBAL-DANGEROUS" if dangerous else "PICKLE-GLOBAL-UNKNOWN",
            f"{len(rest)} more distinct unlisted global(s)"
            + (f" and {untracked} more names past the tracking limit" if untracked else "")
            + " not listed one by one",
            _where(read, rest[0][2].pos if rest else read.blob.start),
            module="*",
            name="*",
        )


def _classify(read: PickleRead, judge: _Judge, rec: GlobalRec) -> str | None:
    """``None`` when allowed, else ``dangerous``, ``value``, ``own`` or ``unknown``."""
    if rec.order in judge.flagged:
        return "dangerous"
    if judge.allowed(rec):
        return None
    if read.ctx.torchscript and (rec.module == "__torch__" or rec.module.startswith("__torch__.")):
        return None
    names = imported_names(rec.module, rec.name, judge.own)
    reason = _reason(rec, names)
    uses = rec.uses
    whole = judge.whole
    builtin = all(m == "builtins" for m, _ in names)
    if whole and builtin and not uses & {"call", "new", "mutate", "handed"}:
        return "value"
    if reason is not None:
        return "dangerous"
    own = judge.installed(rec, own_only=True)
    # "inst": INST/OBJ without arguments, which call the name when it is not a class
    if whole and own and not uses & {"call", "mutate", "handed", "inst"}:
        return "own"
    if whole and judge.installed(rec) and not uses & {"call", "new", "mutate", "handed"}:
        return "required"
    if judge.test_data and not uses - {"new"}:
        return "test"
    return "unknown"


def _is_test_data(judge: _Judge) -> bool:
    """The pickle sits in a test folder of the wheel's own package and calls nothing that
    is not allowlisted: every other name it imports (from no ``__main__`` module) is only
    instantiated (NEWOBJ,
    ``copyreg._reconstructor``) with nothing but numbers as arguments, given state or
    stored, and none is a known gadget.  ``cls.__new__(cls, *args)`` runs the class's own
    constructor with the arguments, as a call does (``numpy.memmap(path, 'uint8', 'w+')``
    truncates ``path``)."""
    read = judge.read
    ctx = read.ctx
    trace = read.trace
    if not judge.whole or not package_test_member(read.location, ctx.wheel_root, ctx.own_packages):
        return False
    if trace.indirect or trace.mutations or trace.persids or trace.dropped:
        return False
    if trace.untracked_globals or judge.flagged or judge.indirect:
        return False
    for rec in trace.globals.values():
        if judge.allowed(rec):
            continue
        names = imported_names(rec.module, rec.name, judge.own)
        if _reason(rec, names) is not None:
            return False
        # a ``__main__`` module runs its command line when imported (unittest's discovers
        # and runs every test*.py under the current folder)
        if any("__main__" in m.split(".") for m, _ in names):
            return False
        if rec.uses & {"call", "mutate", "handed", "persid", "inst", "new-args"}:
            return False
    return True


def _reason(rec: GlobalRec, names: list[tuple[str, str]]) -> str | None:
    for module, name in [(rec.module, rec.name), *names]:
        reason = dangerous_reason(module, name)
        if reason is not None:
            return reason
    return None


def _report_global(read: PickleRead, judge: _Judge, rec: GlobalRec, verdict: str) -> None:
    names = imported_names(rec.module, rec.name, judge.own)
    mod, name = names[0]
    shown = f"{rec.module}.{rec.name}" + (
        f" (= {mod}.{name})" if (mod, name) != (rec.module, rec.name) else ""
    )
    times = f", {rec.count} times" if rec.count > 1 else ""
    offset, opcode = _locate(read, rec)
    detail: dict[str, Any] = {
        "module": mod,
        "name": name,
        "opcode": opcode,
        "offset": offset,
        "count": rec.count,
    }
    where = f"{read.location}@{offset}"
    ctx = read.ctx
    if verdict == "value":
        ctx.report(
            "PICKLE-GLOBAL-VALUE",
            f"{opcode} imports the builtin {shown} and only stores it: nothing calls it while "
            f"loading{times}",
            where,
            **detail,
        )
    elif verdict == "required":
        ctx.report(
            "PICKLE-GLOBAL-VALUE",
            f"{opcode} imports {shown}, a name of a distribution this wheel unconditionally "
            f"requires, and only {_stored(rec)}{times}",
            where,
            **detail,
        )
    elif verdict == "own":
        done = "instantiates it with state" if "new" in rec.uses else _stored(rec)
        ctx.report(
            "PICKLE-GLOBAL-OWN-DATA",
            f"{opcode} imports {shown}, a name of this wheel's own package, and only {done}{times}",
            where,
            **detail,
        )
    elif verdict == "test":
        done = "instantiates it with state" if "new" in rec.uses else "stores it"
        ctx.report(
            "PICKLE-GLOBAL-TEST-DATA",
            f"{opcode} imports {shown}, a class of another package, and only {done}, in a "
            f"pickle in the package's test folder that calls no function{times}",
            where,
            **detail,
        )
    elif verdict == "dangerous":
        why = judge.flagged.get(rec.order) or _reason(rec, names) or "misused"
        ctx.report(
            "PICKLE-GLOBAL-DANGEROUS", f"{opcode} imports {shown}: {why}{times}", where, **detail
        )
    else:
        ctx.report(
            "PICKLE-GLOBAL-UNKNOWN",
            f"{opcode} imports {shown}, which is not on the allowlist{times}",
            where,
            **detail,
        )


def _stored(rec: GlobalRec) -> str:
    if "bound" in rec.uses:
        return "stores it, in a functools.partial nothing calls while loading"
    return "stores it: nothing calls it while loading"


def _locate(read: PickleRead, rec: GlobalRec) -> tuple[int, str]:
    """The offset and opcode that named ``rec``: the reader's position when
    ``find_class`` fired, refined by finding the GLOBAL/INST text near it."""
    blob = read.blob
    lo = max(blob.start, rec.pos - (1 << 17))
    hi = min(blob.end, rec.pos + rec.window + (1 << 17))
    text = f"{rec.module}\n{rec.name}\n".encode("utf-8", "surrogatepass")
    for opcode, prefix in (("GLOBAL", b"c"), ("INST", b"i")):
        at = blob.buf.find(prefix + text, lo, hi)
        if at >= 0:
            return at - blob.start, opcode
    return max(0, rec.pos - blob.start), "STACK_GLOBAL"


def _report_events(read: PickleRead, judge: _Judge) -> None:
    ctx = read.ctx
    trace = read.trace
    for rec, what, pos in trace.mutations[:MAX_EVENT_FINDINGS]:
        ctx.report(
            "PICKLE-BUILD-ON-GLOBAL",
            f"{what} on the imported object {rec.module}.{rec.name} itself",
            _where(read, pos),
            module=rec.module,
            name=rec.name,
            opcode=what,
        )
    for pos, what in judge.indirect[:MAX_EVENT_FINDINGS]:
        ctx.report(
            "PICKLE-INDIRECT-CALL",
            f"the loader {what}, which is not an imported global",
            _where(read, pos if pos >= 0 else read.blob.start),
        )
    bad = [(pid, pos) for pid, pos in trace.persids if not _valid_persid(read, judge, pid)]
    for pid, pos in bad[:MAX_EVENT_FINDINGS]:
        ctx.report(
            "PICKLE-PERSID",
            "persistent id outside PyTorch's ('storage', ...) convention is handed to the "
            f"loader's persistent_load hook ({describe(pid)})",
            _where(read, pos),
        )
    if trace.dropped or judge.incomplete:
        ctx.report(
            "PICKLE-LIMIT",
            "more calls, objects or hand-offs than safe-pip follows one by one; the rest "
            "was not judged",
            read.location,
        )


def _valid_persid(read: PickleRead, judge: _Judge, pid: Any) -> bool:
    if not isinstance(pid, tuple) or not pid:
        return False
    kind = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
    if kind == "module" and read.persistent == "torch-legacy":
        return len(pid) == 4
    if kind != "storage":
        return False
    size = 6 if read.persistent == "torch-legacy" else 5
    storage = pid[1] if len(pid) > 1 else None
    return (
        len(pid) == size
        and isinstance(storage, GlobalType)
        and judge.allowed(storage._sp_rec)
        and isinstance(pid[2], (str, bytes, int))
    )


def _report_stream(read: PickleRead, stream: Stream, index: int) -> None:
    ctx = read.ctx
    where = f"{read.location}@{max(0, stream.error_pos)}"
    if stream.limit is not None:
        ctx.report(
            "PICKLE-LIMIT", f"pickle stream {index} stopped at a limit: {stream.limit}", where
        )
    elif stream.kind == "unresolved":
        ctx.report(
            "PICKLE-GLOBAL-UNRESOLVED",
            f"STACK_GLOBAL in stream {index} takes operands that are not plain strings "
            "(results of calls or stand-ins): a loader resolves them at load time",
            where,
        )
    elif stream.kind == "indirect":
        ctx.report(
            "PICKLE-INDIRECT-CALL",
            f"stream {index} calls a value that is not an imported global ({stream.error})",
            where,
        )
    elif stream.kind == "ext":
        ctx.report(
            "PICKLE-EXT-OPCODE",
            "an EXT opcode fetches a global from the copyreg extension registry, which "
            f"differs from process to process ({stream.error})",
            where,
        )
    elif stream.error is not None:
        ctx.report(
            "PICKLE-MALFORMED",
            f"pickle stream {index} (from offset {stream.start}) is broken at or after offset "
            f"{stream.error_pos}: {stream.error}",
            where,
        )
    for pos, message in stream.anomalies[:MAX_EVENT_FINDINGS]:
        ctx.report("PICKLE-LOADERS-DISAGREE", message, f"{read.location}@{max(0, pos)}")


def _report_magic(read: PickleRead) -> None:
    streams = read.streams
    if len(streams) > 1 and isinstance(streams[0].value, Instance) and read.events:
        read.ctx.report(
            "TORCH-LEGACY-MAGIC",
            "the first of several pickle streams computes its value with a call where a "
            "legacy torch file has its magic number",
            f"{read.location}@{streams[0].start}",
        )
