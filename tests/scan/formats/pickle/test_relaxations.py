"""The criteria that let gensim's test data through (issue 13), and the attacks they must not.

Every pickle is built opcode by opcode and never loaded; each sits in a real wheel
(METADATA with ``Requires-Dist``, RECORD with hashes) scanned in process. Each relaxation
has its positive case beside the attack variants a reader of the code would try next:

* ``numpy.random.__RandomState_ctor``: numpy's no-argument RandomState constructor;
* a name of a distribution the wheel unconditionally requires, only stored, is a value;
* a ``functools.partial`` binds its function: nothing is called unless the partial is;
* a pickle in a test folder of the wheel's own package that calls nothing is test data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from safe_pip.models import ScanResult
from tests.scan.formats.helpers import blocking, rules, scan_bytes, zip_bytes
from tests.scan.pickles import (
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    MARK,
    NEWOBJ,
    NONE,
    PROTO2,
    REDUCE,
    SETITEM,
    STOP,
    TUPLE1,
    TUPLE2,
    glob,
    ustr,
)
from tests.support.wheels import build_wheel, pyc

TUPLE3 = b"\x87"
TUPLE = b"t"  # MARK ... TUPLE


def wheel(files: dict[str, bytes], requires: Sequence[str] = ()) -> bytes:
    """A real wheel of ``mypkg`` (with its modules ``models`` and ``helpers``) holding
    ``files``, requiring ``requires``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = build_wheel(
            Path(tmp),
            "mypkg",
            "1.0",
            {"mypkg/__init__.py": b"", "mypkg/models.py": b"", "mypkg/helpers.py": b"", **files},
            requires=requires,
        )
        return path.read_bytes()


def scan_wheel(tmp_path: Path, path: str, data: bytes, requires: Sequence[str] = ()) -> ScanResult:
    return scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel({path: data}, requires))


def stored(module: str, name: str) -> bytes:
    """``{'v': module.name}``: the global only stored as a dict value."""
    return PROTO2 + EMPTY_DICT + ustr("v") + glob(module, name) + SETITEM + STOP


def partial_of(module: str, name: str) -> bytes:
    """``functools.partial(module.name, 'x')`` on the stack (REDUCE)."""
    return glob("functools", "partial") + glob(module, name) + ustr("x") + TUPLE2 + REDUCE


def newobj_partial_with_state(module: str, name: str) -> bytes:
    """``partial.__new__(partial, f)`` then BUILD ``(f, ('x',), {}, None)``: a protocol-2
    partial, whose function comes (again) from its state."""
    func = glob(module, name)
    return (
        glob("functools", "partial")
        + func
        + TUPLE1
        + NEWOBJ
        + MARK
        + func
        + ustr("x")
        + TUPLE1
        + EMPTY_DICT
        + NONE
        + TUPLE
        + BUILD
    )


def in_dict(value: bytes) -> bytes:
    """``{'v': <value>}`` as a whole pickle."""
    return PROTO2 + EMPTY_DICT + ustr("v") + value + SETITEM + STOP


def called(value: bytes) -> bytes:
    """``<value>('y')``: REDUCE on what ``value`` leaves on the stack."""
    return value + ustr("y") + TUPLE1 + REDUCE


def instance(module: str, name: str, *, args: bytes = EMPTY_TUPLE) -> bytes:
    """``module.name.__new__(cls, *args)`` with a state dict (NEWOBJ + BUILD)."""
    return glob(module, name) + args + NEWOBJ + EMPTY_DICT + ustr("k") + ustr("v") + SETITEM + BUILD


def reconstructed(module: str, name: str, base: tuple[str, str] = ("builtins", "dict")) -> bytes:
    """``copyreg._reconstructor(cls, base, {...})`` plus a BUILD state (sklearn's Bunch)."""
    return (
        glob("copyreg", "_reconstructor")
        + glob(module, name)
        + glob(*base)
        + EMPTY_DICT
        + ustr("data")
        + ustr("x")
        + SETITEM
        + TUPLE3
        + REDUCE
        + EMPTY_DICT
        + ustr("k")
        + ustr("v")
        + SETITEM
        + BUILD
    )


