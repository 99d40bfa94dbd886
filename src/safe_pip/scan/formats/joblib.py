"""joblib files, read the way ``joblib.load`` reads them.

``joblib.load`` unpickles with ``NumpyUnpickler``, a subclass of the *pure-Python*
``pickle._Unpickler`` whose BUILD, after setting the state of an array wrapper, reads the
array from the file itself:

* ``NumpyArrayWrapper`` (joblib >= 0.10): when the wrapper's dtype holds objects, a whole
  nested pickle follows (joblib unpickles it with ``find_class`` routed through its own
  unpickler; older releases call ``pickle.load``); otherwise an alignment byte and that
  many padding bytes whenever ``numpy_array_alignment_bytes is not None`` (0 included),
  then ``count * itemsize`` raw bytes.  The dtype is whatever the pickle built, and its
  BUILD state can turn any dtype into an object dtype — so it is followed with numpy's own
  rules (:mod:`npdtype`), and where they cannot tell, both readings are made;
* ``NDArrayWrapper`` / ``ZNDArrayWrapper`` (joblib < 0.10): a side file in the pickle's
  folder, loaded with pickles allowed; it is scanned as a file of its own, and a name
  that leaves the folder is a finding.

Compressed dumps (zlib, gzip, bz2, lzma, xz) are opened by the compressed-stream readers
and their content comes back here through the pickle reader; the legacy ``ZF`` container
(``ZF``, a hex length, zlib data) is read by :func:`read_zfile`.  LZ4 is refused by the
sniffer (safe-pip cannot decode it, so it is a finding).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from safe_pip.scan.containers.compressed import inflate
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats import npdtype
from safe_pip.scan.formats.pickle import PLAIN, Loader, PickleRead, report
from safe_pip.scan.formats.pickle import engine as pickle_engine
from safe_pip.scan.formats.pickle.names import canonical
from safe_pip.scan.formats.pickle.standins import CallRec, GlobalType, Instance

_PICKLE_MODULES = ("joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle")
_COMPAT_MODULES = (
    *_PICKLE_MODULES,
    "joblib.numpy_pickle_compat",
    "sklearn.externals.joblib.numpy_pickle_compat",
)
ARRAY = {(m, "NumpyArrayWrapper") for m in _PICKLE_MODULES}
LEGACY = {(m, n) for m in _COMPAT_MODULES for n in ("NDArrayWrapper", "ZNDArrayWrapper")}

MAX_READINGS = 16
"""Readings of one file when joblib's outcome depends on something safe-pip cannot tell
(a dtype, where a nested pickle ends): beyond it the file is blocked."""

_MISSING = object()
_INIT: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "NumpyArrayWrapper": (
        ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"),
        {"allow_mmap": False, "numpy_array_alignment_bytes": 16},
    ),
    "NDArrayWrapper": (("filename", "subclass", "allow_mmap"), {"allow_mmap": True}),
    "ZNDArrayWrapper": (("filename", "init_args", "state"), {}),
}
"""``__init__`` parameters of the wrappers (a REDUCE call sets attributes through it)."""


class _JoblibStops(Exception):
    """joblib itself would raise here; the message says why."""


def report_pickle(read: PickleRead) -> None:
    """Report a plain reading of a pickle, and, when it names a joblib array wrapper,
    the reading ``joblib.load`` makes of the same bytes (raw array bytes are no opcodes
    there)."""
    names = {canonical(r.module, r.name) for r in read.trace.globals.values()}
    if not names & (ARRAY | LEGACY):
        report(read)
        return
    read.ctx.saw("joblib")
    joblib_read = PickleRead(read.ctx, read.blob, read.location)
    if _read_all_ways(joblib_read):
        # A file joblib reads to its end is a joblib file: plain pickle.load would run its
        # array bytes (numbers, nested pickles) as opcodes and stumble into junk names, so
        # the plain reading stops at the first array wrapper's BUILD and joblib's reading
        # judges the rest.
        from safe_pip.scan.formats.pickle_reader import follow

        read = PickleRead(read.ctx, read.blob, read.location)
        read.trace.hand_over = frozenset(ARRAY)
        follow(read, read.load(0))
    report(read)
    report(joblib_read)


def _read_all_ways(read: PickleRead) -> bool:
    """Read ``read.blob`` as joblib does, once per combination of uncertain outcomes;
    True when some reading completes."""
    pending: list[tuple[int, ...]] = [()]
    done = 0
    complete = False
    while pending:
        choices = pending.pop(0)
        if done >= MAX_READINGS:
            read.ctx.report(
                "PICKLE-LIMIT",
                f"more than {MAX_READINGS} ways joblib could read this file; the rest were not",
                read.location,
            )
            break
        done += 1
        reading = _Reading(read, choices)
        stream = read.load(0, Loader(python=True, build_hook=reading.build))
        complete = complete or stream.complete
        for depth in range(len(choices), len(reading.options)):
            taken = reading.taken[:depth]
            pending.extend((*taken, alt) for alt in range(1, reading.options[depth]))
    return complete


@dataclass
class _Reading:
    """One run of joblib's BUILD override; ``choices`` settle its uncertain outcomes."""

    read: PickleRead
    choices: tuple[int, ...]
    options: list[int] = field(default_factory=list)
    taken: list[int] = field(default_factory=list)
    dtypes: dict[int, npdtype.DType] = field(default_factory=dict)

    def choose(self, count: int) -> int:
        """Pick one of ``count`` outcomes (0 unless an earlier reading asked for another)."""
        index = len(self.options)
        self.options.append(count)
        pick = self.choices[index] if index < len(self.choices) else 0
        self.taken.append(pick)
        return pick

    # -- the BUILD override ------------------------------------------------------------
    def build(self, unpickler: Any, feed: pickle_engine.Feed) -> None:
        top = unpickler.stack[-1] if unpickler.stack else None
        wrapper = _wrapper(top)
        if wrapper is None:
            return
        name, attrs = wrapper
        if name == "NumpyArrayWrapper":
            self.read_array(attrs, feed)
        else:
            self.side_file(attrs, feed)
        unpickler.stack[-1] = Instance(("joblib array", top), self.read.trace)

    def side_file(self, attrs: dict[str, Any], feed: pickle_engine.Feed) -> None:
        """Legacy joblib loads ``filename`` from the pickle's folder, pickles allowed; the
        file is scanned on its own, so only a name that leaves the folder matters."""
        name = attrs.get("filename", _MISSING)
        where = f"{self.read.location}@{max(0, feed.pos - self.read.blob.start)}"
        if type(name) is not str:
            self.read.ctx.report(
                "ARCHIVE-PATH-TRAVERSAL", "legacy joblib wrapper without a plain file name", where
            )
        elif "/" in name or "\\" in name or name in ("", ".", ".."):
            self.read.ctx.report(
                "ARCHIVE-PATH-TRAVERSAL",
                f"legacy joblib wrapper loads {name!r}, outside the pickle's folder",
                where,
                filename=name,
            )

    def read_array(self, attrs: dict[str, Any], feed: pickle_engine.Feed) -> None:
        shape = attrs.get("shape", _MISSING)
        if shape is _MISSING:
            raise _JoblibStops("array wrapper without a shape")
        count = _count(shape)
        dtype = self.dtype(attrs.get("dtype", _MISSING))
        if count is None or dtype is None:
            raise _JoblibStops("joblib array wrapper with a state safe-pip cannot size")
        hasobject = dtype.hasobject
        if hasobject is None:
            hasobject = self.choose(2) == 1
        if hasobject:
            self.nested(feed)
            return
        if count < 0:
            raise _JoblibStops("negative array size")
        if attrs.get("numpy_array_alignment_bytes") is not None:
            pad = feed.buf[feed.pos] if feed.pos < feed.end else 0
            feed.pos = min(feed.end, feed.pos + 1 + pad)
        if dtype.itemsize is None or dtype.itemsize <= 0:
            raise _JoblibStops("joblib array of a dtype safe-pip cannot size")
        size = count * dtype.itemsize
        if size > feed.end - feed.pos:
            raise _JoblibStops(f"joblib array of {size} bytes runs past the end of the data")
        feed.pos += size

    def nested(self, feed: pickle_engine.Feed) -> None:
        """An object array: a nested pickle from the file position, read every way."""
        read = self.read
        stream = pickle_engine.load(
            feed.buf,
            feed.pos,
            feed.end,
            read.trace,
            PLAIN,
            deadline=read.ctx.deadline,
            memory=read.budget,  # type: ignore[arg-type]
        )
        if not stream.ends:
            raise _JoblibStops(f"object array pickle is broken: {stream.error or stream.limit}")
        for pos, message in stream.anomalies:
            read.ctx.report(
                "PICKLE-LOADERS-DISAGREE", message, f"{read.location}@{pos - read.blob.start}"
            )
        ends = sorted(stream.ends)
        feed.pos = ends[self.choose(len(ends))] if len(ends) > 1 else ends[0]

    def dtype(self, value: Any) -> npdtype.DType | None:
        """The dtype model of what the wrapper's ``dtype`` attribute holds."""
        if not isinstance(value, Instance) or not isinstance(value.origin, CallRec):
            return None
        cached = self.dtypes.get(id(value))
        if cached is not None:
            return cached
        model = _construct(value.origin, self.dtype)
        for state in value.states or ():
            if model is None:
                break
            model = npdtype.set_state(model, state, self.dtype)
        if model is not None:
            self.dtypes[id(value)] = model
        return model


