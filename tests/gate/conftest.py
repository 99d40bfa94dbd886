"""Fixtures for the install gate's end-to-end tests.

Each test gets: a real index on 127.0.0.1, a wheel builder, a fresh virtual
environment copied from a session template, and a ``safe_pip`` runner that
starts the real command in a subprocess with pip's machine configuration
switched off (PIP_CONFIG_FILE=os.devnull, no inherited PIP_* variables, own
HOME and XDG cache/state dirs). The resolver's tests add a second index (``extra``), a
bounded fetcher and this interpreter probed as a target (``here``).
"""

from __future__ import annotations

import os
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

from safe_pip.gate.fetch import Bounds, Fetcher, NetSettings, Quarantine  # noqa: E402
from safe_pip.gate.target import Target, probe_target  # noqa: E402
from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.report_schema import load_report  # noqa: E402
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


@pytest.fixture
def extra() -> Iterator[IndexServer]:
    """A second index (an ``--extra-index-url``), for index-priority tests."""
    with IndexServer() as server:
        yield server


FAST = Bounds(connect_timeout=3, read_timeout=3, deadline=10, retries=0)


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    with Fetcher(Quarantine(tmp_path / "quarantine"), NetSettings(bounds=FAST)) as f:
        yield f


@pytest.fixture(scope="session")
def here() -> Target:
    """This interpreter, probed like a target (the tests' project names are not installed)."""
    return probe_target(Path(sys.executable))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return load_report(self.stdout)

    def rules(self) -> set[str]:
        doc = self.json()
        return {f["rule_id"] for a in doc["targets"] for f in a["findings"]}


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
            # The user's own policy: only the org bounds it, so it may also loosen defaults
            # (names.allow, a trusted_root); --policy and project files may only tighten.
            pfile = home / "config" / "safe-pip" / "policy.toml"
            pfile.parent.mkdir(parents=True, exist_ok=True)
            pfile.write_text("version = 1\n" + policy, encoding="utf-8")
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


Dists = Callable[..., dict[str, str]]
"""``dists(python) -> {name: version}`` of what is installed there."""


@pytest.fixture
def dists() -> Dists:
    return installed


# --- real pips of two generations (inputs tests) ------------------------------------------
# ``pip23`` is the pip the running interpreter bundles (ensurepip; 23.2.1 on 3.11), ``pip26`` a
# venv upgraded to pip 26.3 from the machine's package sources; both built once per session, and
# a pip that cannot be had here skips its tests with a message instead of testing the wrong pip.

from tests.support.pip_oracle import pip_dir  # noqa: E402

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