def whole(*values: bytes) -> bytes:
    """A pickle holding ``values`` in a tuple."""
    return PROTO2 + MARK + b"".join(values) + TUPLE + STOP


# --- numpy.random.__RandomState_ctor --------------------------------------------------------

_RS_STATE = MARK + ustr("MT19937") + EMPTY_TUPLE + b"K\x00" + b"K\x00" + b"G" + bytes(8) + TUPLE


def test_old_randomstate_ctor_without_arguments_is_allowed(tmp_path: Path) -> None:
    """What numpy's RandomState pickled as before its ``_pickle`` module: no argument,
    RandomState(seed=0), then its state as BUILD."""
    data = PROTO2 + glob("numpy.random", "__RandomState_ctor") + EMPTY_TUPLE + REDUCE
    result = scan_bytes(tmp_path, "rng.pkl", data + _RS_STATE + BUILD + STOP)
    assert not blocking(result), result.findings
    assert not rules(result) & {"PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS"}


def test_old_randomstate_ctor_handed_a_callable_still_judges_it(tmp_path: Path) -> None:
    """It takes no argument (the real one raises TypeError); a callable handed to it is
    still a global of the pickle and judged as one."""
    data = (
        PROTO2
        + glob("numpy.random", "__RandomState_ctor")
        + glob("evilmod", "run")
        + TUPLE1
        + REDUCE
        + STOP
    )
    result = scan_bytes(tmp_path, "rng.pkl", data)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


# --- a required distribution's name, only stored ---------------------------------------------


def test_required_distributions_name_stored_is_a_value(tmp_path: Path) -> None:
    """gensim's poincare model holds ``{'dtype': numpy.float64}``; gensim requires numpy."""
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", stored("numpy", "float64"), ["numpy>=1.18"])
    assert not blocking(result), result.findings
    assert "PICKLE-GLOBAL-VALUE" in rules(result)


@pytest.mark.parametrize(
    "requires",
    [
        [],  # not required at all
        ['numpy; extra == "fast"'],  # only with an extra
        ['numpy; sys_platform == "win32"'],  # only where a marker holds: not installed here
        ["numpyx"],  # another distribution whose name starts the same
        ["scipy"],
    ],
    ids=["none", "extra", "marker", "prefix", "other"],
)
def test_stored_name_of_a_distribution_not_required_still_blocks(
    tmp_path: Path, requires: list[str]
) -> None:
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", stored("numpy", "float64"), requires)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


@pytest.mark.parametrize(
    ("module", "name"),
    [("numpy.linalg", "norm"), ("numpy.polynomial.__main__", "x")],
    ids=["submodule", "main-module"],
)
def test_stored_name_of_a_required_distributions_submodule_still_blocks(
    tmp_path: Path, module: str, name: str
) -> None:
    """Of a required distribution only its top-level package, which the wheel's code
    imports anyway, is relaxed: importing a submodule runs code nothing else runs on
    import (a ``__main__`` module runs a command line)."""
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", stored(module, name), ["numpy"])
    assert blocking(result) & {"PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS"}


def test_required_name_that_the_standard_library_has_still_blocks(tmp_path: Path) -> None:
    """``import this`` finds the standard library's module (it prints on import), not the
    distribution the wheel requires under that name."""
    data = stored("this", "s")
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data, ["this"])
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


