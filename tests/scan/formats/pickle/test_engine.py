"""The pickle engine against the attack classes that defeated the hand-written VM.

Each case is built from raw opcodes (tests/scan/pickles.py); none is ever loaded here.
The engine is CPython's unpickler, so what is checked is what the stand-ins, the feed and
the analysis make of it: the gadget CPython would call is reported, every reading of a
file's frames is judged, and the refinements (builtins stored as values, partial around
an allowed callable) relax exactly what they say and no more.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from safe_pip.models import ScanResult
from tests.scan.formats.helpers import blocking, rules, scan_bytes
from tests.scan.pickles import (
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    MARK,
    NEWOBJ,
    POP,
    PROTO2,
    PROTO4,
    REDUCE,
    SETITEM,
    STACK_GLOBAL,
    STOP,
    TUPLE1,
    TUPLE2,
    evil,
    glob,
    ustr,
)

TUPLE4 = b"("  # used with MARK ... t


def frame(body: bytes, length: int | None = None) -> bytes:
    """A FRAME opcode announcing ``length`` (default: ``len(body)``) bytes, then ``body``."""
    return b"\x95" + struct.pack("<Q", len(body) if length is None else length) + body


def dangerous(result: ScanResult) -> set[str]:
    return {
        f"{f.detail.get('module')}.{f.detail.get('name')}"
        for f in result.findings
        if f.rule_id == "PICKLE-GLOBAL-DANGEROUS"
    }


def test_pop_on_a_mark_pops_the_mark(tmp_path: Path) -> None:
    """CPython's POP removes a MARK on top of the stack; a VM that popped the item under it
    saw the allowlisted OrderedDict called where CPython calls os.system."""
    data = (
        PROTO2
        + glob("collections", "OrderedDict")
        + glob("os", "system")
        + MARK
        + POP
        + MARK
        + POP
        + ustr("true")
        + TUPLE1
        + REDUCE
        + STOP
    )
    result = scan_bytes(tmp_path, "m.pkl", data)
    assert "os.system" in dangerous(result)


def test_stop_inside_a_frame_hides_a_second_stream(tmp_path: Path) -> None:
    """Read from a file, the next load starts at the frame's end; from memory, right after
    STOP. Both are read, and the disagreement itself blocks."""
    hidden = evil()  # a whole stream inside the first one's frame
    first = PROTO4 + frame(EMPTY_DICT + STOP + hidden)
    benign_tail = PROTO2 + EMPTY_DICT + STOP
    result = scan_bytes(tmp_path, "m.pkl", first + benign_tail)
    assert "os.system" in dangerous(result)
    assert "PICKLE-LOADERS-DISAGREE" in blocking(result)


def test_opcode_crossing_a_frame_end_is_read_both_ways(tmp_path: Path) -> None:
    """A BINUNICODE whose length straddles the frame end: a file reader drops the frame's
    last bytes and reads the length after it; a memory reader does not."""
    body = glob("collections", "OrderedDict") + b"X\x02\x00"
    tail = b"\x00\x00os" + glob("os", "system") + ustr("true") + TUPLE1 + REDUCE + STOP
    result = scan_bytes(tmp_path, "m.pkl", PROTO4 + frame(body) + tail)
    assert "PICKLE-LOADERS-DISAGREE" in blocking(result)
    assert "os.system" in dangerous(result)


def test_stack_global_operands_computed_by_an_allowed_call(tmp_path: Path) -> None:
    """builtins.str('os') is a real str to the loader, so STACK_GLOBAL resolves os.system:
    the engine computes such values instead of stopping at a stand-in."""
    data = (
        PROTO4
        + glob("builtins", "str")
        + ustr("os")
        + TUPLE1
        + REDUCE
        + ustr("system")
        + STACK_GLOBAL
        + ustr("true")
        + TUPLE1
        + REDUCE
        + STOP
    )
    assert "os.system" in dangerous(scan_bytes(tmp_path, "m.pkl", data))


def test_builtin_stored_as_a_value_is_not_a_call(tmp_path: Path) -> None:
    data = PROTO2 + EMPTY_DICT + ustr("h") + glob("builtins", "hash") + SETITEM + STOP
    result = scan_bytes(tmp_path, "m.pkl", data)
    assert rules(result) == {"PICKLE-GLOBAL-VALUE"}
    assert not blocking(result)


@pytest.mark.parametrize(
    "use",
    [
        ustr("x") + TUPLE1 + REDUCE,  # called
        EMPTY_TUPLE + NEWOBJ,  # instantiated
        EMPTY_DICT + ustr("a") + ustr("b") + SETITEM + BUILD,  # state set on the builtin itself
    ],
    ids=["called", "instantiated", "mutated"],
)
def test_builtin_used_otherwise_still_blocks(tmp_path: Path, use: bytes) -> None:
    data = PROTO2 + glob("builtins", "hash") + use + STOP
    assert blocking(scan_bytes(tmp_path, "m.pkl", data))


def test_builtin_handed_to_a_helper_that_calls_it_blocks(tmp_path: Path) -> None:
    """defaultdict calls its default factory later: handing it a builtin is a call."""
    data = (
        PROTO2
        + glob("collections", "defaultdict")
        + glob("builtins", "eval")
        + TUPLE1
        + REDUCE
        + STOP
    )
    assert "builtins.eval" in dangerous(scan_bytes(tmp_path, "m.pkl", data))


def test_builtin_value_before_a_break_still_blocks(tmp_path: Path) -> None:
    """What the stream would have done after a break is unknown: no relaxation."""
    data = PROTO2 + EMPTY_DICT + ustr("h") + glob("builtins", "exec") + b"\xff"
    assert "builtins.exec" in dangerous(scan_bytes(tmp_path, "m.pkl", data))


def test_partial_around_an_allowed_callable_is_clean(tmp_path: Path) -> None:
    data = (
        PROTO2
        + glob("functools", "partial")
        + glob("collections", "OrderedDict")
        + TUPLE1
        + REDUCE
        + STOP
    )
    result = scan_bytes(tmp_path, "m.pkl", data)
    assert not blocking(result), result.findings


@pytest.mark.parametrize(
    "data",
    [
        # partial around a gadget
        PROTO2 + glob("functools", "partial") + glob("os", "system") + TUPLE1 + REDUCE + STOP,
        # partial around an allowed callable, then BUILD swaps its function for a gadget
        PROTO2
        + glob("functools", "partial")
        + glob("collections", "OrderedDict")
        + TUPLE1
        + REDUCE
        + MARK
        + glob("builtins", "eval")
        + EMPTY_TUPLE
        + EMPTY_DICT
        + b"N"
        + b"t"
        + BUILD
        + STOP,
        # partial around something that is not a callable global
        PROTO2 + glob("functools", "partial") + ustr("true") + TUPLE1 + REDUCE + STOP,
        # many partials around an allowed callable, then one around a gadget: what the
        # helper is judged to do is remembered per name, what it is handed is not
        PROTO2
        + MARK
        + (glob("functools", "partial") + glob("collections", "OrderedDict") + TUPLE1 + REDUCE) * 50
        + glob("functools", "partial")
        + glob("os", "system")
        + TUPLE1
        + REDUCE
        + b"t"
        + STOP,
    ],
    ids=["gadget", "rebuilt", "not-callable", "gadget-after-many-allowed"],
)
def test_partial_around_anything_else_blocks(tmp_path: Path, data: bytes) -> None:
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(scan_bytes(tmp_path, "m.pkl", data))


def test_calling_a_partial_calls_what_it_wraps(tmp_path: Path) -> None:
    """REDUCE on a partial is not an indirect call of an unknown value: it calls the wrapped
    callable, judged like a direct call."""
    data = (
        PROTO2
        + glob("functools", "partial")
        + glob("collections", "OrderedDict")
        + TUPLE1
        + REDUCE
        + EMPTY_TUPLE
        + REDUCE
        + STOP
    )
    assert not blocking(scan_bytes(tmp_path, "m.pkl", data))


def test_trampoline_hands_a_call_result(tmp_path: Path) -> None:
    """_rebuild_from_type_v2 calls the function it is handed: a call result there is an
    indirect call of whatever that result is."""
    result_of_call = glob("collections", "Counter") + EMPTY_TUPLE + REDUCE
    data = (
        PROTO2
        + glob("torch._tensor", "_rebuild_from_type_v2")
        + MARK
        + result_of_call
        + glob("torch", "Tensor")
        + EMPTY_TUPLE
        + EMPTY_DICT
        + b"t"
        + REDUCE
        + STOP
    )
    assert "PICKLE-INDIRECT-CALL" in blocking(scan_bytes(tmp_path, "m.pkl", data))


def test_memo_index_bomb_is_refused_before_it_costs_memory(tmp_path: Path) -> None:
    """LONG_BINPUT 2**31 would make the C unpickler zero a 32 GiB memo table."""
    data = PROTO2 + EMPTY_DICT + b"r" + struct.pack("<I", 2**31) + STOP
    result = scan_bytes(tmp_path, "m.pkl", data)
    assert blocking(result) & {"PICKLE-MALFORMED", "PICKLE-LIMIT"}


def test_ext_opcode_is_reported(tmp_path: Path) -> None:
    data = PROTO2 + b"\x82\x05" + STOP
    assert "PICKLE-EXT-OPCODE" in blocking(scan_bytes(tmp_path, "m.pkl", data))


def test_own_function_called_from_a_tuple_of_args_is_not_own_data(tmp_path: Path) -> None:
    """Named and called: never the package's data, inside a wheel or not."""
    data = PROTO2 + glob("mypkg.helpers", "run") + ustr("x") + TUPLE2[:0] + TUPLE1 + REDUCE + STOP
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(scan_bytes(tmp_path, "m.pkl", data))
