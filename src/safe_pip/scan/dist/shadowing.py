"""Who already owns a file, a package or a command: shadowing computed, never listed by hand.

A wheel is installed by copying files; a file another distribution owns is overwritten, a
package another owns gets new modules, and a script named like a command already on PATH runs
instead of it. All three are judged against a :class:`~safe_pip.models.TargetEnvironment`:

* at install time the gate builds it from the target interpreter (every installed
  distribution's RECORD, its scripts, the commands on its PATH) and passes it to the scan;
* ``safe-pip scan`` without a target uses ``safe_pip/data/default_environment.json``, written
  by ``scripts/make_default_environment.py`` from the pinned real wheels' RECORDs, a fresh
  virtual environment's ``bin/`` and the machine's system commands (criteria in that script).

Ownership keys (``TargetEnvironment.owned_paths``) are site-packages-relative paths: every
file a RECORD lists, plus each regular package's top-level folder and each top-level module.
Shared namespace folders (no ``__init__.py``: ``google/``, ``nvidia/``) are never keys, so a
wheel is judged per file inside them: writing ``google/protobuf/__init__.py`` overwrites
protobuf's file, writing ``google/mylib/`` does not.

Two wheels that are both new in one install own nothing in the target yet; whether they
write the same file is judged over the install's set of wheels in :mod:`.overlap`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

from safe_pip.models import TargetEnvironment


def norm(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def ownership_from_records(records: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """``owned_paths`` for distributions given as (name, site-packages-relative paths).

    Every file maps to its distribution. So does each package root — a folder with an
    ``__init__.py`` whose parent has none in the same distribution (``torch``,
    ``google/protobuf``) — and the name of each top-level module (``six`` for ``six.py``:
    a ``six/`` package would be imported in its place). A root two distributions both claim
    is shared: only its files count.
    """
    owned: dict[str, str] = {}
    roots: dict[str, set[str]] = {}
    for dist, paths in records:
        mine = {p for p in paths if not p.startswith(("../", "/"))}
        for path in mine:
            if ".dist-info/" in path or ".egg-info/" in path:
                continue
            owned.setdefault(path, dist)
            folder, _, base = path.rpartition("/")
            if base == "__init__.py" and folder:
                parent = folder.rpartition("/")[0]
                if not parent or f"{parent}/__init__.py" not in mine:
                    roots.setdefault(folder, set()).add(dist)
            elif not folder and base.endswith((".py", ".so", ".pyd")):
                roots.setdefault(base.split(".", 1)[0], set()).add(dist)
    for root, owners in roots.items():
        if len(owners) == 1:
            owned.setdefault(root, next(iter(owners)))
    return owned


def owner_of(env: TargetEnvironment, rel: str) -> tuple[str, str] | None:
    """(owning distribution, the key that matched) for a site-packages-relative path."""
    key = rel
    while True:
        owner = env.owned_paths.get(key)
        if owner is not None:
            return owner, key
        if "/" not in key:
            return None
        key = key.rsplit("/", 1)[0]


@cache
def default_environment() -> TargetEnvironment:
    """The shipped description of a common environment, for scans without a target."""
    data: Any = json.loads(
        files("safe_pip").joinpath("data/default_environment.json").read_text(encoding="utf-8")
    )
    return TargetEnvironment(
        python_version=(int(data["python_version"][0]), int(data["python_version"][1])),
        owned_paths=dict(data["owned_paths"]),
        scripts=dict(data["scripts"]),
        path_commands=frozenset(data["path_commands"]),
    )


def environment_digest(env: TargetEnvironment | None) -> str:
    """A digest of everything in ``env`` a scan's findings can depend on.

    A cached scan result is valid only for the same bytes, scanner, policy *and* target:
    the install gate adds this to its cache key (``""`` for a scan without a target).
    """
    if env is None:
        return ""
    data = {
        "python_version": list(env.python_version),
        "owned_paths": sorted(env.owned_paths.items()),
        "scripts": sorted(env.scripts.items()),
        "path_commands": sorted(env.path_commands),
        # The interpreter the venv's python resolves to, not the venv's path: its grammar is
        # what findings depend on, and a fresh venv of the same interpreter (CI makes one per
        # run) must reuse the verdicts of the last one.
        "python_executable": (
            os.path.realpath(env.python_executable) if env.python_executable else None
        ),
    }
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:32]
