"""One test per known scanner bypass (research note §2, A–D), each built from raw bytes.

Each case is a published technique that defeated picklescan, modelscan, fickling or
ModelAudit at some point. Every file is handed to the real ``safe-pip scan`` CLI and
must exit 1 with the rule id that names the technique; the benign controls next to
them must exit 0, so a rule that blocks everything would fail here too.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.support.wheels import build_wheel

from .pickles import (
    BENIGN,
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    MARK,
    NEWOBJ,
    NONE,
    POP,
    PROTO2,
    PROTO4,
    REDUCE,
    SETITEM,
    STACK_GLOBAL,
    STOP,
    TUPLE1,
    TUPLE2,
    binget,
    binput,
    break_crc,
    call,
    evil,
    glob,
    rename_local,
    set_flag_bits,
    torch_like_state_dict,
    ustr,
    zip_bytes,
)
from .scan_harness import EXIT_BLOCKED, EXIT_CLEAN, run_scan


def scan_bytes(tmp_path: Path, name: str, data: bytes):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return run_scan([path])


def rules_of(run) -> set[str]:  # type: ignore[no-untyped-def]
    return {f["rule_id"] for f in run.findings()}


def assert_blocked(run, *rules: str) -> None:  # type: ignore[no-untyped-def]
    assert run.returncode == EXIT_BLOCKED, run.describe()
    missing = set(rules) - rules_of(run)
    assert not missing, f"expected rules {missing}\n{run.describe()}"


def assert_clean(run) -> None:  # type: ignore[no-untyped-def]
    """Exit 0 and nothing that blocks (informational findings may stay)."""
    assert run.returncode == EXIT_CLEAN, run.describe()
    assert not [f for f in run.findings() if f.get("blocking")], run.describe()


# --- A. discovery and containers ------------------------------------------------------------


@pytest.mark.parametrize("name", ["config.p", "model.bin", "weights.json", "noextension"])
def test_a_any_name_is_sniffed_by_content(tmp_path: Path, name: str) -> None:
    assert_blocked(scan_bytes(tmp_path, name, evil()), "PICKLE-GLOBAL-DANGEROUS")


def test_a_protocol0_pickle_without_header(tmp_path: Path) -> None:
    data = b"cos\nsystem\n(S'true'\ntR."
    assert_blocked(scan_bytes(tmp_path, "model.pt", data), "PICKLE-GLOBAL-DANGEROUS")


def test_a_benign_protocol0_and_text_are_clean(tmp_path: Path) -> None:
    assert_clean(scan_bytes(tmp_path, "a.pkl", b"(dp0\nS'a'\np1\nI1\ns."))
    assert_clean(scan_bytes(tmp_path, "setup.py", b"import os\nclass X:\n    pass\n"))


def test_a_bad_crc_is_read_like_torch(tmp_path: Path) -> None:
    data = break_crc(zip_bytes({"archive/data.pkl": evil()}))
    assert_blocked(
        scan_bytes(tmp_path, "m.pt", data), "ZIP-CRC-MISMATCH", "PICKLE-GLOBAL-DANGEROUS"
    )


def test_a_local_and_central_names_differ(tmp_path: Path) -> None:
    data = rename_local(zip_bytes({"archive/data.pkl": evil()}), "data.pkl", "datap.kl")
    assert_blocked(
        scan_bytes(tmp_path, "m.pt", data), "ZIP-NAME-MISMATCH", "PICKLE-GLOBAL-DANGEROUS"
    )


@pytest.mark.parametrize("bits", [0x1, 0x20, 0x40])
def test_a_flipped_flag_bits(tmp_path: Path, bits: int) -> None:
    data = set_flag_bits(zip_bytes({"archive/data.pkl": evil()}), bits)
    assert_blocked(scan_bytes(tmp_path, "m.pt", data), "PICKLE-GLOBAL-DANGEROUS")


def test_a_really_encrypted_member_is_unsupported(tmp_path: Path) -> None:
    data = set_flag_bits(zip_bytes({"secret.bin": bytes(range(256)) * 4}), 0x1)
    assert_blocked(scan_bytes(tmp_path, "x.zip", data), "ARCHIVE-UNSUPPORTED")


@pytest.mark.parametrize(
    "magic", [b"7z\xbc\xaf\x27\x1c\x00\x04", b"Rar!\x1a\x07\x01\x00", b"\x28\xb5\x2f\xfd\x00"]
)
def test_a_unknown_containers_fail_closed(tmp_path: Path, magic: bytes) -> None:
    assert_blocked(scan_bytes(tmp_path, "model.pt", magic + b"\x00" * 64), "ARCHIVE-UNSUPPORTED")


def test_a_nested_wheel_tar_gzip_zip(tmp_path: Path) -> None:
    inner = zip_bytes({"archive/data.pkl": evil()})
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w") as tf:
        info = tarfile.TarInfo("weights/model.pt")
        info.size = len(inner)
        tf.addfile(info, io.BytesIO(inner))
    wheel = zip_bytes(
        {"pkg/__init__.py": b"", "pkg/data.tar.gz": gzip.compress(tar_buf.getvalue())}
    )
    run = scan_bytes(tmp_path, "pkg-1.0-py3-none-any.whl", wheel)
    assert_blocked(run, "PICKLE-GLOBAL-DANGEROUS")
    locs = [f["location"] for f in run.findings()]
    assert any("pkg/data.tar.gz!weights/model.pt!archive/data.pkl@" in loc for loc in locs), locs


@pytest.mark.parametrize("wrap", [gzip.compress, bz2.compress, lzma.compress])
def test_a_compressed_pickles(tmp_path: Path, wrap) -> None:  # type: ignore[no-untyped-def]
    assert_blocked(scan_bytes(tmp_path, "m.bin", wrap(evil())), "PICKLE-GLOBAL-DANGEROUS")
    assert_clean(scan_bytes(tmp_path, "ok.bin", wrap(BENIGN)))


def test_a_legacy_torch_magic_computed_by_eval(tmp_path: Path) -> None:
    first = PROTO2 + call("builtins", "eval", "0x1950a86a20f9469cfc6c") + STOP
    data = first + PROTO2 + b"M\xe9\x03" + STOP + evil("posix", "system")
    assert_blocked(
        scan_bytes(tmp_path, "m.pt", data), "PICKLE-GLOBAL-DANGEROUS", "TORCH-LEGACY-MAGIC"
    )


# --- B. stream parsing ----------------------------------------------------------------------


def test_b_broken_stream_after_payload(tmp_path: Path) -> None:
    data = PROTO2 + call("os", "system") + b"\xff\xff garbage"
    assert_blocked(
        scan_bytes(tmp_path, "m.pkl", data), "PICKLE-GLOBAL-DANGEROUS", "PICKLE-MALFORMED"
    )


def test_b_second_stream_carries_the_payload(tmp_path: Path) -> None:
    run = scan_bytes(tmp_path, "m.pkl", BENIGN + evil())
    assert_blocked(run, "PICKLE-GLOBAL-DANGEROUS")
    assert any(f["location"].endswith(f"@{len(BENIGN) + 2}") for f in run.findings()), (
        run.describe()
    )


def test_b_trailing_non_pickle_bytes_are_not_a_finding(tmp_path: Path) -> None:
    assert_clean(scan_bytes(tmp_path, "m.pkl", BENIGN + b"\x00\x01\x02\xfftrailing data"))


def test_b_frame_length_lies(tmp_path: Path) -> None:
    body = call("os", "system") + STOP
    data = PROTO4 + b"\x95" + (len(body) + 1000).to_bytes(8, "little") + body
    assert_blocked(
        scan_bytes(tmp_path, "m.pkl", data), "PICKLE-MALFORMED", "PICKLE-GLOBAL-DANGEROUS"
    )


def test_b_stack_global_operands_through_memo(tmp_path: Path) -> None:
    data = (
        PROTO4
        + ustr("os")
        + binput(0)
        + POP
        + ustr("system")
        + binput(1)
        + POP
        + binget(0)
        + binget(1)
        + STACK_GLOBAL
        + ustr("true")
        + TUPLE1
        + REDUCE
        + STOP
    )
    run = scan_bytes(tmp_path, "m.pkl", data)
    assert_blocked(run, "PICKLE-GLOBAL-DANGEROUS")
    assert any(f["detail"].get("module") == "os" for f in run.findings()), run.describe()


def test_b_memo_repointing_uses_the_last_put(tmp_path: Path) -> None:
    data = (
        PROTO4
        + ustr("collections")
        + binput(0)
        + POP
        + ustr("os")
        + binput(0)
        + POP
        + binget(0)
        + ustr("system")
        + STACK_GLOBAL
        + ustr("x")
        + TUPLE1
        + REDUCE
        + STOP
    )
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-GLOBAL-DANGEROUS")


def test_b_missing_memo_key(tmp_path: Path) -> None:
    data = PROTO4 + glob("os", "system") + binget(7) + STOP
    assert_blocked(
        scan_bytes(tmp_path, "m.pkl", data), "PICKLE-MALFORMED", "PICKLE-GLOBAL-DANGEROUS"
    )


def test_b_unresolvable_stack_global(tmp_path: Path) -> None:
    data = PROTO4 + b"K\x01" + ustr("system") + STACK_GLOBAL + STOP
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-GLOBAL-UNRESOLVED")


@pytest.mark.parametrize(
    ("module", "name", "rule"),
    [
        ("zipfile", "os.system", "PICKLE-GLOBAL-DANGEROUS"),
        ("pathlib", "os.system", "PICKLE-GLOBAL-DANGEROUS"),
        ("numpy", "prod.a", "PICKLE-GLOBAL-UNKNOWN"),
        ("torch", "_utils._rebuild_tensor_v2", "PICKLE-GLOBAL-UNKNOWN"),
    ],
)
def test_b_dotted_names_are_attribute_chains(
    tmp_path: Path, module: str, name: str, rule: str
) -> None:
    data = PROTO4 + ustr(module) + ustr(name) + STACK_GLOBAL + POP + BENIGN[2:]
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), rule)


@pytest.mark.parametrize(
    "body",
    [
        MARK + glob("os", "system") + ustr("true") + b"o",  # OBJ
        MARK + ustr("true") + b"ios\nsystem\n",  # INST
        glob("os", "system") + ustr("true") + TUPLE1 + NEWOBJ,  # NEWOBJ
        glob("os", "system") + ustr("true") + TUPLE1 + EMPTY_DICT + b"\x92",  # NEWOBJ_EX
    ],
    ids=["OBJ", "INST", "NEWOBJ", "NEWOBJ_EX"],
)
def test_b_every_call_opcode_and_popped_results(tmp_path: Path, body: bytes) -> None:
    data = PROTO4 + body + POP + BENIGN[2:]
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-GLOBAL-DANGEROUS")


def test_b_build_sets_attributes_on_an_allowlisted_global(tmp_path: Path) -> None:
    state = EMPTY_DICT + ustr("a") + ustr("os") + SETITEM
    data = PROTO2 + glob("collections", "OrderedDict") + NONE + state + TUPLE2 + BUILD + STOP
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-BUILD-ON-GLOBAL")


def test_b_setitem_on_an_allowlisted_global(tmp_path: Path) -> None:
    data = PROTO2 + glob("collections", "OrderedDict") + ustr("k") + ustr("v") + SETITEM + STOP
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-BUILD-ON-GLOBAL")


def test_b_call_on_a_call_result(tmp_path: Path) -> None:
    data = (
        PROTO2
        + glob("collections", "OrderedDict")
        + EMPTY_TUPLE
        + REDUCE
        + EMPTY_TUPLE
        + REDUCE
        + STOP
    )
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-INDIRECT-CALL")


@pytest.mark.parametrize("ext", [b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"])
def test_b_extension_registry_opcodes(tmp_path: Path, ext: bytes) -> None:
    data = PROTO2 + ext + ustr("x") + TUPLE1 + REDUCE + STOP
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-EXT-OPCODE")


def test_b_py2_builtin_names_are_mapped(tmp_path: Path) -> None:
    run = scan_bytes(tmp_path, "m.pkl", evil("__builtin__", "eval", proto=b""))
    assert_blocked(run, "PICKLE-GLOBAL-DANGEROUS")
    assert any(f["detail"].get("module") == "builtins" for f in run.findings())


def test_b_persistent_id_outside_torch_convention(tmp_path: Path) -> None:
    data = PROTO2 + ustr("module") + TUPLE1 + b"Q" + STOP
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-PERSID")


def test_b_torch_state_dict_is_clean(tmp_path: Path) -> None:
    assert_clean(scan_bytes(tmp_path, "sd.pkl", torch_like_state_dict()))
    assert_clean(
        scan_bytes(
            tmp_path,
            "m.pt",
            zip_bytes(
                {
                    "archive/data.pkl": torch_like_state_dict(),
                    "archive/data/0": b"\x80\x02cos\nsystem\n",
                    "archive/version": b"3\n",
                }
            ),
        )
    )


def test_b_storage_skip_needs_a_real_checkpoint_layout(tmp_path: Path) -> None:
    """A wheel with pkg/data.pkl and pkg/data/x is not a checkpoint: nothing is skipped."""
    wheel = zip_bytes(
        {
            "pkg/data.pkl": BENIGN,
            "pkg/data/x": evil(),
            "pkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
        }
    )
    assert_blocked(
        scan_bytes(tmp_path, "pkg-1.0-py3-none-any.whl", wheel), "PICKLE-GLOBAL-DANGEROUS"
    )


def test_b_torchscript_classes_only_inside_torchscript_archives(tmp_path: Path) -> None:
    pkl = PROTO2 + glob("__torch__", "Net") + EMPTY_TUPLE + NEWOBJ + STOP
    ts = zip_bytes(
        {
            "m/data.pkl": pkl,
            "m/constants.pkl": PROTO2 + EMPTY_TUPLE + STOP,
            "m/code/__torch__.py": b"class Net(Module):\n  pass\n",
        }
    )
    assert_clean(scan_bytes(tmp_path, "ts.pt", ts))
    assert_blocked(scan_bytes(tmp_path, "plain.pkl", pkl), "PICKLE-GLOBAL-UNKNOWN")


# --- C. gadgets no denylist knows --------------------------------------------------------------


def test_c_unknown_global_is_blocked_by_default(tmp_path: Path) -> None:
    run = scan_bytes(tmp_path, "m.pkl", evil("brand_new_gadget.sub", "run"))
    assert_blocked(run, "PICKLE-GLOBAL-UNKNOWN")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pip", "main"),
        ("pkgutil", "resolve_name"),
        ("asyncio.subprocess", "create_subprocess_shell"),
        ("functools", "partial"),
        ("operator", "attrgetter"),
        ("uuid", "_get_command_stdout"),
        ("torch.storage", "_load_from_bytes"),
        ("numpy.testing._private.utils", "runstring"),
        ("marshal", "loads"),
        ("types", "CodeType"),
    ],
)
def test_c_named_gadgets_are_dangerous(tmp_path: Path, module: str, name: str) -> None:
    assert_blocked(scan_bytes(tmp_path, "m.pkl", evil(module, name)), "PICKLE-GLOBAL-DANGEROUS")


# --- D. attacks on the scanner itself ----------------------------------------------------------


def test_d_scanner_deactivation_is_dangerous(tmp_path: Path) -> None:
    run = scan_bytes(tmp_path, "m.pkl", evil("fickling.hook", "deactivate_safe_ml_environment"))
    assert_blocked(run, "PICKLE-GLOBAL-DANGEROUS")


def test_d_memo_expansion_is_bounded(tmp_path: Path) -> None:
    # A list that doubles itself via DUP/APPENDS many times: a memory bomb for a loader
    # that builds values; the VM keeps placeholders only.
    body = b"]" + (b"2" + MARK + b"2" * 50 + b"e") * 20000
    run = scan_bytes(tmp_path, "m.pkl", PROTO2 + body + STOP)
    assert run.returncode in (0, 1), run.describe()


def test_d_huge_declared_lengths_do_not_allocate(tmp_path: Path) -> None:
    data = PROTO4 + b"\x8e" + (2**62).to_bytes(8, "little") + b"x" * 16
    assert_blocked(scan_bytes(tmp_path, "m.pkl", data), "PICKLE-MALFORMED")


# --- text that looks like protocol-0 opcodes is data, not a pickle ----------------------------


@pytest.mark.parametrize(
    "text",
    [
        b"const_p1,const_p2,const_f1\n.7376958,.2623042,.9997776\n1,2,3\n",  # GLOBAL ... STOP
        b"cython\nnumpy\ntorch\n",  # a requirements list: GLOBAL cython.numpy, then breaks
        b"(dp0\nS'a'\np1\nI1\ns.",  # a real protocol-0 pickle without globals
    ],
)
def test_text_that_parses_as_opcodes_is_not_a_finding(tmp_path: Path, text: bytes) -> None:
    assert_clean(scan_bytes(tmp_path, "results.csv", text))


def test_headerless_gadget_before_a_break_is_still_blocked(tmp_path: Path) -> None:
    data = b"cbuiltins\nexec\n(X>\nprint('x')\n"  # BINUNICODE length runs past the end
    assert_blocked(scan_bytes(tmp_path, "model.pkl", data), "PICKLE-GLOBAL-DANGEROUS")


# --- a wheel's own test data ------------------------------------------------------------------

_OWN = PROTO2 + glob("mypkg.models", "Result") + EMPTY_TUPLE + NEWOBJ + STOP


def _wheel(files: dict[str, bytes]) -> bytes:
    """A real wheel (METADATA, WHEEL, RECORD with hashes) holding ``files``."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_wheel(
            Path(tmp), "mypkg", "1.0", {"mypkg/__init__.py": b"", **files}
        ).read_bytes()


