"""Real interpreters, real pip, real venvs: the oracle for what a wheel makes Python run.

A test builds a wheel, installs it with pip into a fresh venv of one of the pyenv Pythons
(``/root/.pyenv/versions``, 3.10-3.13; a missing one skips with a message), starts that
interpreter (or a tool in it) and looks for a marker file the payload writes. The same wheel
then goes through ``scan_path``. pip is the outer one (``pip --python``), isolated from the
machine's configuration.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from safe_pip.models import ScanResult, Severity, TargetEnvironment
from safe_pip.scan.core.engine import scan_path
from tests.support.venvs import isolated_env

PYENV = Path("/root/.pyenv/versions")


def interpreter(minor: int) -> Path:
    hits = sorted(PYENV.glob(f"3.{minor}.*/bin/python3")) if PYENV.is_dir() else []
    if not hits:
        pytest.skip(f"no Python 3.{minor} under {PYENV}: this reading of site.py is untested here")
    return hits[-1]


def payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


class Venv:
    def __init__(self, root: Path, python: Path, *, system_site: bool = False) -> None:
        self.root = root
        self.home = root.parent / f"{root.name}-home"
        self.home.mkdir()
        extra = ["--system-site-packages"] if system_site else []
        subprocess.run(
            [str(python), "-m", "venv", "--without-pip", *extra, str(root)],
            check=True,
            capture_output=True,
        )
        self.python = root / "bin" / "python"

    def install(self, *wheels: Path) -> None:
        """The outer pip, run for this venv's interpreter (``pip --python``), isolated."""
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install",
             "--no-index", "--no-deps", "--quiet", *map(str, wheels)],
            capture_output=True, text=True, env=isolated_env(self.home),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def run(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the venv (``-c pass`` by default: just start up)."""
        return subprocess.run(
            [str(self.python), *(args or ("-c", "pass"))],
            check=False,
            capture_output=True,
            text=True,
            env={**isolated_env(self.home), **(env or {})},
        )

    def start(self) -> None:
        self.run()


def make_venv(tmp_path: Path, minor: int, *, system_site: bool = False) -> Venv:
    root = tmp_path / f"venv{minor}-{len(list(tmp_path.iterdir()))}"
    return Venv(root, interpreter(minor), system_site=system_site)


def scan(wheel: Path, python: tuple[int, int] | None = None) -> ScanResult:
    return scan_path(wheel, target=TargetEnvironment(python_version=python) if python else None)


def blocked(wheel: Path, rule: str, python: tuple[int, int] | None = None) -> bool:
    """``rule`` is reported at medium or above for this wheel (no target, or that Python)."""
    res = scan(wheel, python)
    return any(f.rule_id == rule and f.severity >= Severity.MEDIUM for f in res.findings)
