"""Fixtures for the intel tests: real OSV record facts, zips of them, a local HTTP source."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

RECORDS = Path(__file__).resolve().parents[1] / "fixtures" / "intel" / "records"


def load_records() -> dict[str, dict[str, Any]]:
    """Every fixture record by id."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))}


def write_zip(path: Path, records: dict[str, dict[str, Any]]) -> Path:
    """An OSV export zip: one ``<id>.json`` member per record, as osv.dev lays it out."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rid, doc in records.items():
            zf.writestr(f"{rid}.json", json.dumps(doc))
    return path


def modified_index(records: dict[str, dict[str, Any]]) -> str:
    """osv.dev's ``modified_id.csv``: ``<modified>,<id>``, newest first."""
    rows = sorted(((d["modified"], rid) for rid, d in records.items()), reverse=True)
    return "".join(f"{when},{rid}\n" for when, rid in rows)


class StaticServer:
    """Serves a folder on 127.0.0.1; ``stall`` makes a path send half its bytes and hang."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stall: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.requests.append(name)
                file = server.root / name
                if not file.is_file():
                    self.send_response(404)
                    self.end_headers()
                    return
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.stall:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(120)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"


@pytest.fixture
def records() -> dict[str, dict[str, Any]]:
    return load_records()


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[StaticServer]:
    root = tmp_path / "www"
    root.mkdir()
    server = StaticServer(root)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
