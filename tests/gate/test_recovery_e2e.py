"""End to end: signals and a failing audit log, sent to a real running ``safe-pip install``.

The install is started as a subprocess against the index on 127.0.0.1; the test waits for a
point it can see (the audit log opened, the pending-install marker written just before pip
starts) and then signals the process, makes the log immutable, or kills it. Each case checks
what landed in the venv, the report and the audit records: never "nothing was installed"
when something was, never an install without a record.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.gate.conftest import Runner
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, isolated_env
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

FILES = 1500
"""Modules in the slow wheel: enough that pip spends a second or more installing it."""


def slow_wheel(out: Path, name: str = "bulkpkg") -> Path:
    files = {f"{name}/m{i}.py": f"X = {i}\n".encode() for i in range(FILES)}
    files[f"{name}/__init__.py"] = b""
    return build_wheel(out, name, "1.0", files)


def start(home: Path, cwd: Path, *args: str | Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "safe_pip", "install", "--format", "json", *map(str, args)]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=isolated_env(home),
        cwd=cwd,
        start_new_session=True,  # its own process group, as a shell job would be
    )


def wait_for(check: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"safe-pip ended before {what}: {out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def pending(home: Path) -> list[Path]:
    folder = home / "state" / "safe-pip" / "pending"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def records(home: Path) -> list[dict[str, object]]:
    log = home / "state" / "safe-pip" / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-to-group"])
def test_signal_while_pip_installs_lets_it_finish_and_says_so(
    how: str, index: IndexServer, venv: Path, home: Path, tmp_path: Path
) -> None:
    index.add(slow_wheel(tmp_path / "w"))
    proc = start(home, tmp_path, "--python", venv, "-i", index.simple_url, "bulkpkg")
    wait_for(lambda: bool(pending(home)), proc, "the intent record")
    time.sleep(0.2)  # pip is starting or running now
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:  # Ctrl-C at a terminal: SIGINT to the whole foreground process group
        import os

        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    doc = json.loads(out)
    assert doc["outcome"] == "installed" and doc["run"]["installed"] == ["bulkpkg 1.0"]
    name = "SIGTERM" if how == "SIGTERM" else "SIGINT"
    assert any(name in n and "allowed to finish" in n for n in doc["notes"])
    assert "nothing was installed" not in out + err
    assert installed(venv).get("bulkpkg") == "1.0"
    kinds = [(r["kind"], r["outcome"]) for r in records(home)]
    assert kinds == [("intent", "installing"), ("outcome", "installed")]
    assert pending(home) == []


def test_signal_before_pip_installs_nothing_and_is_recorded(
    index: IndexServer, venv: Path, home: Path, tmp_path: Path
) -> None:
    index.add(slow_wheel(tmp_path / "w"))
    log = home / "state" / "safe-pip" / "audit.jsonl"
    proc = start(home, tmp_path, "--python", venv, "-i", index.simple_url, "bulkpkg")
    wait_for(log.exists, proc, "the audit log to be opened")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, out + err
    doc = json.loads(out)
    assert doc["outcome"] == "interrupted" and doc["run"]["installed"] == []
    assert "bulkpkg" not in installed(venv)
    assert [(r["kind"], r["outcome"]) for r in records(home)] == [("outcome", "interrupted")]


def test_sigkill_during_pip_is_reported_by_the_next_run_and_by_audit(
    index: IndexServer, venv: Path, home: Path, tmp_path: Path, safe_pip: Runner
) -> None:
    index.add(slow_wheel(tmp_path / "w"))
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    proc = start(home, tmp_path, "--python", venv, "-i", index.simple_url, "bulkpkg")
    wait_for(lambda: bool(pending(home)), proc, "the intent record")
    time.sleep(0.2)
    proc.kill()
    proc.communicate(timeout=60)
    (marker,) = pending(home)
    run_id = marker.stem
    assert [r["kind"] for r in records(home)] == ["intent"]

    later = safe_pip(
        "--python", venv, "--dry-run", "--format", "json", "-i", index.simple_url, "cleanpkg"
    )
    assert later.code == 0, later.stderr
    notes = later.json()["notes"]
    assert any(
        run_id in n and "never recorded its outcome" in n and "bulkpkg 1.0" in n for n in notes
    ), notes
    assert pending(home) == []
    assert [r["kind"] for r in records(home)] == ["intent", "recovered", "outcome"]

    audit = subprocess.run(
        [sys.executable, "-m", "safe_pip", "audit", "--python", str(venv), "--format", "json"],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        cwd=tmp_path,
        timeout=300,
    )
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert "AUDIT-INSTALL-UNRECORDED" in audit.stdout and run_id in audit.stdout


def _chattr(flag: str, path: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Make a file unwritable even for root and even through open descriptors."""
    made: list[Path] = []
    probe = tmp_path / "probe"
    probe.write_text("")
    if not _chattr("+i", probe):
        pytest.skip("chattr +i is not available on this file system")
    _chattr("-i", probe)

    def make(path: Path) -> None:
        assert _chattr("+i", path)
        made.append(path)

    yield make
    for path in made:
        _chattr("-i", path)


