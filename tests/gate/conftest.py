"""Fixtures for the gate's input tests: real pips of two generations in real venvs.

``pip23`` is the pip the running interpreter bundles (``ensurepip``; 23.2.1 on the
3.11 this project develops on), ``pip26`` a venv upgraded to pip 26.3 from the
machine's own package sources. Both are built once per test session; a pip that
cannot be had here skips its tests with a message instead of testing the wrong pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pip_oracle import pip_dir
from tests.support.venvs import venv_python

PIP26 = "26.3"


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return venv_python(path)


@pytest.fixture(scope="session")
def pip23(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the interpreter's bundled pip."""
    return _venv(tmp_path_factory.mktemp("pip23") / "venv")


@pytest.fixture(scope="session")
def pip26(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pip 26.3, installed with the machine's pip configuration."""
    python = _venv(tmp_path_factory.mktemp("pip26") / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"pip=={PIP26}"],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        pytest.skip(f"pip {PIP26} is not installable here: {proc.stderr[-300:]}")
    return python


@pytest.fixture(scope="session", params=["pip23", "pip26"])
def any_pip(request: pytest.FixtureRequest) -> Path:
    """Each real pip in turn (the interpreter of its venv)."""
    python: Path = request.getfixturevalue(request.param)
    return python


@pytest.fixture(scope="session")
def any_pip_dir(any_pip: Path) -> Path:
    return pip_dir(any_pip)