@pytest.mark.parametrize(
    "data",
    [
        PROTO2 + called(glob("numpy", "float64")) + STOP,  # called
        PROTO2 + glob("numpy", "float64") + EMPTY_TUPLE + NEWOBJ + STOP,  # instantiated
        PROTO2 + glob("numpy", "float64") + EMPTY_DICT + BUILD + STOP,  # changed itself
        # handed to a helper that calls it later
        in_dict(glob("collections", "defaultdict") + glob("numpy", "float64") + TUPLE1 + REDUCE),
    ],
    ids=["called", "instantiated", "mutated", "factory"],
)
def test_required_name_used_otherwise_still_blocks(tmp_path: Path, data: bytes) -> None:
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data, ["numpy"])
    assert blocking(result) & {"PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS"}


def test_required_gadget_stored_still_blocks(tmp_path: Path) -> None:
    """Known gadgets stay gadgets: ``numpy.load`` unpickles, required or not."""
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", stored("numpy", "load"), ["numpy"])
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result)


def test_required_name_outside_a_wheel_still_blocks(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "m.pkl", stored("numpy", "float64"))
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


# --- functools.partial binds, it does not call -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [partial_of("mypkg.models", "normalize"), newobj_partial_with_state("mypkg.models", "norm")],
    ids=["reduce", "newobj-build"],
)
def test_own_function_in_a_partial_nothing_calls_is_data(tmp_path: Path, value: bytes) -> None:
    """gensim's TfidfModel keeps ``partial(smartirs_normalize, ...)`` in its state."""
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", in_dict(value))
    assert not blocking(result), result.findings
    assert "PICKLE-GLOBAL-OWN-DATA" in rules(result)


def test_required_function_in_a_partial_nothing_calls_still_blocks(tmp_path: Path) -> None:
    """Bound arguments make another package's function callable with the pickle's
    arguments by whoever calls the loaded object: numpy is required, its functions in a
    partial are judged as called (numpy.testing has ``runstring``, an exec)."""
    data = in_dict(partial_of("numpy.testing._private.utils", "runstring"))
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data, ["numpy"])
    assert blocking(result) & {"PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS"}


@pytest.mark.parametrize(
    "value",
    [
        called(partial_of("mypkg.models", "normalize")),  # REDUCE on the partial
        called(newobj_partial_with_state("mypkg.models", "norm")),
        # the partial as a defaultdict's factory: called on the first missing key
        glob("collections", "defaultdict")
        + partial_of("mypkg.models", "normalize")
        + TUPLE1
        + REDUCE,
        # a partial of the partial, called
        called(glob("functools", "partial") + partial_of("mypkg.models", "f") + TUPLE1 + REDUCE),
        # the partial handed as state to copyreg._reconstructor's base
        glob("copyreg", "_reconstructor")
        + glob("mypkg.models", "Result")
        + glob("builtins", "dict")
        + partial_of("mypkg.models", "normalize")
        + TUPLE3
        + REDUCE,
    ],
    ids=["reduce", "newobj-build", "defaultdict", "nested", "reconstructor-state"],
)
def test_own_function_in_a_partial_that_is_called_still_blocks(
    tmp_path: Path, value: bytes
) -> None:
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", in_dict(value))
    assert blocking(result) & {"PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS"}


def test_required_function_in_a_called_partial_still_blocks(tmp_path: Path) -> None:
    data = in_dict(called(partial_of("numpy", "linalg_norm")))
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data, ["numpy"])
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


@pytest.mark.parametrize(
    ("module", "name", "rule"),
    [
        ("otherpkg.models", "normalize", "PICKLE-GLOBAL-UNKNOWN"),  # not own, not required
        ("builtins", "eval", "PICKLE-GLOBAL-DANGEROUS"),  # a builtin in a partial: as before
        ("numpy", "load", "PICKLE-GLOBAL-DANGEROUS"),  # a required package's gadget
    ],
)
def test_other_functions_in_a_partial_nothing_calls_still_block(
    tmp_path: Path, module: str, name: str, rule: str
) -> None:
    data = in_dict(partial_of(module, name))
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data, ["numpy"])
    assert rule in blocking(result)


