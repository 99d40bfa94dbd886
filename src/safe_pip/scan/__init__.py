"""The scanner: open every artifact and nested member, sniff by content, never execute.

Public entry points live in :mod:`safe_pip.scan.core.engine`: ``scan_path`` for one file
and ``iter_files`` to walk folders.  Each format reader takes a byte source
plus limits and reports findings into a :class:`~safe_pip.scan.core.context.ScanContext`;
readers know nothing of pip or policy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from safe_pip import __version__


def _scanner_digest() -> str:
    """A digest of the scanner's own code and data (readers, pickle engine, allowlist, rules).

    Cached verdicts are keyed by it, so any change to what the scanner would say
    (a new allowlist entry, a fixed reader) expires them by itself: a version
    number someone must remember to bump would let stale verdicts through.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(
        [*root.rglob("*.py"), *(root.parent / "rules").glob("*.py")], key=lambda p: p.as_posix()
    ):
        h.update(path.relative_to(root.parent).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


_version: str | None = None


def __getattr__(name: str) -> str:
    """``SCANNER_VERSION``: changes whenever a reader, the allowlist or a rule changes, so
    cached verdicts expire. Computed when first asked for (it reads every scanner source
    file): ``safe-pip scan`` caches nothing and should not pay for it at start-up."""
    global _version
    if name != "SCANNER_VERSION":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _version is None:
        _version = f"{__version__}+{_scanner_digest()}"
    return _version
