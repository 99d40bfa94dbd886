"""Shared pieces of the hook's end-to-end tests: managed venvs of two pips, the payload.

A managed venv is a relocated copy of a session venv (pip 23.2 as bundled, or pip 26.3)
into which ``safe-pip shim install --env`` put the hook, run as the test's own user with
its own HOME, so the tickets, registry and audit log live under the test's HOME.

The payload is a real sdist whose ``setup.py`` writes a marker file the moment anything
builds it (``SAFE_PIP_TEST_MARKER`` names the file), and for index attacks a wheel whose
``.pth`` would write the marker at the next interpreter start. "Blocked" means: the marker
was never written, nothing was installed, and safe-pip said so on the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.enforce.conftest import relocate
from tests.support.venvs import installed, isolated_env, venv_python
from tests.support.wheels import build_sdist, build_wheel

PAYLOAD = "payload-marker"


@dataclass
class Managed:
    venv: Path
    home: Path
    marker: Path
    payload: Path
    """The sdist (a local file: the gate refuses it before resolving anything)."""

    @property
    def python(self) -> Path:
        return venv_python(self.venv)

    @property
    def site(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"))

    def env(self, *front: Path, **extra: str) -> dict[str, str]:
        env = isolated_env(self.home, SAFE_PIP_TEST_MARKER=str(self.marker), **extra)
        env["PATH"] = os.pathsep.join(
            [*map(str, front), str(self.venv / "bin"), "/usr/bin", "/bin"]
        )
        env["VIRTUAL_ENV"] = str(self.venv)
        for var in ("BASH_ENV", "ENV"):
            env.pop(var, None)
        return env

    def clean(self) -> bool:
        """No marker now, none after a fresh interpreter start, and no payload installed."""
        subprocess.run([str(self.python), "-c", "pass"], env=self.env(), check=False)
        return not self.marker.exists() and PAYLOAD not in installed(self.python)


def safe_pip(
    home: Path, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", *map(str, args)],
        capture_output=True,
        text=True,
        env=env or isolated_env(home),
        timeout=600,
    )


def manage(
    template_python: Path, tmp_path: Path, home: Path, *, preinstall: Sequence[str] = ()
) -> Managed:
    """A protected copy of the template venv; ``preinstall`` goes in first, unprotected,
    with the machine's pip configuration (a tool the test drives; skips where there is none)."""
    venv = relocate(template_python.parent.parent, tmp_path / "venv")
    if preinstall:
        env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
        cmd = [str(venv_python(venv)), "-m", "pip", "install", "-q", *preinstall]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            pytest.skip(f"{preinstall} not installable here: {proc.stderr[-300:]}")
    done = safe_pip(home, "shim", "install", "--no-path-shims", "--env", venv)
    assert done.returncode == 0, done.stdout + done.stderr
    payload = build_sdist(tmp_path / "payload", PAYLOAD, "1.0")
    return Managed(venv, home, tmp_path / "MARKER", payload)


def pth_payload(out: Path, marker: Path) -> Path:
    """A wheel whose .pth writes ``marker`` at every start once installed."""
    line = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    return build_wheel(out, PAYLOAD, "1.0", {"payload_marker.pth": line.encode()})
