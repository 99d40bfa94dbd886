"""A pickle virtual machine that reads every opcode and never unpickles.

The VM walks a pickle stream the way CPython's ``_pickle`` unpickler does —
same opcode set (protocols 0–5), same stack, mark and memo semantics, frames
ignored exactly as the C unpickler ignores them — but every value it would
create is replaced by an inert symbol: a :class:`Global` for an imported name,
a :class:`Call` for anything a call would return, placeholders for numbers,
bytes and containers.  No import, no ``find_class``, no call ever happens.

What the VM records is what a loader *would do*: every global it would import
(with the opcode and offset), every call and the kind of value called, every
BUILD/SETITEM/APPEND aimed at an imported object itself, persistent ids, EXT
codes, and where and why the stream broke.  Deciding what is dangerous is left
to :mod:`safe_pip.scan.formats.pickle.analyze`.

Speed matters (a 20 MB state dict must scan in well under a second or two), so
the hot loop is a flat ``if`` chain ordered by how often each opcode occurs in
real checkpoints, with bounds and the time budget checked every 64 Ki opcodes.
"""

from __future__ import annotations

import codecs
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

# --- symbolic values -------------------------------------------------------------


class Global:
    """A name the loader would import (``find_class(module, name)``)."""

    __slots__ = ("module", "name", "offset", "opcode")

    def __init__(self, module: str | None, name: str | None, offset: int, opcode: str) -> None:
        self.module = module
        self.name = name
        self.offset = offset
        self.opcode = opcode

    @property
    def resolved(self) -> bool:
        return self.module is not None and self.name is not None

    def __repr__(self) -> str:
        return f"Global({self.module!r}, {self.name!r})"


class Call:
    """Whatever calling ``func`` would return."""

    __slots__ = ("args", "func", "offset")

    def __init__(self, func: object, offset: int, args: object = None) -> None:
        self.func = func
        self.offset = offset
        self.args = args


class _Placeholder:
    """A value whose content does not matter to the analysis (numbers, bytes...)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


FLOAT = _Placeholder("float")
BYTES = _Placeholder("bytes")
LONG_STR = _Placeholder("long-str")
LIST = _Placeholder("list")
DICT = _Placeholder("dict")
SET = _Placeholder("set")
FROZENSET = _Placeholder("frozenset")
BUFFER = _Placeholder("buffer")
PERSISTED = _Placeholder("persistent")
EXT_VALUE = _Placeholder("ext")

MAX_DISTINCT_GLOBALS = 10_000
MAX_EVENTS_PER_KIND = 100
"""Memory stays bounded however often a hostile pickle repeats itself."""

_HOLE = _Placeholder("unset memo slot")
_MEMO_GAP = 1 << 16
"""Keys up to this far past the memo's end extend the list; farther ones go to a dict."""

MAX_DECODED_STR = 4096
"""Strings longer than this are not decoded: no module or name is that long."""

# --- results -----------------------------------------------------------------------


@dataclass
class Event:
    """One structural observation: ``kind`` is a short machine word."""

    kind: str
    offset: int
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StreamResult:
    """What one pickle stream (up to and including STOP) would do when loaded."""

    start: int
    end: int = 0
    proto: int = 0
    globals: list[Global] = field(default_factory=list)
    """Distinct globals, first occurrence each (at most MAX_DISTINCT_GLOBALS)."""
    global_counts: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    globals_untracked: int = 0
    """GLOBAL opcodes beyond MAX_DISTINCT_GLOBALS distinct names (counted, not kept)."""
    events: list[Event] = field(default_factory=list)
    """At most MAX_EVENTS_PER_KIND of each kind; ``event_counts`` has the true totals."""
    event_counts: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    """REDUCE/NEWOBJ/NEWOBJ_EX/OBJ/INST executed: what a loader would call."""
    invoked: set[tuple[str | None, str | None]] = field(default_factory=set)
    """Globals called with pickle-supplied arguments (REDUCE, OBJ, INST)."""
    instantiated: set[tuple[str | None, str | None]] = field(default_factory=set)
    """Globals used as NEWOBJ classes: created with ``__new__``, then given state."""
    value: object = None
    error: str | None = None
    error_offset: int = -1
    limit: str | None = None
    opcodes: int = 0

    @property
    def complete(self) -> bool:
        return self.error is None and self.limit is None

    @property
    def eventful(self) -> bool:
        """True when loading this stream would import, call or hook anything."""
        return bool(self.globals or self.events or self.globals_untracked)


