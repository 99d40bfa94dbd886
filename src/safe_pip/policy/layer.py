"""One parsed policy file, before layering.

A :class:`Layer` records only what its file actually *set*: the difference
between "the org said ``allow_sdist = false``" and "the org said nothing" is
what makes tighten-only layering possible (an unset key is not an org rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from safe_pip.policy.model import (
    LayerName,
    NamePattern,
    PackageRule,
    PolicyException,
    SourceRef,
)

SettingValue = bool | int | float | str | dt.timedelta | Path | tuple[str, ...] | None
"""The value of one scalar or list setting, already validated."""


@dataclass(frozen=True)
class Setting:
    """One key a file set, e.g. ``install.min_age = "7d"`` at line 12."""

    key: str
    value: SettingValue
    source: SourceRef


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, located for a person."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class RemoteSource:
    """``[remote]`` in the local org file: where the signed org policy lives.

    The local file is only a pointer; the policy that applies is the fetched
    file, and only if a sigstore bundle over its exact bytes verifies against
    ``trusted_root`` (``None`` = the production root pinned in
    :mod:`safe_pip.verify.trust`) with certificate SAN ``identity`` and OIDC
    issuer ``issuer``.  ``max_age`` bounds how old a verified cached copy may
    be when the URL cannot be reached (zero: never use it offline).
    """

    url: str
    identity: str
    issuer: str
    trusted_root: Path | None = None
    max_age: dt.timedelta = dt.timedelta(0)
    bundle: str | None = None
    """An explicit bundle URL; by default ``url + ".sigstore.json"``, then ``".sigstore"``."""
    source: SourceRef = field(default=SourceRef("org"), compare=False)


@dataclass(frozen=True)
class Layer:
    """What one file set, in one layer (org, user, project or cli)."""

    layer: LayerName
    path: Path
    settings: tuple[Setting, ...] = ()
    deny: tuple[NamePattern, ...] = ()
    packages: tuple[PackageRule, ...] = ()
    exceptions: tuple[PolicyException, ...] = ()
    remote: RemoteSource | None = None

    def get(self, key: str) -> Setting | None:
        return next((s for s in self.settings if s.key == key), None)
