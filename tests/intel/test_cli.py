"""`safe-pip intel sync|status|lookup` as a user runs them, against a source on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.intel.conftest import StaticServer, modified_index, write_zip
from tests.support.venvs import isolated_env


def _run(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", "intel", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        timeout=timeout,
    )


def _publish(server: StaticServer, records: dict[str, dict[str, Any]]) -> str:
    write_zip(server.root / "all.zip", records)
    (server.root / "modified_id.csv").write_text(modified_index(records))
    for rid, doc in records.items():
        (server.root / f"{rid}.json").write_text(json.dumps(doc))
    return server.url + "all.zip"


def test_sync_status_lookup_over_http_then_incremental(
    tmp_path: Path, records: dict[str, dict[str, Any]], static_server: StaticServer
) -> None:
    later = records.pop("MAL-2026-15859")
    source = _publish(static_server, records)
    first = _run(tmp_path, "sync", "--from", source)
    assert first.returncode == 0, first.stderr
    assert "synced 5 advisories (full)" in first.stdout

    status = _run(tmp_path, "status", "--format", "json")
    doc = json.loads(status.stdout)
    assert doc["schema_version"] == 1
    assert (doc["malicious"], doc["vulnerabilities"], doc["source"]) == (1, 4, source)

    vulnerable = _run(tmp_path, "lookup", "jinja2==2.11.2")
    assert vulnerable.returncode == 1
    assert "INTEL-VULNERABLE" in vulnerable.stdout and "fixed in 2.11.3" in vulnerable.stdout
    clean = _run(tmp_path, "lookup", "jinja2==3.1.4")
    assert clean.returncode == 0 and "nothing known" in clean.stdout

    # A new report appears upstream: only it is fetched.
    records["MAL-2026-15859"] = later
    _publish(static_server, records)
    static_server.requests.clear()
    second = _run(tmp_path, "sync", "--from", source)
    assert second.returncode == 0, second.stderr
    assert "(incremental)" in second.stdout
    assert "all.zip" not in static_server.requests
    assert static_server.requests == ["modified_id.csv", "MAL-2026-15859.json"]
    assert _run(tmp_path, "lookup", "0requests==0.0.1").returncode == 1


def test_a_sync_killed_midway_leaves_the_previous_database_usable(
    tmp_path: Path, records: dict[str, dict[str, Any]], static_server: StaticServer
) -> None:
    local = write_zip(tmp_path / "first.zip", records)
    assert _run(tmp_path, "sync", "--from", str(local)).returncode == 0
    source = _publish(static_server, records)
    static_server.stall.add("all.zip")
    proc = subprocess.Popen(
        [sys.executable, "-m", "safe_pip", "intel", "sync", "--from", source],
        env=isolated_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while "all.zip" not in static_server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    status = _run(tmp_path, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["malicious"] == 2
    assert _run(tmp_path, "lookup", "a-oder==8.0.0").returncode == 1


def test_errors_exit_2_with_one_line(
    tmp_path: Path, records: dict[str, dict[str, Any]], static_server: StaticServer
) -> None:
    missing = _run(tmp_path, "status")
    assert missing.returncode == 2 and "intel sync" in missing.stderr
    assert "Traceback" not in missing.stderr
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"not a zip at all")
    bad = _run(tmp_path, "sync", "--from", str(corrupt))
    assert bad.returncode == 2 and "not a readable zip" in bad.stderr
    gone = _run(tmp_path, "sync", "--from", static_server.url + "nothing.zip")
    assert gone.returncode == 2 and "HTTP 404" in gone.stderr
    usage = _run(tmp_path, "lookup", "jinja2>=2")
    assert usage.returncode == 2
