"""Compiled bytecode in a wheel: Python runs it, the source rules never read it.

The oracle is the real import system: the wheel's files unpacked onto ``sys.path`` of a
fresh interpreter, ``import mypkg.evil`` runs the shipped ``.pyc`` (a marker file appears),
while every source file of the wheel is harmless.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.scan.dist.wheels import wheel_bytes
from tests.scan.formats.helpers import blocking, rules, scan_bytes
from tests.support.wheels import pyc


def _marker_source(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()\n"


@pytest.mark.parametrize(
    ("name", "importer"),
    [
        ("mypkg/evil.pyc", "import mypkg.evil"),  # sourceless
        # in place of the harmless mypkg/good.py (hash-based, unchecked)
        (f"mypkg/__pycache__/good.{sys.implementation.cache_tag}.pyc", "import mypkg.good"),
    ],
    ids=["sourceless", "pycache"],
)
def test_bytecode_python_imports_is_refused(tmp_path: Path, name: str, importer: str) -> None:
    marker = tmp_path / "ran"
    files = {
        "mypkg/__init__.py": b"",
        "mypkg/good.py": b"X = 1\n",
        name: pyc(_marker_source(marker)),
    }
    data = wheel_bytes("mypkg", files)
    # the oracle: the real import system runs the bytecode
    site = tmp_path / "site"
    zipfile.ZipFile(BytesIO(data)).extractall(site)
    subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {importer}"],
        check=True,
    )
    assert marker.exists()
    result = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", data)
    assert "WHEEL-BYTECODE" in blocking(result)


def test_wheel_without_bytecode_has_no_finding(tmp_path: Path) -> None:
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": b"", "mypkg/good.py": b"X = 1\n"})
    assert "WHEEL-BYTECODE" not in rules(scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", data))


def test_bytecode_under_a_name_pip_rewrites_is_refused(tmp_path: Path) -> None:
    """``mypkg/evil.pyc\\0.txt`` is installed by pip as ``mypkg/evil.pyc``."""
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": b"", "mypkg/evil.pyc\x00.txt": b"x"})
    assert "WHEEL-BYTECODE" in blocking(scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", data))


@pytest.mark.parametrize(
    "name",
    ["mypkg-1.0.data/data/share/mypkg/evil.pyc", "mypkg-1.0.dist-info/evil.pyc"],
    ids=["data-scheme", "dist-info"],
)
def test_bytecode_outside_site_packages_is_refused(tmp_path: Path, name: str) -> None:
    """A .pth path line or the package itself can put any folder on sys.path."""
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": b"", name: b"x"})
    assert "WHEEL-BYTECODE" in blocking(scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", data))