def _construct(origin: CallRec, resolve: Any) -> npdtype.DType | None:
    callee = origin.callee
    if not isinstance(callee, GlobalType):
        return None
    module, name = canonical(callee._sp_rec.module, callee._sp_rec.name)
    args = origin.args if isinstance(origin.args, tuple) else ()
    kwargs = origin.kwargs if isinstance(origin.kwargs, dict) else {}
    if origin.kind == "call" and (module, name) == ("numpy", "dtype") and args:
        model = npdtype.from_descr(args[0], lambda v: resolve(v))
        copy = kwargs.get("copy", args[2] if len(args) > 2 else False)
        if copy:
            model = model.copy()
        return model
    if module == "numpy.dtypes" and name.endswith("DType"):
        kind = "object" if name == "ObjectDType" else name[: -len("DType")].lower()
        model = npdtype.from_typestr(kind)
        model.fresh = False
        return model if model.kind is not None else None
    return None


def _wrapper(value: Any) -> tuple[str, dict[str, Any]] | None:
    """``(class name, attributes)`` when ``value`` is an instance of a joblib wrapper."""
    if not isinstance(value, Instance) or not isinstance(value.origin, CallRec):
        return None
    origin = value.origin
    cls, constructed = origin.callee, origin.kind == "call"
    if isinstance(cls, GlobalType) and canonical(cls._sp_rec.module, cls._sp_rec.name) == (
        "copyreg",
        "_reconstructor",
    ):
        cls = origin.args[0] if isinstance(origin.args, tuple) and origin.args else None
        constructed = False  # object.__new__(cls): no __init__
    if not isinstance(cls, GlobalType):
        return None
    key = canonical(cls._sp_rec.module, cls._sp_rec.name)
    if key not in ARRAY and key not in LEGACY:
        return None
    name = key[1]
    attrs: dict[str, Any] = {}
    if constructed:
        params, defaults = _INIT[name]
        args = origin.args if isinstance(origin.args, tuple) else ()
        kwargs = origin.kwargs if isinstance(origin.kwargs, dict) else {}
        for index, param in enumerate(params):
            if index < len(args):
                attrs[param] = args[index]
            elif param in kwargs:
                attrs[param] = kwargs[param]
            elif param in defaults:
                attrs[param] = defaults[param]
    for state in value.states or ():
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        for part in (state, slots):
            if not part:
                continue
            if not isinstance(part, dict):
                raise _JoblibStops("array wrapper state is not a dict")
            attrs.update(part)
    return name, attrs


