"""The pickle engine: CPython's own unpickler with inert stand-ins, and the analysis.

Loaders (raw pickles, torch, numpy, joblib) open a :class:`PickleRead` on a member, call
``load`` where their real counterpart calls ``pickle.load``, then ``report`` it.
"""

from safe_pip.scan.formats.pickle.analyze import looks_like_pickle_start, plausible, report
from safe_pip.scan.formats.pickle.engine import Loader, Stream
from safe_pip.scan.formats.pickle.read import PLAIN, TORCH, TORCH_LEGACY, TORCH_TAR, PickleRead

__all__ = [
    "PLAIN",
    "TORCH",
    "TORCH_LEGACY",
    "TORCH_TAR",
    "Loader",
    "PickleRead",
    "Stream",
    "looks_like_pickle_start",
    "plausible",
    "report",
]
