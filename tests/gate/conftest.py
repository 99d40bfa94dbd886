"""Fixtures for the install gate's end-to-end tests.

Each test gets: a real index on 127.0.0.1, a wheel builder, a fresh virtual
environment copied from a session template, and a ``safe_pip`` runner that
starts the real command in a subprocess with pip's machine configuration
switched off (PIP_CONFIG_FILE=os.devnull, no inherited PIP_* variables, own
HOME and XDG cache/state dirs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.venvs import copy_venv, installed, isolated_env, make_template, venv_python  # noqa: E402


@pytest.fixture(scope="session")
def venv_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("template") / "venv")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def venv(venv_template: Path, tmp_path: Path) -> Path:
    return venv_python(copy_venv(venv_template, tmp_path / "venv"))


@pytest.fixture
def index() -> Iterator[IndexServer]:
    server = IndexServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))

    def rules(self) -> set[str]:
        doc = self.json()
        return {f["rule_id"] for a in doc["artifacts"] for f in a["findings"]}


Runner = Callable[..., Result]


@pytest.fixture
def safe_pip(home: Path, tmp_path: Path) -> Runner:
    def run(
        *args: str | Path,
        policy: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> Result:
        cmd: list[str] = [sys.executable, "-m", "safe_pip", "install"]
        if policy is not None:
            pfile = tmp_path / "policy.toml"
            pfile.write_text("version = 1\n" + policy, encoding="utf-8")
            cmd += ["--policy", str(pfile)]
        cmd += [str(a) for a in args]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=isolated_env(home, **(env or {})),
            cwd=tmp_path,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def dists() -> Callable[..., dict[str, str]]:
    return installed
