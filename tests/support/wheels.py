"""Build real wheels and sdists inside tests, without setuptools.

Wheels come from :mod:`safe_pip.demo.artifacts` (``safe-pip demo`` writes its wheels with
the same recipe).  Building them here keeps malicious fixtures out of the repository as
binaries: each test writes the bytes it needs, and reviewers read the recipe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
from pathlib import Path

from safe_pip.demo.artifacts import build_wheel, dist_name, wheel_metadata

__all__ = ["build_sdist", "build_wheel", "pyc", "sha256_file", "wheel_metadata"]


def build_sdist(out_dir: Path, name: str, version: str = "1.0") -> Path:
    """A minimal sdist (``.tar.gz``) whose ``setup.py`` would write a marker if ever run."""
    import io
    import tarfile

    dist = dist_name(name)
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


def pyc(source: str) -> bytes:
    """A ``.pyc`` of ``source`` for this interpreter, hash-based with ``check_source`` off:
    ``import`` runs it sourceless (``mypkg/evil.pyc``) and from ``__pycache__`` in place of
    a source it never compares against."""
    code = compile(source, "evil.py", "exec")
    flags = (0b01).to_bytes(4, "little")
    return importlib.util.MAGIC_NUMBER + flags + bytes(8) + marshal.dumps(code)
