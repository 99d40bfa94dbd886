"""numpy's dtype rules, without numpy: does a dtype hold objects, and how wide is it?

Both npy files and joblib dumps switch on ``dtype.hasobject``: an object array is a
pickle, anything else raw bytes.  numpy makes a dtype from a description (``'<f8'``,
``'object'``, ``'O4'``, ``'(2,)O'``, ``'i4,O'``, a list of fields, a ``(type, shape)``
pair) and, when unpickled, from ``numpy.dtype(typestr, align, copy)`` followed by
``__setstate__``, whose state can turn any freshly made dtype into an object dtype (its
flags word) and resize a string, unicode or void one.  This module answers the two
questions with a third answer, ``None``: unknown, so the caller must consider both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HASOBJECT = 0x01
"""NPY_ITEM_HASOBJECT in the flags word of a dtype's pickled state."""

_KINDS: dict[str, int] = {"b": 1, "?": 1, "i": 0, "u": 0, "f": 0, "c": 0, "M": 8, "m": 8}
_DEFAULT_SIZE = {"i": 8, "u": 8, "f": 8, "c": 16}
_CHARS: dict[str, tuple[str, int]] = {
    "?": ("b", 1), "b": ("i", 1), "B": ("u", 1), "h": ("i", 2), "H": ("u", 2),
    "i": ("i", 4), "I": ("u", 4), "l": ("i", 8), "L": ("u", 8), "q": ("i", 8),
    "Q": ("u", 8), "p": ("i", 8), "P": ("u", 8), "n": ("i", 8), "N": ("u", 8),
    "e": ("f", 2), "f": ("f", 4), "d": ("f", 8), "g": ("f", 16), "F": ("c", 8),
    "D": ("c", 16), "G": ("c", 32), "c": ("S", 1),
}  # fmt: skip
_NAMES: dict[str, tuple[str, int]] = {
    "bool": ("b", 1), "bool_": ("b", 1), "int8": ("i", 1), "int16": ("i", 2),
    "int32": ("i", 4), "int64": ("i", 8), "uint8": ("u", 1), "uint16": ("u", 2),
    "uint32": ("u", 4), "uint64": ("u", 8), "float16": ("f", 2), "float32": ("f", 4),
    "float64": ("f", 8), "float128": ("f", 16), "longdouble": ("f", 16),
    "complex64": ("c", 8), "complex128": ("c", 16), "complex256": ("c", 32),
    "int": ("i", 8), "float": ("f", 8), "complex": ("c", 16), "double": ("f", 8),
    "single": ("f", 4), "half": ("f", 2), "intp": ("i", 8), "uintp": ("u", 8),
    "byte": ("i", 1), "ubyte": ("u", 1), "short": ("i", 2), "ushort": ("u", 2),
    "intc": ("i", 4), "uintc": ("u", 4), "long": ("i", 8), "ulong": ("u", 8),
    "longlong": ("i", 8), "ulonglong": ("u", 8), "object": ("O", 8), "object_": ("O", 8),
    "str": ("U", 0), "str_": ("U", 0), "unicode": ("U", 0), "bytes": ("S", 0),
    "bytes_": ("S", 0), "void": ("V", 0), "datetime64": ("M", 8), "timedelta64": ("m", 8),
}  # fmt: skip
_TYPESTR = re.compile(r"([a-zA-Z?])(\d*)(\[[A-Za-z0-9]*\])?\Z")
_SHAPED = re.compile(r"\((\s*\d+\s*(?:,\s*\d+\s*)*,?)\)(.+)\Z|(\d+)([^\d,].*)\Z")


@dataclass
class DType:
    """What is known of one dtype object: ``None`` means unknown."""

    kind: str | None
    itemsize: int | None
    hasobject: bool | None
    fresh: bool | None = True
    """Whether ``__setstate__`` changes it (not for numpy's shared builtin singletons)."""

    def copy(self) -> DType:
        return DType(self.kind, self.itemsize, self.hasobject, True)


UNKNOWN = DType(None, None, None, None)


def from_typestr(text: str) -> DType:
    """``numpy.dtype(text)`` for a string description."""
    s = text.strip()
    if "," in s:
        return _combine([from_typestr(part) for part in s.split(",") if part.strip()])
    if s[:1] in "<>|=":
        s = s[1:]
    shaped = _SHAPED.match(s)
    if shaped:
        dims = shaped.group(1) or shaped.group(3)
        inner = from_typestr(shaped.group(2) or shaped.group(4))
        count = 1
        for dim in dims.replace(",", " ").split():
            count *= int(dim)
        size = inner.itemsize * count if inner.itemsize is not None else None
        return DType("V", size, inner.hasobject)
    if s in _NAMES:
        kind, size = _NAMES[s]
        return DType(kind, size, kind == "O", _fresh(kind, size))
    if s in _CHARS:
        kind, size = _CHARS[s]
        return DType(kind, size, False, _fresh(kind, size))
    match = _TYPESTR.match(s)
    if match is None:
        return UNKNOWN
    kind, digits = match.group(1), match.group(2)
    if kind == "O":
        return DType("O", 8, True, None) if digits in ("", "4", "8") else UNKNOWN
    if kind in "SUVa":
        n = int(digits) if digits else 0
        kind = "S" if kind == "a" else kind
        return DType(kind, n * 4 if kind == "U" else n, False, _fresh(kind, n))
    if kind not in _KINDS:
        return UNKNOWN
    size = int(digits) if digits else _KINDS[kind] or _DEFAULT_SIZE.get(kind, 0)
    return DType(kind, size, False, False)