class PickleError(Exception):
    """The stream is broken at ``offset`` (the loader would raise there)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class LimitExceeded(Exception):
    pass


_unpack = struct.unpack_from
_utf8 = codecs.utf_8_decode


def _decode_utf8(raw: bytes, offset: int) -> str:
    try:
        return _utf8(raw, "surrogatepass", True)[0]
    except UnicodeDecodeError as exc:
        raise PickleError(f"invalid UTF-8 in string: {exc.reason}", offset) from None


def _text_str(data: Any, start: int, n: int, off: int) -> object:
    """Decode a BINUNICODE-family string, or a placeholder when it is huge."""
    if n > MAX_DECODED_STR:
        return LONG_STR
    return _decode_utf8(bytes(data[start : start + n]), off)


def _byte_str(data: Any, start: int, n: int) -> object:
    """Py2 ``str`` (BINSTRING family): the unpickler decodes it to ``str``."""
    if n > MAX_DECODED_STR:
        return LONG_STR
    return bytes(data[start : start + n]).decode("latin-1")


def run_stream(
    data: Any,
    start: int,
    end: int,
    *,
    max_opcodes: int,
    max_memo: int,
    max_stack: int,
    max_string: int,
    deadline: float,
) -> StreamResult:
    """Walk one pickle stream from ``start``; stop after STOP, an error or a limit.

    ``data`` is ``bytes`` or an ``mmap`` (indexing gives ints, ``find`` and
    ``struct.unpack_from`` work on both), so a large file is never copied.
    """
    res = StreamResult(start=start)
    stack: list[Any] = []
    push = stack.append
    pop = stack.pop
    marks: list[int] = []
    # The memo is a list indexed by key (8 bytes an entry) with a dict only for keys far
    # past its end: a hostile pickle with millions of PUTs must not cost gigabytes.
    memo: list[Any] = []
    sparse: dict[int, Any] = {}
    filled = [0]  # entries set, as CPython counts them for MEMOIZE
    # joblib writes raw array bytes into the middle of its pickle stream (see _joblib_array);
    # once its wrapper class is named, dicts and call arguments are kept to find their size.
    joblib = [False]
    globals_ = res.globals
    counts = res.global_counts
    events = res.events
    event_counts = res.event_counts
    invoked = res.invoked
    pos = start
    op_start = start
    n_ops = 0
    check_every = 0xFFFF

    def readline(p: int) -> tuple[bytes, int]:
        nl = data.find(b"\n", p, end)
        if nl < 0:
            raise PickleError("line argument not terminated by newline (truncated)", p)
        if nl - p > max_string:
            raise LimitExceeded(f"line argument longer than {max_string} bytes")
        return bytes(data[p:nl]), nl + 1

    def need(p: int, n: int) -> None:
        if n < 0 or p + n > end:
            raise PickleError(f"argument of {n} bytes runs past the end of the data", p)
        if n > max_string:
            raise LimitExceeded(f"string/bytes argument of {n} bytes exceeds the limit")

    def pop_mark() -> list[Any]:
        if not marks:
            raise PickleError("MARK expected on the stack", op_start)
        k = marks.pop()
        items = stack[k:]
        del stack[k:]
        return items

    def mput(idx: int, value: Any) -> None:
        n = len(memo)
        if idx < n:
            if memo[idx] is _HOLE:
                filled[0] += 1
            memo[idx] = value
        elif idx - n <= _MEMO_GAP:
            memo.extend([_HOLE] * (idx - n))
            memo.append(value)
            filled[0] += 1
        else:
            if idx not in sparse:
                filled[0] += 1
            sparse[idx] = value

    def mget(idx: int) -> Any:
        if idx < len(memo) and memo[idx] is not _HOLE:
            return memo[idx]
        if idx in sparse:
            return sparse[idx]
        raise PickleError(f"memo key {idx} missing", op_start)

    def event(kind: str, message: str, **detail: Any) -> None:
        n = event_counts.get(kind, 0)
        if n < MAX_EVENTS_PER_KIND:
            events.append(Event(kind, op_start, message, detail))
        event_counts[kind] = n + 1

    def note_global(g: Global) -> None:
        key = (g.module, g.name)
        c = counts.get(key)
        if c is not None:
            counts[key] = c + 1
        elif len(counts) < MAX_DISTINCT_GLOBALS:
            counts[key] = 1
            globals_.append(g)
            if g.module in _JOBLIB_MODULES:
                joblib[0] = True
        else:
            res.globals_untracked += 1

    def structural(target: object, what: str) -> None:
        if isinstance(target, Global):
            event(
                "mutate-global",
                f"{what} on the imported object {target.module}.{target.name} itself",
                module=target.module,
                name=target.name,
                opcode=what,
            )

    def called(func: object, opname: str) -> None:
        res.calls += 1
        if isinstance(func, Global):
            used = res.instantiated if opname[:6] == "NEWOBJ" else invoked
            if len(used) < MAX_DISTINCT_GLOBALS:
                used.add((func.module, func.name))
        else:
            event(
                "indirect-call",
                f"{opname} calls a value that is not an imported global ({_describe(func)})",
                opcode=opname,
                callee=_describe(func),
            )

    def persistent(pid: object) -> None:
        if not (type(pid) is tuple and pid and pid[0] == "storage"):
            event(
                "persid",
                "persistent id outside PyTorch's ('storage', ...) convention is handed to "
                f"the loader's persistent_load hook ({_describe(pid)})",
            )

    def side_file(state: object) -> None:
        """Legacy joblib: the wrapper names a file joblib loads (with pickles allowed)
        from the pickle's own folder; a name that leaves the folder loads something
        that was never shipped, let alone scanned."""
        name = state.get("filename") if type(state) is dict else None
        if type(name) is not str:
            event("joblib-file", "legacy joblib wrapper without a plain file name")
        elif "/" in name or "\\" in name or name in ("", ".", ".."):
            event(
                "joblib-file",
                f"legacy joblib wrapper loads {name!r}, outside the pickle's folder",
                filename=name,
            )

    def joblib_array(state: object, p: int) -> int:
        """Skip the array joblib wrote after its wrapper's BUILD; return the new position."""
        spec = _joblib_layout(state)
        if spec is None:
            raise PickleError("joblib array wrapper with a state safe-pip cannot size", op_start)
        nbytes, aligned = spec
        if nbytes < 0:  # object array: a whole nested pickle follows
            inner = run_stream(
                data,
                p,
                end,
                max_opcodes=max_opcodes,
                max_memo=max_memo,
                max_stack=max_stack,
                max_string=max_string,
                deadline=deadline,
            )
            for g in inner.globals:
                note_global(g)
            for ev in inner.events:
                event(ev.kind, ev.message, **ev.detail)
            if not inner.complete:
                raise PickleError(
                    "object array pickle inside joblib data is broken: "
                    f"{inner.error or inner.limit}",
                    inner.error_offset,
                )
            return inner.end
        if aligned:
            if p >= end:
                raise PickleError("joblib padding runs past the end of the data", p)
            p += 1 + data[p]
        if p + nbytes > end:
            raise PickleError(f"joblib array of {nbytes} bytes runs past the end of the data", p)
        return p + nbytes

    try:
        while True:
            if pos >= end:
                raise PickleError("pickle ends without STOP (truncated)", pos)
            op_start = pos
            op = data[pos]
            pos += 1
            n_ops += 1
            if not n_ops & check_every:
                if n_ops > max_opcodes:
                    raise LimitExceeded(f"more than {max_opcodes} opcodes")
                if filled[0] > max_memo:
                    raise LimitExceeded(f"more than {max_memo} memo entries")
                if len(stack) > max_stack or len(marks) > max_stack:
                    raise LimitExceeded(f"stack deeper than {max_stack}")
                if time.monotonic() > deadline:
                    raise LimitExceeded("time budget exhausted")
            # ---- hot opcodes first; fixed-size bounds checks inlined ------------
            if op == 0x47:  # BINFLOAT
                if pos + 8 > end:
                    raise PickleError("BINFLOAT runs past the end of the data", op_start)
                pos += 8
                push(FLOAT)
            elif op == 0x71:  # BINPUT
                if pos >= end:
                    raise PickleError("BINPUT runs past the end of the data", op_start)
                idx = data[pos]
                if idx < len(memo) and memo[idx] is not _HOLE:
                    memo[idx] = stack[-1]
                else:
                    mput(idx, stack[-1])
                pos += 1
            elif op == 0x68:  # BINGET
                if pos >= end:
                    raise PickleError("BINGET runs past the end of the data", op_start)
                idx = data[pos]
                if idx < len(memo) and (val := memo[idx]) is not _HOLE:
                    push(val)
                else:
                    push(mget(idx))
                pos += 1
            elif op == 0x4B:  # BININT1
                if pos >= end:
                    raise PickleError("BININT1 runs past the end of the data", op_start)
                push(data[pos])
                pos += 1
            elif op == 0x58:  # BINUNICODE
                need(pos, 4)
                n = _unpack("<I", data, pos)[0]
                pos += 4
                need(pos, n)
                push(_text_str(data, pos, n, op_start))
                pos += n
            elif op == 0x8C:  # SHORT_BINUNICODE
                need(pos, 1)
                n = data[pos]
                pos += 1
                need(pos, n)
                push(_decode_utf8(bytes(data[pos : pos + n]), op_start))
                pos += n
            elif op == 0x28:  # MARK
                marks.append(len(stack))
            elif op == 0x86:  # TUPLE2
                b = pop()
                a = pop()
                push((a, b))
            elif op == 0x85:  # TUPLE1
                push((pop(),))
            elif op == 0x87:  # TUPLE3
                c = pop()
                b = pop()
                a = pop()
                push((a, b, c))
            elif op == 0x74:  # TUPLE
                push(tuple(pop_mark()))
            elif op == 0x29:  # EMPTY_TUPLE
                push(())
            elif op == 0x52:  # REDUCE
                args = pop()
                func = pop()
                called(func, "REDUCE")
                push(Call(func, op_start, args if joblib[0] else None))
            elif op == 0x94:  # MEMOIZE
                mput(filled[0], stack[-1])
            elif op == 0x72:  # LONG_BINPUT
                need(pos, 4)
                mput(_unpack("<I", data, pos)[0], stack[-1])
                pos += 4
            elif op == 0x6A:  # LONG_BINGET
                need(pos, 4)
                push(mget(_unpack("<I", data, pos)[0]))
                pos += 4
            elif op == 0x4A:  # BININT
                need(pos, 4)
                push(_unpack("<i", data, pos)[0])
                pos += 4
            elif op == 0x4D:  # BININT2
                need(pos, 2)
                push(_unpack("<H", data, pos)[0])
                pos += 2
            elif op == 0x89 or op == 0x88:  # NEWFALSE / NEWTRUE
                push(op == 0x88)
            elif op == 0x4E:  # NONE
                push(None)
            elif op == 0x7D:  # EMPTY_DICT
                push({} if joblib[0] else DICT)
            elif op == 0x5D:  # EMPTY_LIST
                push(LIST)
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                if len(items) % 2:
                    raise PickleError("SETITEMS with an odd number of items", op_start)
                structural(stack[-1], "SETITEMS")
                if type(stack[-1]) is dict:
                    _remember(stack[-1], items)
            elif op == 0x73:  # SETITEM
                value = pop()
                key = pop()
                structural(stack[-1], "SETITEM")
                if type(stack[-1]) is dict:
                    _remember(stack[-1], [key, value])
            elif op == 0x65:  # APPENDS
                pop_mark()
                structural(stack[-1], "APPENDS")
            elif op == 0x61:  # APPEND
                pop()
                structural(stack[-1], "APPEND")
            elif op == 0x51:  # BINPERSID
                persistent(pop())
                push(PERSISTED)
            elif op == 0x62:  # BUILD
                state = pop()
                structural(stack[-1], "BUILD")
                if joblib[0]:
                    kind = _joblib_wrapper(stack[-1])
                    if kind == "NumpyArrayWrapper":
                        pos = joblib_array(state, pos)
                    elif kind is not None:
                        side_file(state)
            elif op == 0x63:  # GLOBAL
                mod_raw, pos = readline(pos)
                name_raw, pos = readline(pos)
                g = Global(
                    _decode_utf8(mod_raw, op_start),
                    _decode_utf8(name_raw, op_start),
                    op_start,
                    "GLOBAL",
                )
                note_global(g)
                push(g)
            elif op == 0x93:  # STACK_GLOBAL
                name = pop()
                module = pop()
                if type(module) is str and type(name) is str:
                    g = Global(module, name, op_start, "STACK_GLOBAL")
                else:
                    g = Global(None, None, op_start, "STACK_GLOBAL")
                    event(
                        "unresolved-global",
                        "STACK_GLOBAL operands are not plain strings "
                        f"(module={_describe(module)}, name={_describe(name)})",
                        module=_describe(module),
                        name=_describe(name),
                    )
                note_global(g)
                push(g)
            elif op == 0x95:  # FRAME: the C unpickler checks the length and reads on
                need(pos, 8)
                flen = _unpack("<Q", data, pos)[0]
                pos += 8
                if pos + flen > end:
                    # The loader stops here, but other readers may not: keep reading so
                    # a payload behind the lying frame is still reported.
                    event(
                        "frame",
                        f"FRAME declares {flen} bytes but only {end - pos} remain",
                        frame_length=flen,
                    )
            elif op == 0x80:  # PROTO
                need(pos, 1)
                proto = data[pos]
                pos += 1
                if proto > 5:
                    raise PickleError(f"unsupported pickle protocol {proto}", op_start)
                if op_start == start:
                    res.proto = proto
            elif op == 0x2E:  # STOP
                if not stack:
                    raise PickleError("STOP with an empty stack", op_start)
                res.value = pop()
                res.end = pos
                break
            elif op == 0x81:  # NEWOBJ
                args = pop()
                cls = pop()
                called(cls, "NEWOBJ")
                push(Call(cls, op_start, args if joblib[0] else None))
            elif op == 0x92:  # NEWOBJ_EX
                pop()
                pop()
                cls = pop()
                called(cls, "NEWOBJ_EX")
                push(Call(cls, op_start))
            elif op == 0x6F:  # OBJ
                items = pop_mark()
                if not items:
                    raise PickleError("OBJ without a class", op_start)
                called(items[0], "OBJ")
                push(Call(items[0], op_start))
            elif op == 0x69:  # INST
                mod_raw, pos = readline(pos)
                name_raw, pos = readline(pos)
                g = Global(
                    mod_raw.decode("ascii", "replace"),
                    name_raw.decode("ascii", "replace"),
                    op_start,
                    "INST",
                )
                note_global(g)
                pop_mark()
                res.calls += 1
                invoked.add((g.module, g.name))
                push(Call(g, op_start))
            elif op == 0x8A:  # LONG1
                need(pos, 1)
                n = data[pos]
                pos += 1
                need(pos, n)
                push(int.from_bytes(bytes(data[pos : pos + n]), "little", signed=True))
                pos += n
            elif op == 0x8B:  # LONG4
                need(pos, 4)
                n = _unpack("<i", data, pos)[0]
                pos += 4
                if n < 0:
                    raise PickleError("LONG4 with a negative length", op_start)
                need(pos, n)
                push(
                    int.from_bytes(bytes(data[pos : pos + n]), "little", signed=True)
                    if n <= 64
                    else FLOAT
                )
                pos += n
            elif op == 0x43:  # SHORT_BINBYTES
                need(pos, 1)
                n = data[pos]
                pos += 1
                need(pos, n)
                pos += n
                push(BYTES)
            elif op == 0x42:  # BINBYTES
                need(pos, 4)
                n = _unpack("<I", data, pos)[0]
                pos += 4
                need(pos, n)
                pos += n
                push(BYTES)
            elif op == 0x8E or op == 0x96:  # BINBYTES8 / BYTEARRAY8
                need(pos, 8)
                n = _unpack("<Q", data, pos)[0]
                pos += 8
                need(pos, n)
                pos += n
                push(BYTES)
            elif op == 0x8D:  # BINUNICODE8
                need(pos, 8)
                n = _unpack("<Q", data, pos)[0]
                pos += 8
                need(pos, n)
                push(_text_str(data, pos, n, op_start))
                pos += n
            elif op == 0x55:  # SHORT_BINSTRING
                need(pos, 1)
                n = data[pos]
                pos += 1
                need(pos, n)
                push(_byte_str(data, pos, n))
                pos += n
            elif op == 0x54:  # BINSTRING
                need(pos, 4)
                n = _unpack("<i", data, pos)[0]
                pos += 4
                if n < 0:
                    raise PickleError("BINSTRING with a negative length", op_start)
                need(pos, n)
                push(_byte_str(data, pos, n))
                pos += n
            elif op == 0x8F:  # EMPTY_SET
                push(SET)
            elif op == 0x90:  # ADDITEMS
                pop_mark()
                structural(stack[-1], "ADDITEMS")
            elif op == 0x91:  # FROZENSET
                pop_mark()
                push(FROZENSET)
            elif op == 0x6C:  # LIST
                pop_mark()
                push(LIST)
            elif op == 0x64:  # DICT
                items = pop_mark()
                if len(items) % 2:
                    raise PickleError("DICT with an odd number of items", op_start)
                push(DICT)
            elif op == 0x30:  # POP
                if stack:
                    pop()
                elif marks:
                    # CPython: POP on an empty stack above a mark pops the mark.
                    marks.pop()
                else:
                    raise PickleError("POP from an empty stack", op_start)
            elif op == 0x31:  # POP_MARK
                pop_mark()
            elif op == 0x32:  # DUP
                push(stack[-1])
            elif op == 0x49:  # INT (text)
                line, pos = readline(pos)
                push(_parse_int(line, op_start))
            elif op == 0x4C:  # LONG (text)
                line, pos = readline(pos)
                push(_parse_int(line.rstrip(b"L"), op_start))
            elif op == 0x46:  # FLOAT (text)
                line, pos = readline(pos)
                try:
                    float(line)
                except ValueError:
                    raise PickleError("FLOAT argument is not a number", op_start) from None
                push(FLOAT)
            elif op == 0x53:  # STRING (text, quoted)
                line, pos = readline(pos)
                if len(line) < 2 or line[0] != line[-1] or line[0] not in b"'\"":
                    raise PickleError("STRING argument is not quoted", op_start)
                try:
                    val = codecs.escape_decode(line[1:-1])[0]
                except ValueError as exc:
                    raise PickleError(f"bad STRING escape: {exc}", op_start) from None
                push(val.decode("latin-1") if len(val) <= MAX_DECODED_STR else LONG_STR)
            elif op == 0x56:  # UNICODE (text, raw-unicode-escape)
                line, pos = readline(pos)
                try:
                    sval = line.decode("raw-unicode-escape")
                except UnicodeDecodeError as exc:
                    raise PickleError(f"bad UNICODE argument: {exc.reason}", op_start) from None
                push(sval if len(sval) <= MAX_DECODED_STR else LONG_STR)
            elif op == 0x70:  # PUT (text)
                line, pos = readline(pos)
                mput(_memo_key(line, op_start), stack[-1])
            elif op == 0x67:  # GET (text)
                line, pos = readline(pos)
                push(mget(_memo_key(line, op_start)))
            elif op == 0x50:  # PERSID (text)
                line, pos = readline(pos)
                persistent(line.decode("ascii", "replace"))
                push(PERSISTED)
            elif op in (0x82, 0x83, 0x84):  # EXT1 / EXT2 / EXT4
                width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                need(pos, width)
                code = int.from_bytes(bytes(data[pos : pos + width]), "little")
                pos += width
                event(
                    "ext",
                    f"EXT{width} fetches global #{code} from the copyreg extension registry",
                    code=code,
                )
                push(EXT_VALUE)
            elif op == 0x97:  # NEXT_BUFFER
                push(BUFFER)
            elif op == 0x98:  # READONLY_BUFFER
                stack[-1]
            else:
                raise PickleError(f"invalid opcode 0x{op:02x}", op_start)
    except PickleError as exc:
        res.error = str(exc)
        res.error_offset = exc.offset
        res.end = pos
    except IndexError:
        res.error = "stack underflow (an opcode needs more values than the stack holds)"
        res.error_offset = op_start
        res.end = pos
    except LimitExceeded as exc:
        res.limit = str(exc)
        res.error_offset = op_start
        res.end = pos
    except (struct.error, ValueError, OverflowError, MemoryError) as exc:
        res.error = f"unreadable argument: {exc}"
        res.error_offset = op_start
        res.end = pos
    res.opcodes = n_ops
    return res


