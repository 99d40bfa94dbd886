"""``safe-pip lock``: a hash-pinned requirements file holding only files the gate allowed.

Real wheels on the real local index, the real command in a subprocess; the lock is then
installed by ``safe-pip install -r`` into a real venv, and by plain pip with
``--require-hashes`` into another, so a pin that does not match the vetted file would fail
there; a file swapped on the index after vetting is refused by that pip.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.gate.conftest import Dists, Runner
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer
from tests.support.venvs import copy_venv, isolated_env, venv_python
from tests.support.wheels import build_wheel, sha256_file

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def lock(
    home: Path, cwd: Path, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", "lock", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=isolated_env(home, **(env or {})),
        timeout=300,
    )


@pytest.fixture
def wheels(index: IndexServer, tmp_path: Path) -> dict[str, Path]:
    made = {
        "cleanpkg": build_wheel(tmp_path / "w", "cleanpkg", "1.0", requires=["helperlib"]),
        "helperlib": build_wheel(tmp_path / "w", "helperlib", "2.0"),
        "modelzoo": evil_wheel(tmp_path / "w", tmp_path / "PWNED"),
    }
    for wheel in made.values():
        index.add(wheel)
    (tmp_path / "requirements.in").write_text("cleanpkg\n")
    return made


def test_lock_pins_every_vetted_file_and_installs_from_it(
    index: IndexServer,
    wheels: dict[str, Path],
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    tmp_path: Path,
    home: Path,
) -> None:
    url = index.url.replace("http://", "http://user:s3cret@") + "/simple/"
    r = lock(home, tmp_path, "-r", "requirements.in", "-i", url)
    assert r.returncode == 0, r.stderr
    # stdout is the lock alone; the vetting report went to stderr.
    pins = [line for line in r.stdout.splitlines() if not line.startswith("#")]
    assert pins == [
        "cleanpkg==1.0 \\",
        f"    --hash=sha256:{sha256_file(wheels['cleanpkg'])}",
        "helperlib==2.0 \\",
        f"    --hash=sha256:{sha256_file(wheels['helperlib'])}",
    ]
    assert "s3cret" not in r.stdout and "http://***@127.0.0.1" in r.stdout
    assert "safe-pip: locked" in r.stderr and "ok      cleanpkg 1.0" in r.stderr

    out = tmp_path / "requirements.txt"
    r = lock(home, tmp_path, "-o", out, "-r", "requirements.in", "-i", index.simple_url)
    assert r.returncode == 0, r.stderr
    assert "note: wrote" in r.stdout and "safe-pip: locked" in r.stdout
    installed = safe_pip("--python", venv, "-i", index.simple_url, "-r", out)
    assert installed.code == 0, installed.stdout + installed.stderr
    assert dists(venv)["cleanpkg"] == "1.0" and dists(venv)["helperlib"] == "2.0"
    # What the target already has is pinned too: a lock is the whole set.
    again = lock(home, tmp_path, "--python", venv, "-r", "requirements.in", "-i", index.simple_url)
    assert again.returncode == 0, again.stderr
    assert [x for x in again.stdout.splitlines() if not x.startswith("#")] == [
        x for x in out.read_text().splitlines() if not x.startswith("#")
    ]


def test_plain_pip_installs_the_lock_with_require_hashes_and_refuses_a_swapped_file(
    index: IndexServer,
    wheels: dict[str, Path],
    venv: Path,
    venv_template: Path,
    dists: Dists,
    tmp_path: Path,
    home: Path,
) -> None:
    """The lock is for tools that are not safe-pip too (CI, Docker): real pip, its own
    resolver, every requirement pinned by hash, nothing else allowed in."""
    out = tmp_path / "requirements.txt"
    r = lock(home, tmp_path, "-o", out, "-r", "requirements.in", "-i", index.simple_url)
    assert r.returncode == 0, r.stdout + r.stderr

    def pip_install(python: Path) -> subprocess.CompletedProcess[str]:
        args = ["-m", "pip", "install", "--require-hashes", "--no-cache-dir"]
        return subprocess.run(
            [str(python), "-I", *args, "-i", index.simple_url, "-r", str(out)],
            capture_output=True,
            text=True,
            env=isolated_env(home),
            timeout=300,
        )

    first = pip_install(venv)
    assert first.returncode == 0, first.stdout + first.stderr
    assert dists(venv)["cleanpkg"] == "1.0" and dists(venv)["helperlib"] == "2.0"
    # Same name and version, other bytes: what a compromised index or mirror would serve.
    swapped = build_wheel(
        tmp_path / "swapped", "helperlib", "2.0", {"helperlib/__init__.py": b"print('other')\n"}
    )
    assert sha256_file(swapped) != sha256_file(wheels["helperlib"])
    index.add(swapped)
    fresh = venv_python(copy_venv(venv_template, tmp_path / "fresh"))
    second = pip_install(fresh)
    assert second.returncode != 0
    assert "DO NOT MATCH THE HASHES" in second.stderr
    assert "helperlib" not in dists(fresh) and "cleanpkg" not in dists(fresh)


def test_a_blocked_file_writes_no_lock_and_keeps_the_old_one(
    index: IndexServer, wheels: dict[str, Path], tmp_path: Path, home: Path
) -> None:
    (tmp_path / "requirements.in").write_text("cleanpkg\nmodelzoo\n")
    out = tmp_path / "requirements.txt"
    out.write_text("old lock\n")
    r = lock(home, tmp_path, "-o", out, "-r", "requirements.in", "-i", index.simple_url)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PICKLE-GLOBAL-DANGEROUS" in r.stdout
    assert "no lock file was written" in r.stdout
    assert out.read_text() == "old lock\n"
    assert sorted(p.name for p in tmp_path.glob(".requirements.txt.*")) == []
    assert not (tmp_path / "PWNED").exists()


def test_pilot_mode_allows_installs_but_never_a_lock(
    index: IndexServer, wheels: dict[str, Path], tmp_path: Path, home: Path
) -> None:
    (tmp_path / "requirements.in").write_text("modelzoo\n")
    pilot = {"SAFE_PIP_ORG_POLICY": str(REPO / "policies" / "pilot.toml")}
    r = lock(home, tmp_path, "-r", "requirements.in", "-i", index.simple_url, env=pilot)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == ""  # no lock printed
    assert "allowed only by pilot mode (PICKLE-GLOBAL-DANGEROUS)" in r.stderr
    assert "no lock file was written" in r.stderr


def test_lock_without_requirements_is_a_usage_error(tmp_path: Path, home: Path) -> None:
    r = lock(home, tmp_path)
    assert r.returncode == 2
    assert r.stdout == "" and "nothing to lock" in r.stderr
