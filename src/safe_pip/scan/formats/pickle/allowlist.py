"""The exact ``(module, qualname)`` pairs a pickle may import, each with a reason.

An allowlist, not a denylist: new gadgets are found every month (picklescan has
shipped fixes for 40 advisories), but the set of names an ordinary checkpoint
needs is small and stable.  The core is PyTorch's own ``weights_only`` set
(``torch/_weights_only_unpickler.py``) plus numpy's array reconstruction, which
covers ordinary state dicts, optimizer state and numpy data with zero false
positives.  Everything else is a finding; the policy can allow more names.

Only exact pairs count: ``torch._utils.evil`` is not allowed because
``torch._utils._rebuild_tensor_v2`` is, and a dotted qualname such as
``("torch", "_utils._rebuild_tensor_v2")`` is not an exact pair either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _pairs(module: str, names: Iterable[str], reason: str) -> dict[tuple[str, str], str]:
    return {(module, n): reason for n in names}


_TORCH_DTYPES = [
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "complex32",
    "chalf",
    "complex64",
    "cfloat",
    "complex128",
    "cdouble",
    "uint8",
    "int8",
    "int16",
    "short",
    "int32",
    "int",
    "int64",
    "long",
    "bool",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "uint16",
    "uint32",
    "uint64",
    "bits1x8",
    "bits2x4",
    "bits4x2",
    "bits8",
    "bits16",
    "uint1",
    "uint2",
    "uint3",
    "uint4",
    "uint5",
    "uint6",
    "uint7",
    "int1",
    "int2",
    "int3",
    "int4",
    "int5",
    "int6",
    "int7",
]

_TORCH_TENSOR_KINDS = ["Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char"]
_TORCH_TENSOR_KINDS += ["Byte", "Bool"]

# Every tensor kind has a storage, plus complex and quantized ones.
_TORCH_STORAGE_KINDS = [*_TORCH_TENSOR_KINDS, "ComplexFloat", "ComplexDouble"]
_TORCH_STORAGE_KINDS += ["QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4"]

_TORCH_REBUILD = [
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
]

_QSCHEMES = [
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
]

_NUMPY_DTYPE_CLASSES = [
    "BoolDType",
    "Int8DType",
    "UInt8DType",
    "Int16DType",
    "UInt16DType",
    "Int32DType",
    "UInt32DType",
    "Int64DType",
    "UInt64DType",
    "ByteDType",
    "UByteDType",
    "ShortDType",
    "UShortDType",
    "IntDType",
    "UIntDType",
    "LongDType",
    "ULongDType",
    "LongLongDType",
    "ULongLongDType",
    "Float16DType",
    "Float32DType",
    "Float64DType",
    "LongDoubleDType",
    "Complex64DType",
    "Complex128DType",
    "CLongDoubleDType",
    "ObjectDType",
    "BytesDType",
    "StrDType",
    "VoidDType",
    "DateTime64DType",
    "TimeDelta64DType",
    "StringDType",
]

_W = "torch weights_only allowlist"

ALLOWED: dict[tuple[str, str], str] = {
    # --- PyTorch: exactly what torch.load(weights_only=True) accepts -------------------
    **_pairs("torch", _TORCH_DTYPES, f"{_W}: dtype singletons, no behaviour"),
    **_pairs("torch", [f"{k}Storage" for k in _TORCH_STORAGE_KINDS], f"{_W}: legacy storages"),
    **_pairs("torch.cuda", [f"{k}Storage" for k in _TORCH_STORAGE_KINDS], f"{_W}: storages"),
    **_pairs("torch", [f"{k}Tensor" for k in _TORCH_TENSOR_KINDS], f"{_W}: tensor classes"),
    **_pairs("torch.cuda", [f"{k}Tensor" for k in _TORCH_TENSOR_KINDS], f"{_W}: tensor classes"),
    **_pairs("torch.sparse", [f"{k}Tensor" for k in _TORCH_TENSOR_KINDS], f"{_W}: sparse"),
    **_pairs("torch.storage", ["TypedStorage", "UntypedStorage"], f"{_W}: storage types"),
    **_pairs("torch", ["UntypedStorage", "TypedStorage"], f"{_W}: storage types"),
    **_pairs("torch._utils", _TORCH_REBUILD, f"{_W}: tensor rebuild functions"),
    **_pairs("torch._tensor", ["_rebuild_from_type_v2"], f"{_W}: tensor subclass rebuild"),
    **_pairs("torch", _QSCHEMES, f"{_W}: quantization schemes"),
    ("torch.nn.parameter", "Parameter"): f"{_W}: nn.Parameter",
    ("torch", "Size"): f"{_W}: a tuple subclass",
    ("torch", "Tensor"): f"{_W}: the tensor class",
    ("torch", "device"): f"{_W}: a device descriptor",
    ("torch.serialization", "_get_layout"): f"{_W}: maps a layout name to torch.strided etc.",
    ("collections", "OrderedDict"): f"{_W}: state_dict container",
    ("collections", "Counter"): f"{_W}: a dict subclass",
    ("_codecs", "encode"): f"{_W}: protocol-2 encoding of bytes (str → latin-1 bytes)",
    ("builtins", "bytearray"): f"{_W}: a byte buffer",
    ("builtins", "set"): f"{_W}: a set",
    ("builtins", "complex"): f"{_W}: a complex number",
    # --- numpy reconstruction (picklescan/fickling extras) ------------------------------
    **_pairs(
        "numpy.core.multiarray",
        ["_reconstruct", "scalar"],
        "numpy array and scalar reconstruction from dtype and raw bytes (numpy < 2)",
    ),
    **_pairs(
        "numpy._core.multiarray",
        ["_reconstruct", "scalar"],
        "numpy array and scalar reconstruction from dtype and raw bytes (numpy >= 2)",
    ),
    **_pairs(
        "numpy.core.numeric",
        ["_frombuffer"],
        "protocol-5 numpy arrays: an array over a buffer, nothing is called",
    ),
    **_pairs("numpy._core.numeric", ["_frombuffer"], "protocol-5 numpy arrays (numpy >= 2)"),
    ("numpy.core._internal", "_reconstruct"): (
        "pre-1.0 numpy array pickles; numpy keeps it as ndarray.__new__(subtype, shape, dtype)"
    ),
    ("numpy", "ndarray"): "the array class, instantiated by _reconstruct",
    ("numpy", "dtype"): "dtype descriptors, built from a type string",
    **_pairs("numpy.dtypes", _NUMPY_DTYPE_CLASSES, "numpy >= 1.25 dtype classes, data only"),
    ("numpy.ma.core", "_mareconstruct"): "masked-array reconstruction, like _reconstruct",
    (
        "numpy.ma.core",
        "MaskedArray",
    ): "masked-array class; numpy's own __setstate__ sets data and mask",
    **_pairs(
        "numpy.matrixlib.defmatrix",
        ["matrix"],
        "ndarray subclass passed to _reconstruct (joblib's and numpy's test data)",
    ),
    ("numpy", "matrix"): "ndarray subclass passed to _reconstruct",
    **{
        (mod, cls): "record-array ndarray subclass and its scalar, rebuilt like any array"
        for mod in ("numpy.core.records", "numpy._core.records", "numpy.rec", "numpy")
        for cls in ("recarray", "record")
    },
    **_pairs(
        "numpy.random._pickle",
        ["__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"],
        "RNG state in training checkpoints; builds a bit generator by name or from the "
        "class it is handed, which is checked like any other global",
    ),
    ("numpy.random", "__RandomState_ctor"): (
        "numpy's RandomState pickling constructor under its old public name (every numpy "
        "from 1.x to 2.x defines it in numpy/random/__init__.py): takes no arguments and "
        "returns RandomState(seed=0), whose state the pickle then sets as data"
    ),
    **{
        (f"numpy.random.{mod}", cls): (
            "numpy's bit generator classes (what numpy 2 hands __bit_generator_ctor): "
            "created without arguments, their state is data"
        )
        for mod, cls in (
            ("_mt19937", "MT19937"),
            ("_pcg64", "PCG64"),
            ("_pcg64", "PCG64DXSM"),
            ("_philox", "Philox"),
            ("_sfc64", "SFC64"),
        )
    },
    # --- TorchScript: identity helpers of torch/jit/_pickle.py ---------------------------
    **_pairs(
        "torch.jit._pickle",
        [
            "build_intlist",
            "build_tensorlist",
            "build_doublelist",
            "build_boollist",
            "build_complexlist",
            "restore_type_tag",
        ],
        "TorchScript list/type-tag helpers; each returns its argument unchanged",
    ),
    # --- scipy sparse matrices (numpy/scipy test data, sklearn features) -----------------
    **{
        (mod, cls): "sparse-matrix data container; unpickling only sets attributes"
        for fmt in ("coo", "csr", "csc", "bsr", "dia", "dok", "lil")
        for mod in (f"scipy.sparse._{fmt}", f"scipy.sparse.{fmt}", "scipy.sparse")
        for cls in (f"{fmt}_matrix", f"{fmt}_array")
    },
    # --- joblib ----------------------------------------------------------------------------
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): (
        "joblib's array placeholder: the bytes after it are raw array data, or a nested "
        "pickle for object arrays, which the engine reads and checks like any other"
    ),
    **{
        (mod, cls): (
            "legacy multi-file joblib: names a side file in the same folder (scanned as a file "
            "of its own); a name that leaves the folder is a finding"
        )
        for mod in (
            "joblib.numpy_pickle",
            "joblib.numpy_pickle_compat",
            "sklearn.externals.joblib.numpy_pickle",
        )
        for cls in ("NDArrayWrapper", "ZNDArrayWrapper")
    },
    # --- pandas: the names pandas' own __reduce__ methods write (pandas 1.x to 3.x) -------
    **{
        pair: (
            "pandas data structure or the helper its __reduce__ names: it rebuilds arrays, "
            "indexes and frames from pickled values, each of which is checked on its own"
        )
        for pair in (
            *(
                ("pandas", n)
                for n in [
                    "DataFrame",
                    "Series",
                    "Index",
                    "RangeIndex",
                    "MultiIndex",
                    "DatetimeIndex",
                    "TimedeltaIndex",
                    "PeriodIndex",
                    "CategoricalIndex",
                    "IntervalIndex",
                    "Categorical",
                    "CategoricalDtype",
                    "DatetimeTZDtype",
                    "PeriodDtype",
                    "IntervalDtype",
                    "SparseDtype",
                    "Int8Dtype",
                    "Int16Dtype",
                    "Int32Dtype",
                    "Int64Dtype",
                    "UInt8Dtype",
                    "UInt16Dtype",
                    "UInt32Dtype",
                    "UInt64Dtype",
                    "Float32Dtype",
                    "Float64Dtype",
                    "BooleanDtype",
                    "StringDtype",
                    "Timestamp",
                    "Timedelta",
                    "Period",
                    "Interval",
                    "NA",
                    "NaT",
                ]
            ),
            *(
                ("pandas.arrays", n)
                for n in [
                    "DatetimeArray",
                    "TimedeltaArray",
                    "PeriodArray",
                    "IntervalArray",
                    "IntegerArray",
                    "FloatingArray",
                    "BooleanArray",
                    "StringArray",
                    "SparseArray",
                    "NumpyExtensionArray",
                    "PandasArray",
                ]
            ),
            ("pandas.core.frame", "DataFrame"),
            ("pandas.core.series", "Series"),
            ("pandas.core.indexes.base", "Index"),
            ("pandas.core.indexes.base", "_new_Index"),
            ("pandas.core.indexes.range", "RangeIndex"),
            ("pandas.core.indexes.multi", "MultiIndex"),
            ("pandas.core.indexes.datetimes", "DatetimeIndex"),
            ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"),
            ("pandas.core.indexes.timedeltas", "TimedeltaIndex"),
            ("pandas.core.indexes.period", "PeriodIndex"),
            ("pandas.core.indexes.period", "_new_PeriodIndex"),
            ("pandas.core.indexes.category", "CategoricalIndex"),
            ("pandas.core.indexes.interval", "IntervalIndex"),
            ("pandas.core.indexes.numeric", "Int64Index"),
            ("pandas.core.indexes.numeric", "Float64Index"),
            ("pandas.core.indexes.numeric", "UInt64Index"),
            ("pandas.core.arrays.categorical", "Categorical"),
            ("pandas.core.arrays.datetimes", "DatetimeArray"),
            ("pandas.core.arrays.timedeltas", "TimedeltaArray"),
            ("pandas.core.arrays.period", "PeriodArray"),
            ("pandas.core.arrays.integer", "IntegerArray"),
            ("pandas.core.arrays.floating", "FloatingArray"),
            ("pandas.core.arrays.boolean", "BooleanArray"),
            ("pandas.core.arrays.string_", "StringArray"),
            ("pandas.core.dtypes.dtypes", "CategoricalDtype"),
            ("pandas.core.dtypes.dtypes", "DatetimeTZDtype"),
            ("pandas.core.dtypes.dtypes", "PeriodDtype"),
            ("pandas.core.dtypes.dtypes", "IntervalDtype"),
            ("pandas.core.internals.managers", "BlockManager"),
            ("pandas.core.internals.managers", "SingleBlockManager"),
            ("pandas.core.internals.blocks", "new_block"),
            ("pandas._libs.internals", "_unpickle_block"),
            ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
            ("pandas._libs.interval", "__pyx_unpickle_IntervalMixin"),
            ("pandas._libs.interval", "Interval"),
            ("pandas._libs.tslibs.nattype", "_nat_unpickle"),
            ("pandas._libs.tslibs.nattype", "__nat_unpickle"),
            ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
            ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
            ("pandas._libs.tslibs.period", "Period"),
            ("pandas._libs.missing", "NA"),
            *(
                ("pandas._libs.tslibs.offsets", n)
                for n in [
                    "Day",
                    "Hour",
                    "Minute",
                    "Second",
                    "Milli",
                    "Micro",
                    "Nano",
                    "Week",
                    "MonthEnd",
                    "MonthBegin",
                    "QuarterEnd",
                    "QuarterBegin",
                    "YearEnd",
                    "YearBegin",
                    "BusinessDay",
                    "BusinessMonthEnd",
                    "BusinessMonthBegin",
                    "DateOffset",
                ]
            ),
        )
    },
    # --- networkx graphs (a torch dependency; its wheel ships pickled test graphs) ---------
    **{
        (f"networkx.classes.{mod}", cls): (
            "graph container without __reduce__/__setstate__ of its own: unpickling "
            "creates it with object.__new__ and sets its __dict__"
        )
        for mod, cls in (
            ("graph", "Graph"),
            ("digraph", "DiGraph"),
            ("multigraph", "MultiGraph"),
            ("multidigraph", "MultiDiGraph"),
        )
    },
    # --- functools.partial: a callable bound to arguments, allowed around allowed callables
    ("functools", "partial"): (
        "binds arguments to a callable without calling it; allowed only when the callable "
        "it wraps (also one set later by BUILD) is itself allowed, and calling the partial "
        "counts as calling that callable"
    ),
    # --- inert builtins ------------------------------------------------------------------
    ("builtins", "frozenset"): "an immutable set",
    **_pairs(
        "builtins",
        ["dict", "list", "tuple", "int", "float", "bool", "str", "bytes"],
        "plain value constructors: they build a value from arguments the pickle supplies, "
        "every one of which is itself checked (networkx and py2 pickles name them)",
    ),
    ("builtins", "slice"): "a slice object, no behaviour",
    ("builtins", "range"): "a lazy range; py2 xrange maps here",
    ("builtins", "object"): "base for copyreg._reconstructor of plain objects",
    ("copyreg", "_reconstructor"): (
        "protocol 0/1 object rebuild: base.__new__(cls); cls and base are themselves "
        "globals checked against this list"
    ),
    ("collections", "defaultdict"): "dict subclass; its factory is a global checked on its own",
    ("collections", "deque"): "a sequence container",
    # --- plain value types common in checkpoint metadata ---------------------------------
    **_pairs(
        "datetime",
        ["datetime", "date", "time", "timedelta", "timezone"],
        "date/time values in training metadata; constructors only",
    ),
    ("decimal", "Decimal"): "a number",
    ("fractions", "Fraction"): "a number",
    ("uuid", "UUID"): "a UUID value (not the command-running uuid helpers)",
    (
        "argparse",
        "Namespace",
    ): "hyper-parameters saved by many training scripts; sets attributes on itself",
    ("types", "SimpleNamespace"): "attribute bag; sets attributes on itself",
    **_pairs(
        "pathlib",
        ["Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"],
        "path values in configs; constructing a path touches no file",
    ),
}


def is_allowed(module: str, name: str) -> bool:
    return (module, name) in ALLOWED


Position = int | str
"""An argument of a call: its index among the positional arguments, or its keyword."""


@dataclass(frozen=True)
class Handles:
    """What an allowlisted helper does with the arguments it is handed.

    Being on the allowlist says the helper itself is harmless; what it is *handed* is
    then judged as if the pickle used it directly.  Each position is an argument
    ``(index, keyword)``.
    """

    calls: tuple[tuple[int, str], ...] = ()
    """Called now or later (a default factory, a partial's function, a bit generator)."""
    call_items: tuple[tuple[int, str], ...] = ()
    """A container whose values are called later (a tensor's backward hooks)."""
    instantiates: tuple[tuple[int, str], ...] = ()
    """A class the helper creates an object of (``cls.__new__``), like NEWOBJ does."""
    constructs: tuple[tuple[int, str], ...] = ()
    """A class whose ``__new__`` (or another constructor) the helper calls with the
    pickle's arguments, like NEWOBJ with arguments (pandas' ``cls.__new__(cls, **d)``)."""
    state: tuple[tuple[int, str], ...] = ()
    """Set on the result as attributes or through ``__setstate__``: everything in it is
    handed on (a class there could become the object's ``__class__``)."""
    invokes: tuple[tuple[int, str], tuple[int, str]] | None = None
    """``(function, arguments)``: the helper calls ``function(*arguments)`` itself."""
    invokes_with: tuple[tuple[int, str], tuple[int, str]] | None = None
    """``(function, argument)``: the helper calls ``function(argument)`` itself."""
    binds: tuple[tuple[int, str], ...] = ()
    """Kept, to be called when the result is called (a partial's function): calling
    the result calls it; a result nothing calls leaves it stored."""
    state_binds: tuple[int, ...] = ()
    """Items of a later BUILD state on the result that it binds the same way."""
    needs_callable: bool = False
    """The called (or bound) argument must be an allowed global, else the helper itself is
    flagged; a bound function of the wheel's own or required packages is exempt (it is
    judged by whether anything calls the result)."""


_HOOKS5 = Handles(call_items=((5, "backward_hooks"),))

HANDLES: dict[tuple[str, str], Handles] = {
    ("torch._tensor", "_rebuild_from_type_v2"): Handles(
        invokes=((0, "func"), (2, "args")),
        instantiates=((1, "new_type"),),
        state=((3, "state"),),
    ),
    ("torch._tensor", "_rebuild_from_type"): Handles(
        invokes=((0, "func"), (2, "args")),
        instantiates=((1, "type"),),
        state=((3, "dict"),),
    ),
    ("torch._utils", "_rebuild_tensor_v2"): _HOOKS5,
    ("torch._utils", "_rebuild_tensor_v3"): _HOOKS5,
    ("torch._utils", "_rebuild_qtensor"): Handles(call_items=((6, "backward_hooks"),)),
    ("torch._utils", "_rebuild_parameter"): Handles(call_items=((2, "backward_hooks"),)),
    ("torch._utils", "_rebuild_parameter_with_state"): Handles(
        call_items=((2, "backward_hooks"),), state=((3, "state"),)
    ),
    ("torch._utils", "_rebuild_wrapper_subclass"): Handles(instantiates=((0, "cls"),)),
    **{
        # ctor(name, bit_generator_ctor): bit_generator_ctor(name); the default one,
        # __bit_generator_ctor, calls ``name`` when it is a class
        ("numpy.random._pickle", ctor): Handles(
            calls=((0, "bit_generator_name"), (1, "bit_generator_ctor")),
            invokes_with=((1, "bit_generator_ctor"), (0, "bit_generator_name")),
        )
        for ctor in ("__randomstate_ctor", "__generator_ctor")
    },
    ("numpy.random._pickle", "__bit_generator_ctor"): Handles(calls=((0, "bit_generator"),)),
    **{
        (mod, "_reconstruct"): Handles(instantiates=((0, "subtype"),))
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core._internal")
    },
    ("numpy.ma.core", "_mareconstruct"): Handles(
        constructs=((0, "subtype"),), instantiates=((1, "baseclass"),)
    ),
    ("pandas.core.indexes.base", "_new_Index"): Handles(constructs=((0, "cls"),)),
    ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"): Handles(constructs=((0, "cls"),)),
    ("pandas.core.indexes.period", "_new_PeriodIndex"): Handles(constructs=((0, "cls"),)),
    ("copyreg", "_reconstructor"): Handles(
        instantiates=((0, "cls"),), calls=((1, "base"),), state=((2, "state"),)
    ),
    ("collections", "defaultdict"): Handles(calls=((0, "default_factory"),)),
    ("functools", "partial"): Handles(binds=((0, "func"),), state_binds=(0,), needs_callable=True),
    # takes no arguments at all (a call with any raises TypeError before anything runs)
    ("numpy.random", "__RandomState_ctor"): Handles(),
}
"""Allowlisted helpers that call, instantiate or take on state from what they are handed
(torch's ``_rebuild_from_type_v2`` calls ``func(*args)``; numpy's random-generator
constructors call the bit-generator constructor they are given; pandas' ``_new_Index``
instantiates the class it is given).  Every other allowlisted callable only stores its
arguments in the object it builds."""