def _remember(target: dict[Any, Any], items: list[Any]) -> None:
    """Keep a dict's items (joblib mode only); unhashable keys are simply not kept."""
    for k, v in zip(items[::2], items[1::2], strict=True):
        try:
            target[k] = v
        except TypeError:
            continue


_JOBLIB_MODULES = frozenset(
    {"joblib.numpy_pickle", "joblib.numpy_pickle_compat", "sklearn.externals.joblib.numpy_pickle"}
)
_JOBLIB_WRAPPERS = frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"})


def _joblib_wrapper(value: object) -> str | None:
    """Which joblib array wrapper ``value`` is an instance of, if any."""
    if (
        isinstance(value, Call)
        and isinstance(value.func, Global)
        and value.func.module in _JOBLIB_MODULES
        and value.func.name in _JOBLIB_WRAPPERS
    ):
        return value.func.name
    return None


_DTYPE = re.compile(r"[<>|=]?([a-zA-Z])(\d*)\Z")


def _joblib_layout(state: object) -> tuple[int, bool] | None:
    """(array bytes, padded) from a NumpyArrayWrapper state; -1 bytes for object arrays."""
    if type(state) is not dict:
        return None
    shape, dtype = state.get("shape"), state.get("dtype")
    if type(shape) is not tuple or not all(type(n) is int and n >= 0 for n in shape):
        return None
    if not (isinstance(dtype, Call) and type(dtype.args) is tuple and dtype.args):
        return None
    descr = dtype.args[0]
    m = _DTYPE.match(descr) if type(descr) is str else None
    if m is None:
        return None
    kind, digits = m.group(1), m.group(2)
    if kind == "O":
        return -1, False
    size = int(digits) if digits else 0
    if kind == "U":
        size *= 4
    if size <= 0:
        return None
    count = 1
    for n in shape:
        count *= n
    align = state.get("numpy_array_alignment_bytes")
    return count * size, bool(type(align) is int and align)


def _memo_key(line: bytes, offset: int) -> int:
    try:
        return int(line)
    except ValueError:
        raise PickleError(f"memo key {line[:40]!r} is not a number", offset) from None


def _parse_int(line: bytes, offset: int) -> object:
    if line in (b"00", b"01"):
        return line == b"01"
    try:
        return int(line)
    except ValueError:
        raise PickleError(f"integer argument {line[:40]!r} is not a number", offset) from None


def _describe(value: object) -> str:
    if isinstance(value, Global):
        return f"global {value.module}.{value.name}" if value.resolved else "unresolved global"
    if isinstance(value, Call):
        return f"result of calling {_describe(value.func)}"
    if isinstance(value, _Placeholder):
        return value.kind
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, tuple):
        return f"tuple of {len(value)}"
    return type(value).__name__
