"""Core metadata read as data: from a PEP 658 file, a wheel's METADATA, or the build hook.

Reading metadata never runs code: METADATA is an RFC 822 text file, and a wheel is a zip
read with :mod:`zipfile` (the member is found by name and read with a size cap, so a
compressed bomb stops at the cap). Anything malformed raises :class:`MetadataError`.
"""

from __future__ import annotations

import email.parser
import email.policy
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from safe_pip.errors import SafePipError

#: METADATA files are a few KiB; the biggest real ones (long descriptions) stay under 1 MiB.
MAX_METADATA = 16 << 20


class MetadataError(SafePipError):
    """Metadata that cannot be read as metadata; the resolution fails closed."""


@dataclass(frozen=True)
class CoreMetadata:
    name: str
    version: Version
    requires: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    provides_extra: frozenset[str] = frozenset()
    """Canonical extra names; pip ignores a requested extra the metadata does not provide."""


def parse_metadata(raw: bytes, where: str) -> CoreMetadata:
    """Name, version, ``Requires-Dist`` and ``Requires-Python`` of a METADATA document."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{where}: METADATA is not UTF-8") from exc
    msg = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    name = (msg.get("Name") or "").strip()
    version_text = (msg.get("Version") or "").strip()
    if not name or not version_text:
        raise MetadataError(f"{where}: METADATA has no Name or Version")
    try:
        version = Version(version_text)
    except InvalidVersion as exc:
        raise MetadataError(f"{where}: invalid Version {version_text!r}") from exc
    requires: list[Requirement] = []
    for line in msg.get_all("Requires-Dist") or []:
        try:
            requires.append(Requirement(str(line).strip()))
        except InvalidRequirement as exc:
            raise MetadataError(f"{where}: invalid Requires-Dist {line!r}: {exc}") from exc
    rp_text = (msg.get("Requires-Python") or "").strip()
    try:
        requires_python = SpecifierSet(rp_text) if rp_text else None
    except InvalidSpecifier as exc:
        raise MetadataError(f"{where}: invalid Requires-Python {rp_text!r}") from exc
    extras = frozenset(
        canonicalize_name(str(e).strip()) for e in msg.get_all("Provides-Extra") or []
    )
    return CoreMetadata(name, version, tuple(requires), requires_python, extras)


def metadata_from_wheel(path: Path, project: str) -> bytes:
    """The METADATA bytes of the wheel's one ``<project>-<version>.dist-info`` folder.

    As pip does, the folder is the top-level ``*.dist-info`` whose name is the project's;
    none, or several candidates, is an error.
    """
    want = canonicalize_name(project)
    try:
        with zipfile.ZipFile(path) as zf:
            folders = {
                n.split("/", 1)[0]
                for n in zf.namelist()
                if "/" in n and n.split("/", 1)[0].endswith(".dist-info")
            }
            mine = [
                f
                for f in folders
                if canonicalize_name(f[: -len(".dist-info")].split("-")[0]) == want
            ]
            if len(mine) != 1:
                raise MetadataError(
                    f"{path.name}: expected one {want} .dist-info folder, found {sorted(folders)}"
                )
            info = zf.getinfo(f"{mine[0]}/METADATA")
            if info.file_size > MAX_METADATA:
                raise MetadataError(f"{path.name}: METADATA is larger than {MAX_METADATA} bytes")
            with zf.open(info) as fh:
                data = fh.read(MAX_METADATA + 1)
    except KeyError as exc:
        raise MetadataError(f"{path.name}: no METADATA in its .dist-info folder") from exc
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise MetadataError(f"{path.name}: not a readable wheel: {exc}") from exc
    if len(data) > MAX_METADATA:
        raise MetadataError(f"{path.name}: METADATA is larger than {MAX_METADATA} bytes")
    return data
