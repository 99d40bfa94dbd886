"""Resolution that cannot build: wheel metadata only (PEP 658, or the wheel itself).

Interface contract (shared by the gate's stages; keep names stable, extend freely).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class ResolvedArtifact:
    """One file the resolver chose, with what the index said about it (untrusted claims)."""

    name: str
    """Canonical project name."""
    version: str
    filename: str
    url: str
    kind: Literal["wheel", "sdist", "local"]
    index_url: str | None
    """The index or find-links location the file was found on."""
    requested_as: str | None = None
    """The name as the user wrote it, when the user asked for it directly."""
    hashes: Mapping[str, str] = field(default_factory=dict)
    yanked: str | None = None
    """``None`` when not yanked, else the reason (possibly empty)."""
    upload_time: dt.datetime | None = None
    requires_python: str | None = None
    provenance_url: str | None = None
    local_file: Path | None = None
    """The quarantined copy when the resolver already downloaded the file."""
    sha256: str | None = None
    """Computed over ``local_file`` when the resolver downloaded it."""

    @property
    def requested(self) -> bool:
        return self.requested_as is not None


@dataclass(frozen=True)
class Resolution:
    """What pip would install, in install order."""

    artifacts: tuple[ResolvedArtifact, ...]
    offered_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical name -> every index that offers the project (dependency confusion)."""
