"""pip is the oracle: for wheel-only cases the resolver picks what
``pip install --dry-run --report`` picks, with the bundled pip 23.2 and a current pip 26.x.

pip runs isolated (``-I``, ``PIP_CONFIG_FILE`` = the null device, own HOME) in a real venv
against the real index on 127.0.0.1; the same venv is probed as the resolver's target.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safe_pip.gate.fetch import Fetcher
from safe_pip.gate.resolve import ResolveError
from safe_pip.gate.target import probe_target
from tests.support.index_server import IndexServer
from tests.support.install_requests import picked, request, run
from tests.support.venvs import isolated_env, make_template, venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _pip_wheel() -> Path | None:
    cache = Path(
        os.environ.get("SAFE_PIP_TEST_WHEELS", Path.home() / ".cache/safe-pip-test-wheels")
    )
    wheels = sorted(cache.glob("pip-2[6-9]*-py3-none-any.whl"))
    return wheels[-1] if wheels else None


@pytest.fixture(scope="module", params=["bundled", "current"])
def pip_venv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    py = venv_python(make_template(tmp_path_factory.mktemp("oracle") / "venv"))
    if request.param == "current":
        wheel = _pip_wheel()
        if wheel is None:
            pytest.skip("no pip 26.x wheel cached (scripts/fetch_test_wheels.py)")
        subprocess.run(
            [str(py), "-I", "-m", "pip", "install", "-q", "--no-index", str(wheel)],
            check=True,
            capture_output=True,
            env=isolated_env(tmp_path_factory.mktemp("h")),
        )
    return py


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    w = tmp_path_factory.mktemp("wheels")
    with IndexServer() as index:
        index.add(
            build_wheel(
                w,
                "app",
                "1.0",
                requires=[
                    "lib>=1",
                    "plug[fast]",
                    "never; python_version < '3'",
                    "docs; extra == 'docs'",
                ],
                metadata_extra=["Provides-Extra: docs"],
            )
        )
        index.add(build_wheel(w, "app", "2.0b1", requires=["lib"]))
        for v in ("1.0", "1.5", "2.0"):
            index.add(build_wheel(w, "lib", v))
        index.add(build_wheel(w, "lib", "2.5"), yanked="bad")
        index.add(build_wheel(w, "lib", "3.0"), requires_python=">=4")
        index.add(
            build_wheel(
                w,
                "plug",
                "1.0",
                requires=["speed; extra == 'fast'"],
                metadata_extra=["Provides-Extra: fast"],
            )
        )
        index.add(build_wheel(w, "speed", "0.5"), metadata=False)
        index.add(build_wheel(w, "never", "1.0"))
        index.add(build_wheel(w, "docs", "1.0"))
        index.add(build_wheel(w, "tagged", "1.0", tag="py3-none-any"))
        index.add(build_wheel(w, "tagged", "1.0", tag="py311-none-any"))
        yield index


def _oracle(py: Path, home: Path, args: list[str]) -> dict[str, str] | None:
    """What pip would install, or None when pip finds no solution."""
    proc = subprocess.run(
        [str(py), "-I", "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        cwd=home,
    )
    if proc.returncode != 0:
        assert "No matching distribution" in proc.stderr or "ResolutionImpossible" in proc.stderr
        return None
    report = json.loads(proc.stdout)
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}


CASES: list[tuple[list[str], dict[str, Any]]] = [
    (["app"], {}),
    (["app[docs]"], {}),
    (["app", "--pre"], {"pre": True}),
    (["app", "--no-deps"], {"no_deps": True}),
    (["lib==2.5"], {}),
    (["lib<2"], {}),
    (["lib>2"], {}),
    (["tagged"], {}),
    (["lib[undeclared]"], {}),
]


@pytest.mark.parametrize(("args", "options"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_same_choice_as_pip(
    pip_venv: Path,
    shared_index: IndexServer,
    fetcher: Fetcher,
    tmp_path: Path,
    args: list[str],
    options: dict[str, Any],
) -> None:
    expected = _oracle(pip_venv, tmp_path, ["-i", shared_index.simple_url, *args])
    reqs = [a for a in args if not a.startswith("-")]
    req = request(*reqs, index=shared_index.simple_url, **options)
    if expected is None:
        with pytest.raises(ResolveError):
            run(req, probe_target(pip_venv), fetcher)
        return
    res = run(req, probe_target(pip_venv), fetcher)
    assert picked(res) == expected
    if reqs == ["tagged"]:
        assert res.artifacts[0].filename == "tagged-1.0-py311-none-any.whl"


def test_constraints_and_installed_like_pip(
    pip_venv: Path, shared_index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    cons = tmp_path / "c.txt"
    cons.write_text("lib<1.5\n")
    url = shared_index.simple_url
    expected = _oracle(pip_venv, tmp_path, ["-i", url, "-c", str(cons), "app"])
    got = run(request("app", index=url, constraints=["lib<1.5"]), probe_target(pip_venv), fetcher)
    assert picked(got) == expected
    # Install lib 1.5 for real, then ask again: installed and satisfying means untouched.
    env = isolated_env(tmp_path)
    subprocess.run(
        [str(pip_venv), "-I", "-m", "pip", "install", "-q", "-i", url, "lib==1.5"],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        target = probe_target(pip_venv)
        for args, options in (
            (["app"], {}),
            (["-U", "app"], {"upgrade": True}),
            (
                ["-U", "--upgrade-strategy", "eager", "app"],
                {"upgrade": True, "upgrade_strategy": "eager"},
            ),
            (["lib"], {}),
            (["-U", "lib"], {"upgrade": True}),
        ):
            expected = _oracle(pip_venv, tmp_path, ["-i", url, *args])
            reqs = [a for a in args if not a.startswith("-") and a != "eager"]
            res = run(request(*reqs, index=url, **options), target, fetcher)
            assert picked(res) == expected, args
        assert run(request("lib", index=url), target, fetcher).satisfied == {"lib": "1.5"}
    finally:
        subprocess.run(
            [str(pip_venv), "-I", "-m", "pip", "uninstall", "-y", "-q", "lib"],
            check=True,
            capture_output=True,
            env=env,
        )
