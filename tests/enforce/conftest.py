"""Fixtures for enforcement tests: real shells, a relocated venv, the local test index.

The install gate's fixtures (``venv_template``, ``home``, ``index``) are reused
from ``tests/gate/conftest.py``.  A copied venv's console scripts still name
the template's interpreter in their shebang, and the shims read exactly that
to pick their target, so :func:`relocated_venv` rewrites the shebangs of the
copy, as a venv built in place would have them.  Every subprocess gets
``isolated_env`` (own HOME, PIP_CONFIG_FILE=os.devnull, no inherited PIP_*),
so no real rc file, PATH or pip configuration is read or touched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gate.conftest import any_pip, home, index, pip23, pip26, venv_template  # noqa: F401
from tests.support.index_server import IndexServer
from tests.support.venvs import copy_venv, isolated_env, venv_python
from tests.support.wheels import build_wheel

BLOCKED = "torchvision-optimized"
"""A typosquat the default policy blocks (popular name + bait suffix)."""


def relocate(template: Path, dest: Path) -> Path:
    copy_venv(template, dest)
    old = f"#!{template}/bin/".encode()
    new = f"#!{dest}/bin/".encode()
    for script in (dest / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(old):
                script.write_bytes(data.replace(old, new, 1))
    cfg = dest / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace(str(template), str(dest)))
    return dest


@pytest.fixture
def venv_dir(venv_template: Path, tmp_path: Path) -> Path:  # noqa: F811
    return relocate(venv_template, tmp_path / "venv")


@pytest.fixture
def blocked_index(index: IndexServer, tmp_path: Path) -> IndexServer:  # noqa: F811
    index.add(build_wheel(tmp_path / "wheels", BLOCKED, "1.0"))
    return index


@dataclass
class Shell:
    code: int
    stdout: str
    stderr: str


ShellRunner = Callable[..., Shell]


EnvMaker = Callable[..., dict[str, str]]
"""``shell_env(*front_of_path, **extra_vars)``: an isolated environment for a shell."""


@pytest.fixture
def shell_env(home: Path, venv_dir: Path) -> EnvMaker:  # noqa: F811
    """An isolated environment with the venv 'activated' (its bin first on PATH)."""

    def make(*front: Path, **extra: str) -> dict[str, str]:
        env = isolated_env(home, **extra)
        parts = [str(p) for p in front] + [str(venv_dir / "bin"), "/usr/bin", "/bin"]
        env["PATH"] = os.pathsep.join(parts)
        env["VIRTUAL_ENV"] = str(venv_dir)
        env.pop("BASH_ENV", None)
        env.pop("ENV", None)
        return env

    return make


def run_shell(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> Shell:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return Shell(proc.returncode, proc.stdout, proc.stderr)


__all__ = ["BLOCKED", "Shell", "relocate", "run_shell", "venv_python"]
