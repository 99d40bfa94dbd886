"""safe-pip's own start-up hook files, recognised by content digest (never by name alone).

``safe-pip shim install`` puts ``_safe_pip_hook.pth`` and ``_safe_pip_hook.py`` into each
environment it protects (:mod:`safe_pip.enforce.hook`). They run at every interpreter start,
exactly what ``audit`` and ``scan`` flag in anyone else's files; so those commands look each
such file up here. A digest listed in ``data/own_hooks.json`` is safe-pip's own, with the
reason recorded there; a file that carries the hook's name or its import line but no listed
digest is a *modified* hook and is reported as such. The list keeps the digests of earlier
releases' hooks (still genuine, reported as outdated by ``shim status``); a test checks that
the files this release writes are listed.

Standard library only and importing nothing of the project, so the scanner may use it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODULE_NAME = "_safe_pip_hook"
HOOK_FILES = (f"{MODULE_NAME}.pth", f"{MODULE_NAME}.py")
"""The hook's code files (its ``.json`` settings are data: read, never executed)."""
CONFIG_FILE = f"{MODULE_NAME}.json"


@dataclass(frozen=True)
class OwnFile:
    name: str
    sha256: str
    release: str
    current: bool
    reason: str


@lru_cache(maxsize=1)
def known() -> dict[str, OwnFile]:
    """Every genuine hook file by sha256 (importlib.resources is imported here, on first
    use: it pulls in tempfile and more, which a scan without a hook-like file never needs)."""
    from importlib import resources

    raw = (resources.files("safe_pip") / "data" / "own_hooks.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    return {
        e["sha256"]: OwnFile(e["name"], e["sha256"], e["release"], bool(e["current"]), e["reason"])
        for e in doc["files"]
    }


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def claims_to_be_hook(name: str, data: bytes) -> bool:
    """Whether a file presents itself as safe-pip's hook (by name or by importing it)."""
    if name in HOOK_FILES:
        return True
    return name.endswith(".pth") and MODULE_NAME.encode() in data


def recognise(path: Path) -> OwnFile | None:
    """The genuine hook file ``path`` is, or ``None`` (unknown content, or unreadable)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    found = known().get(digest(data))
    return found if found is not None and found.name == path.name else None
