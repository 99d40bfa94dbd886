"""The pickle engine: a VM that never unpickles, an allowlist, and the analysis."""

from safe_pip.scan.formats.pickle.analyze import PickleScan, looks_like_pickle_start, scan_pickle

__all__ = ["PickleScan", "looks_like_pickle_start", "scan_pickle"]