def test_log_made_unwritable_before_pip_installs_nothing(
    index: IndexServer,
    venv: Path,
    home: Path,
    tmp_path: Path,
    immutable: Callable[[Path], None],
) -> None:
    index.add(slow_wheel(tmp_path / "w"))
    log = home / "state" / "safe-pip" / "audit.jsonl"
    proc = start(home, tmp_path, "--python", venv, "-i", index.simple_url, "bulkpkg")
    wait_for(log.exists, proc, "the audit log to be opened")
    immutable(log)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, out + err
    assert "audit log" in err
    assert "bulkpkg" not in installed(venv)  # no intent record, so pip never started
    assert pending(home) == []


def test_log_made_unwritable_while_pip_works_leaves_the_intent(
    index: IndexServer,
    venv: Path,
    home: Path,
    tmp_path: Path,
    immutable: Callable[[Path], None],
    safe_pip: Runner,
) -> None:
    index.add(slow_wheel(tmp_path / "w"))
    index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    log = home / "state" / "safe-pip" / "audit.jsonl"
    proc = start(home, tmp_path, "--python", venv, "-i", index.simple_url, "bulkpkg")
    wait_for(lambda: bool(pending(home)), proc, "the intent record")
    immutable(log)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, out + err  # installed, but the outcome could not be recorded
    doc = json.loads(out)
    assert doc["run"]["installed"] == ["bulkpkg 1.0"] and "audit log" in doc["error"]
    assert installed(venv).get("bulkpkg") == "1.0"
    assert [r["kind"] for r in records(home)] == ["intent"]  # the install has its record
    _chattr("-i", log)
    later = safe_pip(
        "--python", venv, "--dry-run", "--format", "json", "-i", index.simple_url, "cleanpkg"
    )
    assert any("never recorded its outcome" in n for n in later.json()["notes"])


def test_edited_scan_cache_entry_is_discarded_and_the_file_rescanned(
    index: IndexServer, venv: Path, home: Path, tmp_path: Path, safe_pip: Runner
) -> None:
    """Someone who can write the cache folder turns a blocking scan into a clean one: the
    entry's MAC no longer verifies, so it is thrown away and the wheel scanned again."""
    from tests.support.attacks import evil_wheel

    marker = tmp_path / "PWNED"
    index.add(evil_wheel(tmp_path / "w", marker))
    args = ("--python", venv, "--format", "json", "-i", index.simple_url, "modelzoo")
    first = safe_pip("--dry-run", *args)
    assert first.code == 1, first.stdout + first.stderr
    entries = list((home / "cache" / "safe-pip" / "scan-results").rglob("*.json"))
    assert entries
    for entry in entries:
        doc = json.loads(entry.read_text())
        doc["result"]["findings"] = []
        entry.write_text(json.dumps(doc))
    second = safe_pip(*args)
    assert second.code == 1, second.stdout + second.stderr
    assert "PICKLE-GLOBAL-DANGEROUS" in second.rules()
    (art,) = second.json()["targets"]
    assert art["cached"] is False
    assert any("integrity check" in n for n in second.json()["notes"])
    assert "modelzoo" not in installed(venv) and not marker.exists()