def _count(shape: Any) -> int | None:
    """``numpy.multiply.reduce([numpy.int64(x) for x in shape])`` (wrapping like int64)."""
    if not isinstance(shape, (tuple, list, str)):
        return None
    if len(shape) == 0:
        return 1
    count = 1
    for dim in shape:
        if (
            isinstance(dim, (bool, int))
            or (isinstance(dim, float) and dim == dim and abs(dim) < 2**63)
            or (isinstance(dim, str) and dim.strip().lstrip("+-").isdigit())
        ):
            value = int(dim)
        else:
            return None
        if not -(2**63) <= value < 2**63:
            return None
        count = (count * value + 2**63) % 2**64 - 2**63
    return count


# --- the legacy ZF container ---------------------------------------------------------------

ZFILE_PREFIX = b"ZF"
_MAX_LEN = len(hex(2**64))


def read_zfile(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """joblib < 0.9.3: ``ZF``, the data length in hex, then zlib data holding a pickle."""
    from safe_pip.scan.core.dispatch import scan_blob

    header = blob.read(len(ZFILE_PREFIX), _MAX_LEN).decode("latin-1")
    try:
        int(header, 16)
    except ValueError:  # joblib.load fails here: text that starts with "ZF"
        ctx.saw("data")
        return
    ctx.saw("joblib-zfile")
    start = len(ZFILE_PREFIX) + _MAX_LEN
    if blob.read(start, 1) == b" ":
        start += 1
    data = blob.sub(start, blob.size - start)
    spool, error = inflate(ctx, data, location, zlib.decompressobj, kind="zlib")
    if error is not None:
        # joblib decompresses all at once: a damaged stream loads nothing
        ctx.saw("data")
        return
    with spool.blob() as inner:
        if inner.size:
            scan_blob(ctx, inner, location, depth + 1)