@pytest.mark.parametrize(
    "value",
    [MARK + b"imypkg.helpers\nrun\n", MARK + glob("mypkg.helpers", "run") + b"o"],
    ids=["inst", "obj"],
)
def test_own_name_through_inst_or_obj_still_blocks(tmp_path: Path, value: bytes) -> None:
    """INST and OBJ without arguments instantiate a class but *call* anything else (a
    NEWOBJ of a function fails instead): the wheel's own function called at load time."""
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", in_dict(value))
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert "PICKLE-GLOBAL-OWN-DATA" not in rules(result)


def test_own_function_in_a_partial_outside_its_wheel_still_blocks(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "m.pkl", in_dict(partial_of("mypkg.models", "normalize")))
    assert blocking(result)


# --- test data of the wheel's own package -----------------------------------------------------

_TEST_DATA = whole(
    instance("morfessor.baseline", "BaselineModel"),
    # gensim's varembed_morfessor.bin: a namedtuple of counts, ConstrNode(1, 1, ())
    instance("morfessor.baseline", "ConstrNode", args=b"K\x01K\x01" + EMPTY_TUPLE + TUPLE3),
    reconstructed("sklearn.datasets.base", "Bunch"),
)


@pytest.mark.parametrize(
    "path",
    ["mypkg/test/test_data/mini_newsgroup", "mypkg/tests/m.pkl", "mypkg/sub/testing/x/m.bin"],
)
def test_other_packages_classes_in_own_test_data_are_reported(tmp_path: Path, path: str) -> None:
    """gensim's varembed_morfessor.bin and mini_newsgroup: classes of packages gensim does
    not require, only instantiated with state, in gensim/test/test_data."""
    result = scan_wheel(tmp_path, path, _TEST_DATA)
    assert not blocking(result), result.findings
    found = [f for f in result.findings if f.rule_id == "PICKLE-GLOBAL-TEST-DATA"]
    assert {f.detail["name"] for f in found} == {"BaselineModel", "ConstrNode", "Bunch"}


@pytest.mark.parametrize(
    "path",
    [
        "mypkg/data/m.pkl",  # not a test folder
        "tests/m.pkl",  # a top-level tests folder, in no package
        "tests/data/m.pkl",
        "tests/tests/m.pkl",
        "mypkg/m_test.pkl",  # a test-looking file name is not a test folder
        "mypkg-1.0.data/data/mypkg/tests/m.pkl",  # the .data folder
        "mypkg-1.0.dist-info/tests/m.pkl",  # the .dist-info folder
        "mypkg\\tests\\m.pkl",  # pip makes no folders of a backslash
    ],
)
def test_the_same_pickle_outside_a_package_test_folder_still_blocks(
    tmp_path: Path, path: str
) -> None:
    result = scan_wheel(tmp_path, path, _TEST_DATA)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


def test_test_data_inside_another_archive_in_the_wheel_still_blocks(tmp_path: Path) -> None:
    inner = zip_bytes({"mypkg/tests/m.pkl": _TEST_DATA})
    result = scan_wheel(tmp_path, "mypkg/tests/data.zip", inner)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


