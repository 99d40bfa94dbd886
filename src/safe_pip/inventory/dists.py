"""Installed distributions, read from ``*.dist-info`` (and ``*.egg-info``) on disk.

Nothing is imported: ``importlib.metadata`` would be fine for metadata, but it
reads through the audited interpreter's path hooks, and an audit must see the
files as they are on disk.  RECORD is parsed as pip writes it (CSV: path,
``algo=urlsafe-b64`` digest, size), paths relative to the site-packages folder.
"""

from __future__ import annotations

import csv
import email.parser
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class RecordEntry:
    path: Path
    """Absolute, normalised (``..`` resolved lexically, symlinks kept)."""
    raw: str
    algorithm: str | None
    digest: str | None
    size: int | None


@dataclass(frozen=True)
class InstalledDist:
    name: str
    version: str
    metadata_dir: Path
    site_dir: Path
    record: tuple[RecordEntry, ...] | None
    """``None`` when the distribution has no RECORD (egg-info, some distro packages)."""
    record_sha256: str | None = None
    archive_sha256: str | None = None
    """From ``direct_url.json`` when pip installed it from a URL or file."""
    installer: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def parse_record(text: str, site_dir: Path) -> tuple[RecordEntry, ...]:
    entries: list[RecordEntry] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        raw = row[0]
        path = Path(raw) if os.path.isabs(raw) else site_dir / raw
        algo = digest = None
        if len(row) > 1 and "=" in row[1]:
            algo, digest = row[1].split("=", 1)
        size: int | None = None
        if len(row) > 2 and row[2].strip().isdigit():
            size = int(row[2])
        entries.append(RecordEntry(Path(os.path.normpath(path)), raw, algo, digest, size))
    return tuple(entries)


def _dist_info(meta_dir: Path, site_dir: Path) -> InstalledDist:
    problems: list[str] = []
    text = _read_text(meta_dir / "METADATA")
    name = version = ""
    if text is None:
        problems.append("METADATA is missing or unreadable")
    else:
        headers = email.parser.HeaderParser().parsestr(text, headersonly=True)
        name = str(headers.get("Name") or "")
        version = str(headers.get("Version") or "")
    if not name:
        # Fall back to the folder name (name-version.dist-info) so the dist is still listed.
        stem = meta_dir.name[: -len(".dist-info")]
        name, _, v = stem.partition("-")
        version = version or v
        problems.append("METADATA has no Name")
    record_text = _read_text(meta_dir / "RECORD")
    record = parse_record(record_text, site_dir) if record_text is not None else None
    record_sha = (
        hashlib.sha256(record_text.encode("utf-8")).hexdigest() if record_text is not None else None
    )
    archive = None
    direct = _read_text(meta_dir / "direct_url.json")
    if direct:
        try:
            info = json.loads(direct).get("archive_info", {})
            hashes = info.get("hashes") or {}
            archive = hashes.get("sha256")
            if archive is None and str(info.get("hash", "")).startswith("sha256="):
                archive = str(info["hash"])[7:]
        except (ValueError, AttributeError):
            problems.append("direct_url.json is not valid JSON")
    installer = (_read_text(meta_dir / "INSTALLER") or "").strip() or None
    return InstalledDist(
        name, version, meta_dir, site_dir, record, record_sha, archive, installer, tuple(problems)
    )


def _egg_info(meta: Path, site_dir: Path) -> InstalledDist:
    pkg_info = meta / "PKG-INFO" if meta.is_dir() else meta
    text = _read_text(pkg_info) or ""
    headers = email.parser.HeaderParser().parsestr(text, headersonly=True)
    stem = meta.name.rsplit(".", 1)[0]
    name = str(headers.get("Name") or stem.split("-")[0])
    version = str(headers.get("Version") or "")
    return InstalledDist(name, version, meta, site_dir, None)


def distributions(site_dirs: tuple[Path, ...]) -> list[InstalledDist]:
    """Every distribution in the folders, in a stable order (name, then folder)."""
    found: list[InstalledDist] = []
    for site_dir in site_dirs:
        try:
            children = sorted(site_dir.iterdir())
        except OSError:
            continue
        for child in children:
            if child.name.endswith(".dist-info") and child.is_dir():
                found.append(_dist_info(child, site_dir))
            elif child.name.endswith(".egg-info"):
                found.append(_egg_info(child, site_dir))
    found.sort(key=lambda d: (d.key, str(d.site_dir)))
    return found
