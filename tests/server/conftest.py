"""Fixtures for ``safe-pip serve``: the real server in a subprocess, a real upstream, PostgreSQL.

The server runs as the real command (``python -m safe_pip serve``, uvicorn) on 127.0.0.1 with
its own home, state database and store; its upstream is the project's test index
(:mod:`tests.support.index_server`) serving real wheels. PostgreSQL is a throwaway cluster
made once per session (:mod:`tests.support.postgres`); where none can be started the tests
that need it are skipped with the reason.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support import postgres
from tests.support.index_server import IndexServer
from tests.support.venvs import isolated_env

ADMIN = "admin-token-for-tests"
PUSH = "push-token-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """One running ``safe-pip serve`` process."""

    port: int
    proc: subprocess.Popen[str]
    log: Path
    database: str
    store: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no lease released (a worker killed mid-scan)."""
        self.proc.kill()
        self.proc.wait()

    def admin(self, path: str) -> requests.Response:
        return requests.get(
            self.url + path, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
        )

    def vetted(self, sha256: str) -> int:
        """How many times the file was vetted (audit records), across all servers."""
        r = self.admin(f"/v1/audit?event=vetted&sha256={sha256}")
        r.raise_for_status()
        return len(r.json()["records"])


Serve = Callable[..., Served]


@pytest.fixture
def upstream() -> Iterator[IndexServer]:
    with IndexServer() as server:
        yield server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``safe-pip serve`` processes; every one is stopped at the end of the test."""
    started: list[Served] = []
    counter = [0]

    def start(
        upstreams: Sequence[str],
        *,
        policy: str | None = None,
        database: str | None = None,
        store: Path | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> Served:
        counter[0] += 1
        here = tmp_path / f"server{counter[0]}"
        home = here / "home"
        home.mkdir(parents=True)
        database = database or f"sqlite:///{here / 'state.sqlite3'}"
        store = store or here / "store"
        port = free_port()
        cmd = [sys.executable, "-m", "safe_pip", "serve", "--port", str(port)]
        for url in upstreams:
            cmd += ["--upstream", url]
        if policy is not None:
            pfile = here / "policy.toml"
            pfile.write_text("version = 1\n" + policy, encoding="utf-8")
            cmd += ["--policy", str(pfile)]
        cmd += ["--database", database, "--store", str(store), "--scan-workers", "1", *args]
        tokens = {"SAFE_PIP_SERVE_ADMIN_TOKENS": ADMIN, "SAFE_PIP_SERVE_PUSH_TOKENS": PUSH}
        full_env = isolated_env(home, **{**tokens, **(env or {})})
        log = here / "server.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=here
            )
        served = Served(port, proc, log, database, store, full_env)
        started.append(served)
        if wait:
            wait_up(served)
        return served

    try:
        yield start
    finally:
        for s in started:
            s.stop()


def wait_up(served: Served, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise AssertionError(f"safe-pip serve exited:\n{served.output()[-3000:]}")
        try:
            if requests.get(served.url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"safe-pip serve did not come up:\n{served.output()[-3000:]}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    try:
        cluster = postgres.start()
    except postgres.Unavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: postgres.Cluster) -> str:
    """A fresh database on the session's cluster."""
    return pg_cluster.new_database()


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a real client (pip, uv, poetry) that ignores the machine's config."""
    home.mkdir(parents=True, exist_ok=True)
    env = isolated_env(home, **extra)
    for key in list(env):
        if key.startswith(("UV_", "POETRY_")):
            del env[key]
    env["UV_NO_CONFIG"] = "1"
    env["UV_CACHE_DIR"] = str(home / "uv-cache")
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["POETRY_CACHE_DIR"] = str(home / "poetry-cache")
    env["POETRY_CONFIG_DIR"] = str(home / "poetry-config")
    env["POETRY_DATA_DIR"] = str(home / "poetry-data")
    env["POETRY_VIRTUALENVS_IN_PROJECT"] = "true"
    env["POETRY_NO_INTERACTION"] = "1"
    env["NO_COLOR"] = "1"
    env.pop("PYTHONPATH", None)
    return env
