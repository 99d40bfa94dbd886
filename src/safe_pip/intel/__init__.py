"""Known-malicious and known-vulnerable packages, from OSV data kept offline.

``sync`` fills a local SQLite database from an OSV export (osv.dev's PyPI zip or a mirror of
it); ``check`` turns what the database says about one artifact (name, version, sha256) into
findings at the severities the data states; ``decide.py`` judges them against ``[intel]``.
"""

from __future__ import annotations

from pathlib import Path

DB_FILENAME = "intel.sqlite"


def default_db_path(cache_root: Path) -> Path:
    """Where the database lives under safe-pip's cache root."""
    return cache_root / "intel" / DB_FILENAME
