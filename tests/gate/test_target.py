"""The target probe against real virtual environments (pip is the oracle for tags)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from safe_pip.gate.target import TargetError, probe_target, target_environment
from tests.support.venvs import isolated_env, make_template, venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return venv_python(make_template(tmp_path_factory.mktemp("target") / "venv"))


def _pip(python: Path, home: Path, *args: str) -> str:
    out = subprocess.run(
        [str(python), "-I", "-m", "pip", *args],
        capture_output=True,
        text=True,
        check=True,
        env=isolated_env(home),
    )
    return out.stdout


def test_tags_and_markers_are_the_ones_pip_uses(venv: Path, tmp_path: Path) -> None:
    target = probe_target(venv)
    text = _pip(venv, tmp_path, "debug", "--verbose")
    pip_tags = re.findall(r"^\s+(\S+-\S+-\S+)$", text.split("Compatible tags:", 1)[1], re.M)
    assert [str(t) for t in target.tags] == pip_tags
    sys_platform = re.search(r"sys\.platform: (\S+)", text)
    assert sys_platform is not None and target.markers["sys_platform"] == sys_platform.group(1)
    assert target.python_version.count(".") == 2
    assert canonicalize_name("pip") in target.installed
    assert target.site_packages and all(Path(p).is_dir() for p in target.site_packages)


def test_probe_runs_no_site_hook_of_the_target(venv: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    site = Path(probe_target(venv).site_packages[0])
    hook = site / "zz_hook.pth"
    hook.write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')\n")
    try:
        probe_target(venv)
        assert not marker.exists()
    finally:
        hook.unlink()


def test_target_environment_owns_installed_files_and_scripts(venv: Path, tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "ownedpkg",
        "1.0",
        files={
            "ownedpkg/__init__.py": b"",
            "ownedpkg_helper.py": b"",
            "sharedns/ownedpkg/__init__.py": b"",  # a namespace folder: no __init__.py
            "ownedpkg-1.0.dist-info/entry_points.txt": (
                b"[console_scripts]\nowned-cmd = ownedpkg:main\n"
            ),
        },
    )
    _pip(venv, tmp_path, "install", "--no-index", "--no-deps", str(wheel))
    try:
        target = probe_target(venv)
        env = target_environment(target)
        assert env.owned_paths["ownedpkg/__init__.py"] == "ownedpkg"
        assert env.owned_paths["ownedpkg"] == "ownedpkg"
        assert env.owned_paths["ownedpkg_helper"] == "ownedpkg"
        assert env.scripts["owned-cmd"] == "ownedpkg"
        # A shared namespace folder is nobody's: only the package inside it is owned.
        assert (
            env.owned_paths["sharedns/ownedpkg"] == "ownedpkg" and "sharedns" not in env.owned_paths
        )
        assert env.python_executable == str(target.python)
        assert env.scripts["pip"] == "pip"
        assert env.python_version == target.version_info
        assert target.installed[canonicalize_name("ownedpkg")].version == "1.0"
    finally:
        _pip(venv, tmp_path, "uninstall", "-y", "ownedpkg")


def test_a_broken_interpreter_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(TargetError):
        probe_target(tmp_path / "no-such-python")
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho not json\n")
    fake.chmod(0o755)
    with pytest.raises(TargetError, match="unreadable"):
        probe_target(fake)
