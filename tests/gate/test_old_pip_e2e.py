"""A target whose pip is older than the gate's build step needs: one warning, on stderr.

Real pips in real venvs: 22.2.2 (the oldest pip the gate drives) installs vetted wheels and
is warned about once, on stderr, with the version needed and why; the report on stdout
stays clean. A pip older than that is refused with the version it needs: on stderr, and as
the reason on the report's outcome line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gate.conftest import Dists, Runner
from tests.support.index_server import IndexServer
from tests.support.venvs import venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _venv_with_pip(where: Path, version: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True)
    python = venv_python(where)
    env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"pip=={version}"],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        pytest.skip(f"pip {version} is not installable here: {proc.stderr[-300:]}")
    return python


def test_pip_22_2_installs_and_is_warned_about_once_on_stderr(
    index: IndexServer, safe_pip: Runner, dists: Dists, tmp_path: Path
) -> None:
    python = _venv_with_pip(tmp_path / "old", "22.2.2")
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    r = safe_pip("--python", python, "-i", index.simple_url, "cleanpkg")
    assert r.code == 0, r.stdout + r.stderr
    assert dists(python)["cleanpkg"] == "1.0"
    assert r.stderr.count("safe-pip: warning:") == 1
    assert "has pip 22.2.2" in r.stderr and "needs pip 22.3 or newer" in r.stderr
    assert "--python option" in r.stderr and "-m pip install -U pip" in r.stderr
    assert "warning" not in r.stdout


def test_a_pip_older_than_the_gate_drives_is_refused_with_the_version_it_needs(
    index: IndexServer, safe_pip: Runner, tmp_path: Path
) -> None:
    python = _venv_with_pip(tmp_path / "older", "21.3.1")
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    r = safe_pip("--python", python, "-i", index.simple_url, "cleanpkg")
    assert r.code == 2, r.stdout + r.stderr
    assert "pip 21.3.1" in r.stderr and "needs pip 22.2 or newer" in r.stderr
    # The report's outcome line carries the same reason (a pipe to tail keeps it).
    (outcome,) = [line for line in r.stdout.splitlines() if line.startswith("safe-pip:")]
    assert outcome.startswith("safe-pip: error: nothing was installed (")
    assert "needs pip 22.2 or newer" in outcome