def _fresh(kind: str, size: int) -> bool | None:
    """numpy makes sized string/unicode/void dtypes anew (``__setstate__`` then changes
    them); other builtin dtypes are shared singletons it leaves alone, except that the
    object singleton's state has been seen to change: unknown."""
    if kind in "SUV":
        return size > 0
    return None if kind == "O" else False


def _combine(parts: list[DType]) -> DType:
    """A packed structured dtype made of ``parts``."""
    if not parts:
        return UNKNOWN
    sizes = [p.itemsize for p in parts]
    size = sum(s for s in sizes if s is not None) if None not in sizes else None
    objects = [p.hasobject for p in parts]
    has = True if True in objects else (None if None in objects else False)
    return DType("V", size, has)


def from_descr(descr: Any, resolve: Any = None) -> DType:
    """``numpy.dtype(descr)``: a string, a list of fields, a ``(type, shape)`` pair, a
    dict of ``names``/``formats``, or (with ``resolve``) an object standing for a dtype."""
    if isinstance(descr, str):
        return from_typestr(descr)
    if isinstance(descr, list):
        parts = []
        for field in descr:
            if not isinstance(field, (tuple, list)) or len(field) < 2:
                return UNKNOWN
            inner = from_descr(field[1], resolve)
            if len(field) > 2:
                inner = from_descr((field[1], field[2]), resolve)
            parts.append(inner)
        return _combine(parts)
    if isinstance(descr, tuple) and len(descr) == 2:
        inner = from_descr(descr[0], resolve)
        shape = descr[1]
        dims = shape if isinstance(shape, (tuple, list)) else (shape,)
        if not all(type(d) is int and d >= 0 for d in dims):
            return DType("V", None, inner.hasobject)
        count = 1
        for dim in dims:
            count *= dim
        size = inner.itemsize * count if inner.itemsize is not None else None
        return DType("V", size, inner.hasobject)
    if isinstance(descr, dict) and isinstance(descr.get("formats"), (list, tuple)):
        combined = _combine([from_descr(f, resolve) for f in descr["formats"]])
        if type(descr.get("itemsize")) is int:
            combined.itemsize = descr["itemsize"]
        return combined
    if resolve is not None:
        model = resolve(descr)
        if isinstance(model, DType):
            return model
    return UNKNOWN


def set_state(dtype: DType, state: Any, resolve: Any = None) -> DType | None:
    """``dtype.__setstate__(state)``; ``None`` when numpy would raise."""
    if dtype.fresh is False:
        return dtype
    if not isinstance(state, tuple) or not 5 <= len(state) <= 9:
        return None
    version = 0 if len(state) == 5 else state[0]
    if type(version) is not int or not 0 <= version <= 4:
        return None
    if len(state) >= 8:
        flags = state[7]
        elsize = state[5]
        fields = state[4]
    elif len(state) >= 6:
        flags, elsize, fields = (
            0,
            state[4 if len(state) == 6 else 5],
            state[3 if len(state) == 6 else 4],
        )
    else:
        flags, elsize, fields = 0, state[3], state[2]
    if type(flags) is not int or type(elsize) is not int:
        return None
    out = dtype.copy()
    if version >= 3:
        out.hasobject = bool((flags + 128 if -128 <= flags < 0 else flags) & HASOBJECT)
    else:
        out.hasobject = _find_object(dtype, fields, resolve)
    if dtype.kind in ("S", "U", "V"):
        out.itemsize = elsize
    if dtype.fresh is None and (out.hasobject, out.itemsize) != (dtype.hasobject, dtype.itemsize):
        return DType(
            dtype.kind, None if out.itemsize != dtype.itemsize else dtype.itemsize, None, None
        )
    return out


def _find_object(dtype: DType, fields: Any, resolve: Any) -> bool | None:
    if dtype.kind == "O" or dtype.hasobject:
        return True
    if not isinstance(fields, dict):
        return False
    found: bool | None = False
    for value in fields.values():
        if not isinstance(value, tuple) or not value:
            continue
        inner = from_descr(value[0], resolve) if not isinstance(value[0], DType) else value[0]
        if inner.hasobject:
            return True
        if inner.hasobject is None:
            found = None
    return found