def test_test_data_outside_a_wheel_still_blocks(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "mypkg/tests/m.pkl", _TEST_DATA)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        # a function of another package called with arguments
        (called(glob("morfessor.io", "read")), "PICKLE-GLOBAL-UNKNOWN"),
        # the wheel's own function called: a payload, not test data
        (called(glob("mypkg.helpers", "run")), "PICKLE-GLOBAL-UNKNOWN"),
        # a known gadget only instantiated
        (instance("subprocess", "Popen"), "PICKLE-GLOBAL-DANGEROUS"),
        # a gadget merely stored as a value
        (glob("builtins", "eval"), "PICKLE-GLOBAL-UNKNOWN"),
        # handed to a helper that calls it (a trampoline)
        (
            glob("collections", "defaultdict") + glob("morfessor.io", "read") + TUPLE1 + REDUCE,
            "PICKLE-GLOBAL-UNKNOWN",
        ),
        # state set on the imported class itself
        (glob("morfessor.baseline", "Lexicon") + EMPTY_DICT + BUILD, "PICKLE-BUILD-ON-GLOBAL"),
        # copyreg._reconstructor whose base is not allowed: base.__new__ and __init__ run
        (
            reconstructed("sklearn.datasets.base", "Bunch", ("sklearn.utils", "Base")),
            "PICKLE-GLOBAL-UNKNOWN",
        ),
        # calling the result of a call: not an imported global
        (called(instance("morfessor.baseline", "Model")), "PICKLE-INDIRECT-CALL"),
        # INST and OBJ without arguments: a loader calls the name when it is no class
        (MARK + b"imorfessor.io\nreset\n", "PICKLE-GLOBAL-UNKNOWN"),
        (MARK + glob("morfessor.io", "reset") + b"o", "PICKLE-GLOBAL-UNKNOWN"),
    ],
    ids=[
        "foreign-call",
        "own-call",
        "gadget-class",
        "gadget-stored",
        "trampoline",
        "build-on-global",
        "foreign-base",
        "indirect",
        "inst",
        "obj",
    ],
)
def test_test_data_that_calls_anything_still_blocks(
    tmp_path: Path, extra: bytes, rule: str
) -> None:
    """Any call, hand-off or gadget takes the whole pickle out of the relaxation: the
    other packages' classes in it block again, exactly as outside a test folder."""
    data = whole(instance("morfessor.baseline", "BaselineModel"), extra)
    result = scan_wheel(tmp_path, "mypkg/tests/m.pkl", data)
    assert rule in blocking(result), result.findings
    assert "PICKLE-GLOBAL-TEST-DATA" not in rules(result)
    assert any(
        f.rule_id == "PICKLE-GLOBAL-UNKNOWN" and f.detail.get("name") == "BaselineModel"
        for f in result.findings
    )


def test_test_data_cut_short_still_blocks(tmp_path: Path) -> None:
    """Whatever follows a break is unknown: the relaxation needs every stream whole."""
    data = _TEST_DATA[:-1]  # no STOP
    result = scan_wheel(tmp_path, "mypkg/tests/m.pkl", data)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)


def test_same_bytes_twice_in_a_wheel_are_judged_by_each_place(tmp_path: Path) -> None:
    """Identical members are scanned once per reading: where they sit is part of it, so a
    copy outside the test folder is not waved through by the copy inside it."""
    big = whole(*[instance("morfessor.baseline", "BaselineModel")] * 30)
    assert len(big) >= 512  # members this size are deduplicated by digest
    # both in a folder named tests, with the same file name; only one in a package
    files = {"mypkg/tests/m.pkl": big, "tests/m.pkl": big}
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel(files))
    unknown = [f for f in result.findings if f.rule_id == "PICKLE-GLOBAL-UNKNOWN"]
    assert any(f.location.split("!")[-1].startswith("tests/m.pkl") for f in unknown), unknown
    assert "PICKLE-GLOBAL-TEST-DATA" in rules(result)


# --- a wheel's "own" package named like a standard-library module -----------------------------