@pytest.mark.parametrize("path", ["mypkg/tests/data/result.pkl", "mypkg/data/result.pkl"])
def test_own_classes_in_own_data_are_reported_not_blocked(tmp_path: Path, path: str) -> None:
    """Issue 13: the package's own classes, only instantiated with state, are its data
    wherever they sit in the wheel (it was the tests folder only before)."""
    run = scan_bytes(tmp_path, "w.whl", _wheel({path: _OWN}))
    assert_clean(run)
    assert {f["rule_id"] for f in run.findings()} >= {"PICKLE-GLOBAL-OWN-DATA"}


@pytest.mark.parametrize(
    ("path", "data", "rule"),
    [
        ("mypkg/tests/x.pkl", evil("otherpkg.models", "Result"), "PICKLE-GLOBAL-UNKNOWN"),
        ("mypkg/tests/x.pkl", evil(), "PICKLE-GLOBAL-DANGEROUS"),  # gadgets stay gadgets
        # the package's own function called with arguments: a payload, not test data
        ("mypkg/tests/x.pkl", evil("mypkg.helpers", "run"), "PICKLE-GLOBAL-UNKNOWN"),
        # handed to an allowlisted callable that calls its argument (a trampoline)
        (
            "mypkg/tests/x.pkl",
            PROTO2
            + glob("numpy.random._pickle", "__randomstate_ctor")
            + ustr("cmd")
            + glob("mypkg.helpers", "run")
            + TUPLE2
            + REDUCE
            + STOP,
            "PICKLE-GLOBAL-UNKNOWN",
        ),
    ],
)
def test_only_own_code_in_test_data_is_relaxed(
    tmp_path: Path, path: str, data: bytes, rule: str
) -> None:
    assert_blocked(scan_bytes(tmp_path, "w.whl", _wheel({path: data})), rule)


def test_own_test_data_outside_a_wheel_is_not_relaxed(tmp_path: Path) -> None:
    run = scan_bytes(tmp_path, "x.zip", zip_bytes({"mypkg/tests/data/result.pkl": _OWN}))
    assert_blocked(run, "PICKLE-GLOBAL-UNKNOWN")
