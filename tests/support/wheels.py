"""Build real wheels inside tests, without setuptools.

A wheel is a zip with the package files plus ``*.dist-info/METADATA``,
``WHEEL`` and ``RECORD`` (with correct urlsafe-base64 sha256 entries), so pip
installs what this writes exactly as it would a wheel from an index.  Building
them here keeps malicious fixtures out of the repository as binaries: each
test writes the bytes it needs, and reviewers read the recipe.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _norm_dist(name: str) -> str:
    """Wheel filename form of a project name (PEP 427 / binary distribution spec)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_wheel(
    out_dir: Path,
    name: str,
    version: str = "1.0",
    files: Mapping[str, bytes] | None = None,
    *,
    requires: Sequence[str] = (),
    tag: str = "py3-none-any",
    summary: str = "test package",
    metadata_extra: Sequence[str] = (),
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``out_dir`` and return its path.

    ``files`` maps archive paths to bytes; by default a single
    ``<module>/__init__.py`` is written so the package is importable.
    """
    dist = _norm_dist(name)
    if files is None:
        files = {f"{dist}/__init__.py": f'"""{name} {version}"""\n'.encode()}
    info = f"{dist}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
    ]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    metadata += list(metadata_extra)
    wheel_meta = "\n".join(
        ["Wheel-Version: 1.0", "Generator: safe-pip-tests", "Root-Is-Purelib: true", f"Tag: {tag}"]
    )
    members: dict[str, bytes] = dict(files)
    members[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    members[f"{info}/WHEEL"] = (wheel_meta + "\n").encode()
    record_lines = [f"{path},{_record_hash(data)},{len(data)}" for path, data in members.items()]
    record_lines.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members.items():
            info_entry = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info_entry.compress_type = zipfile.ZIP_DEFLATED
            info_entry.external_attr = 0o644 << 16
            zf.writestr(info_entry, data)
    return path


def wheel_metadata(path: Path) -> bytes:
    """The ``METADATA`` bytes of a wheel, for serving PEP 658 ``.metadata`` files."""
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if member.endswith(".dist-info/METADATA") and member.count("/") == 1:
                return zf.read(member)
    raise ValueError(f"{path} has no METADATA")


def build_sdist(out_dir: Path, name: str, version: str = "1.0") -> Path:
    """A minimal sdist (``.tar.gz``) whose ``setup.py`` would write a marker if ever run."""
    import io
    import tarfile

    dist = _norm_dist(name)
    base = f"{dist}-{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{base}.tar.gz"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    setup_py = (
        "import pathlib, os\n"
        "pathlib.Path(os.environ.get('SAFE_PIP_TEST_MARKER', '/nonexistent')).write_text('ran')\n"
        f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n"
    ).encode()
    with tarfile.open(path, "w:gz") as tf:
        for arcname, data in ((f"{base}/PKG-INFO", pkg_info), (f"{base}/setup.py", setup_py)):
            entry = tarfile.TarInfo(arcname)
            entry.size = len(data)
            entry.mtime = 1577836800
            tf.addfile(entry, io.BytesIO(data))
    return path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
