"""Real clients against the vetting index: pip 23.2 (bundled), pip 26.3, uv and poetry.

Each installs a clean package with a dependency through the server (whose upstream is the test
index serving real wheels), and is refused the seed attack -- a ``torchvision-optimized`` wheel
whose ``model.pt`` pickle would run a command -- with the rule id in the client's own output.
Nothing of the attack reaches the client: it is not installed, no file anywhere under the
client's home, target or project has its bytes, and the payload's marker never appears.
Each client gets its own server and state database, so each sees a first request.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Serve, Served, client_env
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

ALLOW_NAME = '[names]\nallow = ["torchvision-optimized"]\n'
RULE = "PICKLE-GLOBAL-DANGEROUS"
PIP26 = "26.3"


@pytest.fixture(scope="module")
def pip26(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pip 26.3, installed with the machine's pip configuration."""
    venv = tmp_path_factory.mktemp("pip26") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
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


@pytest.fixture
def world(upstream: IndexServer, serve: Serve, tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    """A server whose upstream has a clean package (with a dependency) and the seed attack."""
    upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0", requires=["helperlib>=1"]))
    upstream.add(build_wheel(tmp_path / "w", "helperlib", "2.0"))
    marker = tmp_path / "PWNED"
    upstream.add(evil_wheel(tmp_path / "evil", marker, name="torchvision-optimized"))
    yield serve([upstream.simple_url], policy=ALLOW_NAME), marker


def _evil_sha(tmp_path: Path) -> str:
    [wheel] = (tmp_path / "evil").glob("*.whl")
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def _nothing_of_it(tmp_path: Path, marker: Path, *roots: Path) -> None:
    evil = _evil_sha(tmp_path)
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert hashlib.sha256(path.read_bytes()).hexdigest() != evil, path
            assert "torchvision_optimized" not in path.name.lower() or path.suffix != ".py", path
    assert not marker.exists()


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def _pip_case(python: Path, world: tuple[Served, Path], tmp_path: Path) -> None:
    server, marker = world
    home = tmp_path / "client"
    env = client_env(home)
    target = tmp_path / "target"
    pip = [str(python), "-I", "-m", "pip", "install", "--target", str(target)]
    index = ["--index-url", server.simple_url, "--no-input"]
    ok = _run([*pip, *index, "cleanpkg"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (target / "cleanpkg").is_dir() and (target / "helperlib").is_dir()
    bad = _run([*pip, *index, "torchvision-optimized"], env, tmp_path)
    assert bad.returncode != 0
    assert RULE in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    _nothing_of_it(tmp_path, marker, home, target)


def test_pip_23_bundled(world: tuple[Served, Path], tmp_path: Path) -> None:
    venv = tmp_path / "pip23"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    version = _run([str(python), "-m", "pip", "--version"], os.environ.copy(), tmp_path).stdout
    assert version.startswith("pip 23."), version
    _pip_case(python, world, tmp_path)


def test_pip_26(world: tuple[Served, Path], tmp_path: Path, pip26: Path) -> None:
    _pip_case(pip26, world, tmp_path)


def test_uv(world: tuple[Served, Path], tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (it is in the test extra)")
    server, marker = world
    home = tmp_path / "client"
    env = client_env(home)
    target = tmp_path / "target"
    base = [uv, "pip", "install", "--python", sys.executable, "--target", str(target)]
    index = ["--index-url", server.simple_url]
    ok = _run([*base, *index, "cleanpkg"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (target / "cleanpkg").is_dir() and (target / "helperlib").is_dir()
    bad = _run([*base, *index, "torchvision-optimized"], env, tmp_path)
    assert bad.returncode != 0
    assert RULE in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    _nothing_of_it(tmp_path, marker, home, target)


POETRY_PROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = [{dep}]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "corp"
url = "{url}"
priority = "primary"
"""


def test_poetry(world: tuple[Served, Path], tmp_path: Path) -> None:
    poetry = shutil.which("poetry", path=str(Path(sys.executable).parent)) or shutil.which("poetry")
    if poetry is None:
        pytest.skip("poetry is not installed (it is in the test extra)")
    server, marker = world
    home = tmp_path / "client"
    env = client_env(home)
    good = tmp_path / "good"
    good.mkdir()
    (good / "pyproject.toml").write_text(
        POETRY_PROJECT.format(dep='"cleanpkg"', url=server.simple_url), encoding="utf-8"
    )
    ok = _run([poetry, "install", "--no-interaction"], env, good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    site = next((good / ".venv" / "lib").glob("python*/site-packages"))
    assert (site / "cleanpkg").is_dir() and (site / "helperlib").is_dir()
    bad_project = tmp_path / "bad"
    bad_project.mkdir()
    (bad_project / "pyproject.toml").write_text(
        POETRY_PROJECT.format(dep='"torchvision-optimized"', url=server.simple_url),
        encoding="utf-8",
    )
    bad = _run([poetry, "install", "--no-interaction"], env, bad_project)
    assert bad.returncode != 0
    assert RULE in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    _nothing_of_it(tmp_path, marker, home, bad_project)
