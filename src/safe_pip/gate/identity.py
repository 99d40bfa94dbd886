"""Identity: what an artifact says it is, in every place it says it.

A distribution names itself three times: the name the user asked for (or the resolver
chose it under), its file name, and the ``Name``/``Version`` in the METADATA inside it --
which is what pip installs it as. Deny lists, typosquat checks, hash pins and people read
the first two; pip trusts the third. So all must agree (as canonical names and normalised
versions), and name rules run on every name the artifact carries.

METADATA is read from the quarantined file as bytes (zip member or tar member, capped),
never by importing or building anything.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.models import Finding, Severity

RULE = "INSTALL-IDENTITY-MISMATCH"
METADATA_CAP = 4 << 20
"""A METADATA file larger than this is not read (and the identity is then unknown)."""


@dataclass(frozen=True)
class Identity:
    """One place's claim: where it was read, the name and the version (if it says one)."""

    source: str
    name: str
    version: str | None


def from_filename(filename: str) -> Identity | None:
    """The project and version a wheel or sdist file name states; None if it states none."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return Identity("file name", str(name), str(version))


def read_metadata(path: Path, filename: str) -> bytes | None:
    """The METADATA (wheel) or PKG-INFO (sdist) bytes, or None if there is not exactly one."""
    try:
        if filename.endswith(".whl"):
            with zipfile.ZipFile(path) as zf:
                found = [
                    i
                    for i in zf.infolist()
                    if i.filename.count("/") == 1 and i.filename.endswith(".dist-info/METADATA")
                ]
                if len(found) != 1 or found[0].file_size > METADATA_CAP:
                    return None
                with zf.open(found[0]) as fh:
                    return fh.read(METADATA_CAP)
        if filename.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tf:
                infos = [
                    m
                    for m in tf.getmembers()
                    if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
                ]
                if len(infos) != 1 or infos[0].size > METADATA_CAP:
                    return None
                member = tf.extractfile(infos[0])
                return member.read(METADATA_CAP) if member is not None else None
        if filename.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                found = [
                    i
                    for i in zf.infolist()
                    if i.filename.count("/") == 1 and i.filename.endswith("/PKG-INFO")
                ]
                if len(found) != 1 or found[0].file_size > METADATA_CAP:
                    return None
                with zf.open(found[0]) as fh:
                    return fh.read(METADATA_CAP)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError):
        return None
    return None


def from_metadata(raw: bytes) -> Identity | None:
    headers = BytesHeaderParser().parsebytes(raw)
    name, version = headers.get("Name"), headers.get("Version")
    if not name:
        return None
    return Identity("METADATA", str(name).strip(), str(version).strip() if version else None)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def claims(art: ResolvedArtifact, path: Path | None) -> list[Identity]:
    """Every identity the artifact states, the resolver's first."""
    out = [Identity("resolver", art.name, art.version)]
    if art.requested_as:
        out.append(Identity("requested", art.requested_as, None))
    if art.metadata_name:  # what the resolver read (PEP 658 file, or a build's metadata)
        out.append(Identity("resolution metadata", art.metadata_name, art.metadata_version))
    named = from_filename(art.filename)
    if named is not None:
        out.append(named)
    if path is not None and art.kind in ("wheel", "sdist"):
        raw = read_metadata(path, art.filename)
        meta = from_metadata(raw) if raw is not None else None
        if meta is not None:
            out.append(meta)
    return out


def names(found: list[Identity]) -> list[str]:
    """The distinct project names among the claims (each runs the name rules)."""
    return list(dict.fromkeys(canonicalize_name(c.name) for c in found))


def mismatch_findings(
    art: ResolvedArtifact, found: list[Identity], *, fetched: bool
) -> list[Finding]:
    """A finding when the claims name two projects or two releases, or (for a file that
    was fetched) the file name or METADATA does not say what it is."""
    sources = {c.source for c in found}
    problems: list[str] = []
    if len(names(found)) > 1:
        problems.append("names " + ", ".join(f"{c.source} {c.name!r}" for c in found))
    versions = [c for c in found if c.version is not None]
    if any(not _same_version(versions[0].version or "", c.version or "") for c in versions[1:]):
        problems.append("versions " + ", ".join(f"{c.source} {c.version!r}" for c in versions))
    if fetched and "METADATA" not in sources:
        problems.append("the file carries no readable METADATA to say what it is")
    if fetched and "file name" not in sources:
        problems.append(f"the file name {art.filename!r} names no project and version")
    if not problems:
        return []
    return [
        Finding(
            RULE,
            Severity.HIGH,
            f"{art.filename} does not agree on what it is: " + "; ".join(problems),
            art.filename,
            {"claims": [{"source": c.source, "name": c.name, "version": c.version} for c in found]},
        )
    ]
