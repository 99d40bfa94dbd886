"""The y/N prompt and the output streams, as a person and a pipe see them.

On a terminal (a real pseudo-terminal, driven with pexpect) an install with warnings asks
before it installs: "n" installs nothing, "y" installs.  Piped, it never asks (no one can
answer) and the report on stdout carries the outcome with its reason, while stderr carries
the diagnostics; when both streams go to one place the reason is said once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.gate.conftest import Dists, Runner
from tests.support.index_server import IndexServer
from tests.support.venvs import isolated_env
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _warned_wheel(index: IndexServer, tmp_path: Path) -> None:
    """``warned`` depends on ``requestss``: a typosquat pulled in as a dependency warns."""
    index.add(build_wheel(tmp_path / "w", "warned", "1.0", requires=["requestss"]))
    index.add(build_wheel(tmp_path / "w", "requestss", "1.0"))


def _spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn[str]:
    return pexpect.spawn(
        sys.executable,
        ["-m", "safe_pip", *args],
        env=env,
        encoding="utf-8",
        timeout=240,
        dimensions=(40, 200),
    )


@pytest.mark.parametrize("answer, code", [("n", 1), ("y", 0)])
def test_a_terminal_is_asked_before_installing_despite_warnings(
    index: IndexServer,
    venv: Path,
    dists: Dists,
    tmp_path: Path,
    home: Path,
    answer: str,
    code: int,
) -> None:
    _warned_wheel(index, tmp_path)
    env = isolated_env(home, NO_COLOR="1")
    child = _spawn(["install", "--python", str(venv), "-i", index.simple_url, "warned"], env)
    child.expect(r"warn +NAME-TYPOSQUAT \(low\)")
    child.expect_exact("install despite the warnings above? [y/N] ")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code
    if answer == "y":
        assert "safe-pip: installed: " in (child.before or "")
        assert dists(venv)["warned"] == "1.0"
    else:
        assert "declined: nothing was installed" in (child.before or "")
        assert "warned" not in dists(venv)


def test_a_pipe_is_never_asked_and_colour_stays_off(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path
) -> None:
    _warned_wheel(index, tmp_path)
    r = safe_pip("--python", venv, "-i", index.simple_url, "warned")
    assert r.code == 0, r.stdout + r.stderr
    assert "[y/N]" not in r.stdout + r.stderr
    assert "\x1b[" not in r.stdout + r.stderr
    assert "warn  NAME-TYPOSQUAT (low)" in r.stdout
    assert r.stdout.rstrip().endswith("safe-pip: installed: requestss 1.0, warned 1.0")


def test_the_reason_travels_with_the_outcome(venv: Path, tmp_path: Path, home: Path) -> None:
    args = [sys.executable, "-m", "safe_pip", "install", "--python", str(venv)]
    args += ["-i", "http://127.0.0.1:9/simple/", "nosuchpkg"]
    env = isolated_env(home)
    apart = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert apart.returncode == 2
    (outcome,) = [line for line in apart.stdout.splitlines() if line.startswith("safe-pip:")]
    assert outcome.startswith("safe-pip: error: nothing was installed (cannot fetch")
    assert "safe-pip: error: cannot fetch" in apart.stderr  # stderr alone is complete too
    together = subprocess.run(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300
    )
    assert together.returncode == 2
    assert together.stdout.count("cannot fetch") == 1  # one place: said once
