"""``safe-pip audit --push``: a real environment's inventory reaches the index, and the index
answers who has a package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import PUSH, Serve
from tests.support.index_server import IndexServer
from tests.support.venvs import isolated_env
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _audit(
    venv_python: Path, home: Path, *args: str, token: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", "audit", "--python", str(venv_python), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=isolated_env(home, SAFE_PIP_PUSH_TOKEN=token),
    )


def test_push_then_ask_who_has_it(upstream: IndexServer, serve: Serve, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = next((venv / "lib").glob("python*/site-packages"))
    wheel = build_wheel(tmp_path / "w", "torchvision-optimized", "1.0")
    subprocess.run(  # unpack the wheel by hand: the environment must really have it
        [
            sys.executable,
            "-c",
            f"import zipfile; zipfile.ZipFile({str(wheel)!r}).extractall({str(site)!r})",
        ],
        check=True,
    )
    server = serve([upstream.simple_url])
    home = tmp_path / "home"
    home.mkdir()
    r = _audit(python, home, "--push", server.url, "--machine", "laptop-42", token=PUSH)
    assert r.returncode in (0, 1), r.stderr  # the typosquat itself is a finding (exit 1)
    got = server.admin("/v1/installed?name=torchvision_optimized").json()["installations"]
    assert [(i["machine"], i["environment"], i["version"]) for i in got] == [
        ("laptop-42", str(python), "1.0")
    ]
    bad = _audit(python, home, "--push", server.url, token="wrong")
    assert bad.returncode == 2 and "401" in bad.stderr
