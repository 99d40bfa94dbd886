"""Which projects the last resolution of the same request needed: read them early, in parallel.

A resolution walks the dependency graph one level at a time, because a project's
dependencies are known only once its metadata has been read: twenty projects in a chain
are twenty index pages read one after the other. Asked again for the same requirements,
from the same indexes, into the same interpreter, the projects it needed last time are a
good guess, so the resolver reads their pages (and the metadata of files already in
quarantine) up front, in parallel, while it waits for nothing else.

A hint only decides what is read *early*. Every answer the resolver uses still comes from
this run's own reads (pages fetched now; quarantined files re-hashed against the sha256 those
pages advertise now), so a stale, wrong or edited hint costs requests, never a different
choice. The file holds project names only (no URL, no credential); its name is a digest of
the request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from safe_pip.gate.inputs import InstallRequest

MAX_NAMES = 2000
"""More names than any real resolution needs: a larger hint file is not read."""
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
"""A canonical project name (the only thing a hint may contain)."""


def hint_dir() -> Path:
    from safe_pip.gate.fetch import cache_dir

    return cache_dir() / "resolve-hints"


def request_key(request: InstallRequest, python: Path) -> str:
    """The digest of what decides a resolution's shape: requirements, constraints, the
    indexes and find-links locations, and the target interpreter."""

    def spelled(items: Iterable[object]) -> list[str]:
        return sorted(
            json.dumps([str(getattr(r, "requirement", None)), getattr(r, "url", None)])
            for r in items
        )

    index = request.index
    blob = json.dumps(
        [
            os.path.abspath(python),
            spelled(request.requirements),
            spelled(request.constraints),
            list(index.index_urls),
            list(index.find_links),
        ]
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def load(key: str, folder: Path | None = None) -> list[str]:
    """The names saved for ``key``; nothing if there is no usable hint (never an error)."""
    path = (folder or hint_dir()) / f"{key}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(raw, list) or len(raw) > MAX_NAMES:
        return []
    return [n for n in raw if isinstance(n, str) and _NAME.match(n)]


def save(key: str, names: Iterable[str], folder: Path | None = None) -> None:
    """Remember ``names`` for ``key`` (best effort: a cache that cannot be written is skipped)."""
    where = folder or hint_dir()
    unique = sorted({canonicalize_name(n) for n in names})[:MAX_NAMES]
    with contextlib.suppress(OSError):
        where.mkdir(parents=True, exist_ok=True)
        tmp = where / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(unique), encoding="utf-8")
        tmp.replace(where / f"{key}.json")
