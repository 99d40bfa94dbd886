"""Scan-once across server processes sharing one PostgreSQL, and a worker killed mid-scan.

Several real ``safe-pip serve`` processes share a throwaway PostgreSQL cluster and one store;
the upstream trickles the files so that requests really overlap while vetting runs. Every
client must get the vetted bytes, and the audit records must show one vetting per file. A
server SIGKILLed while it holds a file's claim serves nothing; its lease lapses and another
server vets the file from scratch.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.server.conftest import Serve, Served
from tests.support.index_server import IndexServer, Raw
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

JSON = "application/vnd.pypi.simple.v1+json"


def _config(tmp_path: Path, lease: float) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(f"[server]\nlease = {lease}\nwait = 60\n", encoding="utf-8")
    return path


def _trickle(upstream: IndexServer, wheel: Path, seconds: float) -> str:
    """Serve ``wheel`` slowly (about ``seconds`` in total); its sha256."""
    entry = upstream.add(wheel)
    data = wheel.read_bytes()
    pieces = 20
    upstream.raw[f"/files/{wheel.name}"] = Raw(
        data,
        {"Content-Type": "application/octet-stream"},
        delay=seconds / pieces,
        piece=max(1, len(data) // pieces + 1),
    )
    return entry.sha256


def _install_like_a_client(server: Served, project: str) -> tuple[int, str]:
    """What a client does: read the page, download the file it lists; (status, sha256)."""
    base = f"{server.url}/simple/{project}/"
    doc = requests.get(base, headers={"Accept": JSON}, timeout=120).json()
    url = urljoin(base, doc["files"][0]["url"])
    r = requests.get(url, timeout=120)
    return r.status_code, hashlib.sha256(r.content).hexdigest()


def test_twenty_clients_three_servers_one_vetting_per_file(
    upstream: IndexServer, serve: Serve, pg_url: str, tmp_path: Path
) -> None:
    shas = {
        name: _trickle(upstream, build_wheel(tmp_path / "w", name, "1.0"), 1.5)
        for name in ("alpha-pkg", "beta-pkg", "gamma-pkg")
    }
    store = tmp_path / "store"
    config = _config(tmp_path, 10)
    servers = [
        serve([upstream.simple_url], database=pg_url, store=store, args=["--config", str(config)])
        for _ in range(3)
    ]
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def client(i: int) -> None:
        barrier.wait()
        for name in shas:
            status, sha = _install_like_a_client(servers[i % 3], name)
            with lock:
                results.append((name, status, sha))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 60
    assert all(status == 200 and sha == shas[name] for name, status, sha in results), results
    for name, sha in shas.items():
        assert servers[0].vetted(sha) == 1, name  # one vetting across all three servers
        served = servers[0].admin(f"/v1/audit?event=served&sha256={sha}").json()["records"]
        assert len(served) == 20


def test_server_killed_mid_scan_serves_nothing_and_another_takes_over(
    upstream: IndexServer, serve: Serve, pg_url: str, tmp_path: Path
) -> None:
    sha = _trickle(upstream, build_wheel(tmp_path / "w", "slowpkg", "1.0"), 4.0)
    store = tmp_path / "store"
    config = _config(tmp_path, 2)
    first = serve(
        [upstream.simple_url], database=pg_url, store=store, args=["--config", str(config)]
    )
    second = serve(
        [upstream.simple_url], database=pg_url, store=store, args=["--config", str(config)]
    )
    url = f"/files/{sha}/slowpkg-1.0-py3-none-any.whl"
    got: list[object] = []

    def doomed() -> None:
        try:
            r = requests.get(first.url + url, timeout=60)
            got.append(r.status_code)
        except requests.RequestException as exc:
            got.append(exc)

    t = threading.Thread(target=doomed)
    t.start()
    deadline = time.monotonic() + 30
    while upstream.count("/files/slowpkg-1.0-py3-none-any.whl") == 0:
        assert time.monotonic() < deadline, "the first server never started vetting"
        time.sleep(0.05)
    time.sleep(0.5)  # mid-download, claim held
    first.kill()
    t.join(timeout=60)
    assert len(got) == 1 and not (isinstance(got[0], int) and got[0] == 200)
    started = time.monotonic()
    r = requests.get(second.url + url, timeout=120)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == sha
    assert time.monotonic() - started >= 1.0  # it waited for the dead owner's lease to lapse
    records = second.admin(f"/v1/audit?event=vetted&sha256={sha}").json()["records"]
    assert len(records) == 1 and f":{second.proc.pid}:" in records[0]["client"]
    assert upstream.count("/files/slowpkg-1.0-py3-none-any.whl") >= 2  # vetted again from scratch
