"""A throwaway PostgreSQL cluster for tests: Debian's server binaries, a temp folder, loopback.

``initdb`` refuses to run as root, so as root the cluster is made and run as the ``postgres``
user (``runuser -u postgres --``) in a folder it owns; as anyone else, as that user. The
server listens on 127.0.0.1 on a free port with trust authentication (the folder and the
port live only as long as the test session). :func:`start` raises :class:`Unavailable`
with the reason when no cluster can be had, so callers skip with a clear message.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL server can be started here (and why)."""


@dataclass
class Cluster:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    _counter: int = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise Unavailable("PostgreSQL's server binaries (initdb) are not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start() -> Cluster:
    bindir = _bindir()
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="safe-pip-pg-"))
    if as_root:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise Unavailable("running as root and runuser is missing (initdb refuses root)")
        try:
            shutil.chown(root, user="postgres", group="postgres")
        except (LookupError, OSError) as exc:
            raise Unavailable(f"no postgres user to run the cluster as: {exc}") from exc
        os.chmod(root, 0o700)
        prefix = [runuser, "-u", "postgres", "--"]
    data = root / "data"
    init = subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        capture_output=True,
        text=True,
        cwd=root,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    port = _free_port()
    proc = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={root}",
            "-c",
            "max_connections=300",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=root,
    )
    cluster = Cluster(root, port, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(f"postgres exited: {err.strip()[-300:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            import psycopg

            with psycopg.connect(cluster.url(), connect_timeout=2):
                return cluster
        except Exception:  # not up yet
            time.sleep(0.2)
    cluster.stop()
    raise Unavailable("postgres did not accept connections within 30 s")
