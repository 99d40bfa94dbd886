"""The final pip started early (``install.WaitingPip``): real pip in a real venv.

It loads pip's modules while the gate vets, and must run no pip command until it is handed
the vetted files: cancelled, or left without the go byte because safe-pip died, it ends
having installed nothing; handed files, it installs exactly them, through the same ticket
and command line as an ordinary final pip; one that ended early is replaced by one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safe_pip.gate import install
from tests.support.venvs import installed
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tickets go to this test's state folder, never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "state"))


def vetted(tmp_path: Path, name: str) -> install.VettedFile:
    wheel = build_wheel(tmp_path / "wheels", name, "1.0", {f"{name}/__init__.py": b"X = 1\n"})
    return install.VettedFile(wheel, hashlib.sha256(wheel.read_bytes()).hexdigest(), name, "1.0")


def test_handed_files_it_installs_exactly_them(venv: Path, tmp_path: Path) -> None:
    waiting = install.WaitingPip(venv, [])
    done = install.install(venv, [vetted(tmp_path, "earlypkg")], [], waiting=waiting)
    assert done.ok, done.stderr
    assert installed(venv).get("earlypkg") == "1.0"
    assert waiting.proc is None and not waiting.requirements.parent.exists()
    assert not list((tmp_path / "state").rglob("*.ticket"))  # the ticket was used or withdrawn


def test_without_the_go_byte_it_ends_having_run_nothing(venv: Path, tmp_path: Path) -> None:
    """safe-pip died (or refused) before the verdict: its end of the pipe closes."""
    waiting = install.WaitingPip(venv, [])
    proc = waiting.proc
    assert proc is not None and proc.stdin is not None
    # A requirements file in place, as if a hostile process wrote one early: never read.
    waiting.requirements.write_text(f"{vetted(tmp_path, 'neverpkg').path.as_uri()}\n")
    proc.stdin.close()
    assert proc.wait(timeout=120) == 3, proc.stderr.read() if proc.stderr else ""
    assert "neverpkg" not in installed(venv)
    waiting.cancel()
    assert not waiting.requirements.parent.exists()


def test_cancel_stops_it_before_anything_runs(venv: Path, tmp_path: Path) -> None:
    waiting = install.WaitingPip(venv, [])
    proc = waiting.proc
    assert proc is not None
    waiting.cancel()
    assert proc.returncode is not None and proc.returncode != 0
    waiting.cancel()  # twice is harmless (the pipeline's cleanup may repeat it)


def test_one_that_ended_early_is_replaced_by_an_ordinary_pip(venv: Path, tmp_path: Path) -> None:
    waiting = install.WaitingPip(venv, [])
    assert waiting.proc is not None
    waiting.proc.kill()
    waiting.proc.wait()
    done = install.install(venv, [vetted(tmp_path, "laterpkg")], [], waiting=waiting)
    assert done.ok, done.stderr
    assert installed(venv).get("laterpkg") == "1.0"


def test_an_interpreter_that_cannot_start_falls_back(venv: Path, tmp_path: Path) -> None:
    waiting = install.WaitingPip(tmp_path / "no-such-python", [])
    assert waiting.proc is None
    with pytest.raises(install.InstallError, match="cannot run pip"):
        install.install(
            tmp_path / "no-such-python", [vetted(tmp_path, "nopkg")], [], waiting=waiting
        )


def test_the_command_is_the_ordinary_final_pip(venv: Path) -> None:
    waiting = install.WaitingPip(venv, ["--target", "/t"])
    try:
        assert waiting.command == install.install_command(
            venv, waiting.requirements, ["--target", "/t"]
        )
        proc = waiting.proc
        assert proc is not None
        args = proc.args
        assert isinstance(args, list)
        assert args[:2] == [str(venv), "-I"] and args[4:] == waiting.command[4:]
    finally:
        waiting.cancel()