def stdlib_named_wheel(files: dict[str, bytes]) -> bytes:
    """A real wheel of the distribution ``unittest``: WHEEL-FOREIGN-PACKAGE lets a folder
    named like a standard-library module through when the distribution has its name."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_wheel(Path(tmp), "unittest", "1.0", files).read_bytes()


@pytest.mark.parametrize(
    ("path", "data"),
    [
        # importing the standard library's unittest.__main__ runs unittest's command line:
        # test discovery imports and runs every test*.py under the current folder
        ("unittest/extras/m.pkl", stored("unittest.__main__", "main")),
        ("unittest/extras/m.pkl", in_dict(instance("unittest.__main__", "main"))),
        ("unittest/tests/m.pkl", whole(instance("turtledemo.__main__", "DemoWindow"))),
    ],
    ids=["stored", "instantiated", "test-data"],
)
def test_a_package_named_like_the_standard_library_is_not_the_wheels_own(
    tmp_path: Path, path: str, data: bytes
) -> None:
    """The standard library comes first on ``sys.path``: ``import unittest`` never reaches
    the wheel's ``unittest/`` folder, so its names are not the wheel's own code."""
    wheel_bytes = stdlib_named_wheel({"unittest/extras/__init__.py": b"", path: data})
    result = scan_bytes(tmp_path, "unittest-1.0-py3-none-any.whl", wheel_bytes)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert not rules(result) & {"PICKLE-GLOBAL-OWN-DATA", "PICKLE-GLOBAL-TEST-DATA"}


@pytest.mark.parametrize(
    "data",
    [
        stored("google.victim.__main__", "run"),
        in_dict(instance("google.victim.models", "Model")),
        stored("google.evil_mod.x", "run"),
    ],
    ids=["stored", "instantiated", "namespace-not-shipped"],
)
def test_a_module_the_wheel_does_not_ship_is_not_its_own(tmp_path: Path, data: bytes) -> None:
    """A wheel shipping ``google/evil/`` (a namespace other distributions install into too)
    does not own ``google.victim``: importing another distribution's ``__main__`` runs its
    command line. Only the modules the wheel ships and what lies below its regular packages
    are its own code."""
    files = {
        "mypkg/__init__.py": b"",
        "google/evil/__init__.py": b"",
        "google/evil/models.py": b"",
        "google/evil/m.pkl": data,
    }
    with tempfile.TemporaryDirectory() as tmp:
        wheel_bytes = build_wheel(Path(tmp), "mypkg", "1.0", files).read_bytes()
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel_bytes)
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert "PICKLE-GLOBAL-OWN-DATA" not in rules(result)


def test_a_shipped_module_in_a_shared_namespace_is_the_wheels_own(tmp_path: Path) -> None:
    files = {"google/evil/__init__.py": b"", "google/evil/models.py": b""}
    files["google/evil/m.pkl"] = in_dict(instance("google.evil.models", "Model"))
    with tempfile.TemporaryDirectory() as tmp:
        wheel_bytes = build_wheel(Path(tmp), "mypkg", "1.0", files).read_bytes()
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel_bytes)
    assert not blocking(result)
    assert "PICKLE-GLOBAL-OWN-DATA" in rules(result)


def test_a_module_below_a_regular_package_of_the_wheel_is_its_own(tmp_path: Path) -> None:
    """gensim's old test models name ``gensim.models.wrappers``, which gensim no longer
    ships: below a regular package the import finds the wheel's code or fails."""
    data = in_dict(instance("mypkg.removed.fasttext", "FastText"))
    result = scan_wheel(tmp_path, "mypkg/data/m.pkl", data)
    assert not blocking(result)
    assert "PICKLE-GLOBAL-OWN-DATA" in rules(result)


def _index_of(module: str, name: str, helper: str) -> bytes:
    """``pandas...<helper>(module.name, {'filename': ..., 'mode': 'w+', 'shape': 4})``: the helper
    calls ``cls.__new__(cls, **d)`` (or ``cls._simple_new``) with the pickle's arguments."""
    return (
        glob(helper.rsplit(".", 1)[0], helper.rsplit(".", 1)[1])
        + glob(module, name)
        + EMPTY_DICT
        + ustr("filename")
        + ustr("/tmp/victim")
        + SETITEM
        + ustr("mode")
        + ustr("w+")
        + SETITEM
        + ustr("shape")
        + b"K\x04"
        + SETITEM
        + TUPLE2
        + REDUCE
    )


