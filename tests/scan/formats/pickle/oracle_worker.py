"""The real loaders as oracles: run in a subprocess, name resolution intercepted.

Reads a JSON list of ``{"path": ..., "loader": ...}`` cases on stdin and writes, for each,
the names the real loader resolved (``find_class`` calls, in order) and how it ended.
Nothing real of the files is ever run: every ``find_class`` returns a recording stand-in
written here, independently of safe-pip's own stand-ins — except a short list of inert
library classes a loader needs to reach its own framing (numpy's dtype and array
reconstruction, joblib's array wrappers), which are recorded all the same.

Loaders:

* ``pickle-file``: the C ``pickle.Unpickler`` over ``open(path, 'rb')`` (a BufferedReader),
  ``load`` again after each STOP until the file ends or a load fails;
* ``pickle-bytesio``: the same over ``io.BytesIO`` (no ``peek``);
* ``pickle-memory``: the same over a reader whose ``peek`` returns the whole rest (what
  ``pickle.loads`` sees);
* ``pickle-python``: the pure-Python ``pickle._Unpickler`` over ``io.BytesIO``;
* ``torch``: ``torch.load(path, weights_only=False, pickle_module=...)``;
* ``numpy``: ``numpy.load(path, allow_pickle=True)`` (numpy's ``pickle.load`` replaced);
* ``joblib``: ``joblib.load(path)`` (``NumpyUnpickler.find_class`` replaced).

Run as ``python oracle_worker.py < cases.json``.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import types
from typing import Any

RESOLVED: list[list[str]] = []

# Library classes a loader's own framing needs for real (joblib reads array sizes from a
# real dtype); none of them runs anything of the file's choosing.
REAL: dict[tuple[str, str], str] = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): "joblib",
    ("numpy", "dtype"): "numpy",
    ("numpy", "ndarray"): "numpy",
    ("numpy._core.multiarray", "_reconstruct"): "numpy",
    ("numpy.core.multiarray", "_reconstruct"): "numpy",
    ("numpy._core.multiarray", "scalar"): "numpy",
}


class _Meta(type):
    """Oracle stand-ins: anything may be done to them; calling returns another one."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _Thing()

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name not in ("__setstate__",):
            raise AttributeError(name)
        return _Thing()

    def __setitem__(cls, key: Any, value: Any) -> None:
        return None

    def __iter__(cls) -> Any:
        return iter(())


class _Thing:
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(_Thing)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Thing()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Thing()

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def __setstate__(self, state: Any) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())

    def keys(self) -> Any:
        return ()


def resolve(module: str, name: str) -> Any:
    RESOLVED[-1].append(f"{module}:{name}")
    if (module, name) in REAL:
        mod = __import__(module, fromlist=[name])
        return getattr(mod, name)
    return _Meta(name, (), {"__new__": _Thing.__new__})


class CUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return _Thing()


class PyUnpickler(pickle._Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return _Thing()


class _Memory(io.BufferedReader):
    """A reader whose ``peek`` returns everything left: the unpickler reads as from memory."""

    def peek(self, size: int = 0) -> bytes:
        pos = self.tell()
        data = self.raw.getvalue()[pos:]  # type: ignore[attr-defined]
        return bytes(data)


def _loads(make: Any, path: str) -> str:
    with open(path, "rb") as fh:
        data = fh.read()
    f = make(data, path)
    outcome = "ok"
    while True:
        try:
            CUnpickler(f, encoding="latin1").load()
        except EOFError:
            break
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}"
            break
    return outcome


def _python(path: str) -> str:
    with open(path, "rb") as fh:
        f = io.BytesIO(fh.read())
    while True:
        try:
            PyUnpickler(f, encoding="latin1").load()
        except EOFError:
            return "ok"
        except Exception as exc:
            return f"error: {type(exc).__name__}"


def _torch(path: str) -> str:
    import torch

    shim = types.ModuleType("oracle_pickle")
    shim.Unpickler = CUnpickler  # type: ignore[attr-defined]

    def load(f: Any, **kwargs: Any) -> Any:
        return CUnpickler(f, **kwargs).load()

    shim.load = load  # type: ignore[attr-defined]
    shim.__name__ = "pickle"
    torch.load(path, weights_only=False, pickle_module=shim)
    return "ok"


def _numpy(path: str) -> str:
    import numpy
    import numpy.lib._format_impl as fmt
    import numpy.lib._npyio_impl as npyio

    def load(f: Any, **kwargs: Any) -> Any:
        return CUnpickler(f, **kwargs).load()

    shim = types.SimpleNamespace(**{k: getattr(pickle, k) for k in dir(pickle) if k[0] != "_"})
    shim.load = load
    fmt.pickle = shim  # type: ignore[attr-defined]
    npyio.pickle = shim  # type: ignore[attr-defined]
    result = numpy.load(path, allow_pickle=True)
    if hasattr(result, "files"):  # npz: every member
        for key in result.files:
            result[key]
    return "ok"


def _joblib(path: str) -> str:
    import joblib.numpy_pickle as jnp  # type: ignore[import-untyped]

    jnp.NumpyUnpickler.find_class = lambda self, m, n: resolve(m, n)
    jnp.NumpyUnpickler.persistent_load = lambda self, pid: _Thing()
    joblib_load = jnp.load
    joblib_load(path)
    return "ok"


LOADERS = {
    "pickle-file": lambda p: _loads(lambda d, path: open(path, "rb"), p),  # noqa: SIM115 - the worker exits
    "pickle-bytesio": lambda p: _loads(lambda d, path: io.BytesIO(d), p),
    "pickle-memory": lambda p: _loads(lambda d, path: _Memory(io.BytesIO(d), len(d) + 1), p),
    "pickle-python": _python,
    "torch": _torch,
    "numpy": _numpy,
    "joblib": _joblib,
}


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        RESOLVED.append([])
        try:
            outcome = LOADERS[case["loader"]](case["path"])
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}: {str(exc)[:120]}"
        results.append({"resolved": RESOLVED[-1], "outcome": outcome})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