@pytest.mark.parametrize(
    "value",
    [
        # numpy.memmap.__new__(memmap, path, 'uint8', 'w+') truncates the file at ``path``
        instance(
            "numpy", "memmap", args=MARK + ustr("/tmp/victim") + ustr("uint8") + ustr("w+") + TUPLE
        ),
        _index_of("numpy", "memmap", "pandas.core.indexes.base._new_Index"),
        _index_of("numpy", "memmap", "pandas.core.indexes.period._new_PeriodIndex"),
        _index_of("numpy", "memmap", "pandas.core.indexes.datetimes._new_DatetimeIndex"),
        # bare instances first (no arguments, nothing to judge), then one with arguments
        instance("numpy", "memmap") * 20
        + instance("numpy", "memmap", args=MARK + ustr("/tmp/victim") + ustr("w+") + TUPLE),
        # numbers first (judged harmless), then a path, as a keyword of NEWOBJ_EX
        instance("numpy", "memmap", args=b"K\x01" + TUPLE1) * 20
        + glob("numpy", "memmap")
        + EMPTY_TUPLE
        + EMPTY_DICT
        + ustr("filename")
        + ustr("/tmp/victim")
        + SETITEM
        + b"\x92",
    ],
    ids=[
        "newobj-args",
        "new-index",
        "new-period-index",
        "new-datetime-index",
        "args-after-bare",
        "keyword-after-numbers",
    ],
)
def test_test_data_that_constructs_another_package_class_with_arguments_still_blocks(
    tmp_path: Path, value: bytes
) -> None:
    """``cls.__new__(cls, *args)`` runs the class's own constructor code with the pickle's
    arguments, as a call does: only a class instantiated bare (``cls.__new__(cls)``) and
    given state is test data."""
    result = scan_wheel(tmp_path, "mypkg/tests/m.pkl", whole(value))
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert "PICKLE-GLOBAL-TEST-DATA" not in rules(result)


@pytest.mark.parametrize("module", ["mypkg.evil", "mypkg.models"])
def test_a_wheel_with_sourceless_bytecode_has_no_own_data(tmp_path: Path, module: str) -> None:
    """``import mypkg.evil`` runs ``mypkg/evil.pyc``, code the source rules never read: the
    own relaxation rests on the wheel's modules being judged as source, so a wheel that
    ships importable bytecode without its source has none (not even for its .py modules:
    any of them may import the bytecode)."""
    files = {"mypkg/evil.pyc": pyc("import os\nos.system('id')\nclass X: pass\n")}
    files["mypkg/data/m.pkl"] = stored(module, "X")
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel(files))
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert "PICKLE-GLOBAL-OWN-DATA" not in rules(result)


def test_bytecode_in_pycache_is_not_sourceless(tmp_path: Path) -> None:
    """``__pycache__/x.cpython-311.pyc`` is only used beside its ``x.py`` (the source): it
    does not take the own-data relaxation away.  Shipping bytecode at all is refused by
    its own rule (``WHEEL-BYTECODE``), nothing else blocks."""
    files = {"mypkg/__pycache__/models.cpython-311.pyc": pyc("X = 1\n")}
    files["mypkg/data/m.pkl"] = stored("mypkg.models", "X")
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", wheel(files))
    assert blocking(result) == {"WHEEL-BYTECODE"}
    assert "PICKLE-GLOBAL-OWN-DATA" in rules(result)


@pytest.mark.parametrize(
    "value",
    [glob("unittest.__main__", "main"), instance("unittest.__main__", "TestProgram")],
    ids=["stored", "instantiated"],
)
def test_test_data_naming_a_main_module_still_blocks(tmp_path: Path, value: bytes) -> None:
    """Importing ``unittest.__main__`` runs unittest's command line (test discovery runs
    every test*.py under the current folder): a name of a ``__main__`` module is not data."""
    result = scan_wheel(tmp_path, "mypkg/tests/m.pkl", whole(value))
    assert "PICKLE-GLOBAL-UNKNOWN" in blocking(result)
    assert "PICKLE-GLOBAL-TEST-DATA" not in rules(result)
