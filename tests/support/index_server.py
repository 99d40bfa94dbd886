"""A real package index on 127.0.0.1, served from a thread, for end-to-end tests.

It speaks what pip and safe-pip speak to a real index: PEP 503 HTML project
pages with ``#sha256=`` fragments, PEP 691 JSON (api-version 1.1, so files carry
PEP 700 ``upload-time``) chosen by the ``Accept`` header, PEP 658 ``.metadata``
files, arbitrary sidecars such as ``<file>.provenance``, PEP 740's ``provenance``
key in the JSON, ``data-requires-python`` / ``requires-python``, and extra documents at any path
(an Integrity API stand-in).  To test fail-closed paths it can serve bytes that differ from the
advertised hash, answer 503, go down entirely, or answer any path with a hand-made
:class:`Raw` response: a gzip bomb, a body that trickles in slowly, a body shorter than its
``Content-Length``, a body with no length at all.  Nothing here touches the network beyond
the loopback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
OLD = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return normalise(filename.split("-")[0])
    stem = re.sub(r"\.(tar\.gz|zip)$", "", filename)
    return normalise(stem.rsplit("-", 1)[0])


@dataclass
class Raw:
    """A hand-made answer for one path, for the bounds and fail-closed tests."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0
    """Seconds to sleep before each ``piece`` of the body (a trickling server)."""
    piece: int = 1024
    length: int | None = None
    """``Content-Length`` to announce (None: the real length; -1: none, close at the end)."""


@dataclass
class IndexFile:
    filename: str
    path: Path
    project: str
    sha256: str
    upload_time: dt.datetime | None = OLD
    yanked: bool | str = False
    serve_bytes: bytes | None = None
    """If set, served instead of the real file (the advertised hash stays the real one)."""
    tamper_from: int = 0
    """Serve ``serve_bytes`` (or ``fail_status``) from this download on (0 = always), so a
    test can let pip's dry run see the real file and safe-pip's fetch see the fake."""
    fail_status: int | None = None
    downloads: int = 0
    metadata: bytes | None = None
    metadata_served: bytes | None = None
    """If set, served as the ``.metadata`` file instead of ``metadata`` (whose hash the
    pages advertise): an index that lies about PEP 658 metadata."""
    sidecars: dict[str, bytes] = field(default_factory=dict)
    requires_python: str | None = None
    """Served as ``data-requires-python`` (HTML) and ``requires-python`` (JSON)."""
    pep740: bool = False
    """If set, the JSON entry carries PEP 740's ``provenance`` key (``provenance_url``,
    relative to the project page or absolute; None is served as ``null``)."""
    provenance_url: str | None = None


class IndexServer:
    """``with IndexServer() as index: index.add(wheel); index.simple_url``."""

    def __init__(self) -> None:
        self.files: dict[str, IndexFile] = {}
        self.status_override: int | None = None
        self.json_api = True
        """False: a plain PEP 503 index (HTML pages only, whatever the Accept header asks)."""
        self.requests: list[str] = []
        self.raw: dict[str, Raw] = {}
        """Paths answered with a hand-made :class:`Raw` response (checked first)."""
        self.documents: dict[str, bytes | int] = {}
        """Extra paths (``/integrity/...``): bytes are served, an int is answered as that
        status.  Checked before the normal routes, so it can also fail one sidecar."""
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- content -------------------------------------------------------------
    def add(
        self,
        path: Path,
        *,
        upload_time: dt.datetime | None = OLD,
        yanked: bool | str = False,
        metadata: bool = True,
        requires_python: str | None = None,
    ) -> IndexFile:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        meta: bytes | None = None
        if metadata and path.name.endswith(".whl"):
            from .wheels import wheel_metadata

            meta = wheel_metadata(path)
        entry = IndexFile(
            filename=path.name,
            path=path,
            project=_project_of(path.name),
            sha256=digest.hexdigest(),
            upload_time=upload_time,
            yanked=yanked,
            metadata=meta,
            requires_python=requires_python,
        )
        self.files[path.name] = entry
        return entry

    # -- lifecycle -----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    def start(self) -> IndexServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down: later connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, suffix: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.endswith(suffix))

    # -- pages ---------------------------------------------------------------
    def _project_files(self, project: str) -> list[IndexFile]:
        return sorted(
            (f for f in self.files.values() if f.project == project), key=lambda f: f.filename
        )

    def project_html(self, project: str) -> bytes:
        links = []
        for f in self._project_files(project):
            attrs = ""
            if f.metadata is not None:
                mhash = hashlib.sha256(f.metadata).hexdigest()
                attrs += f' data-dist-info-metadata="sha256={mhash}"'
                attrs += f' data-core-metadata="sha256={mhash}"'
            if f.yanked:
                reason = f.yanked if isinstance(f.yanked, str) else ""
                attrs += f' data-yanked="{html.escape(reason)}"'
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            href = f"{self.url}/files/{f.filename}#sha256={f.sha256}"
            links.append(f'<a href="{html.escape(href)}"{attrs}>{html.escape(f.filename)}</a><br/>')
        body = (
            '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1">'
            f"</head><body><h1>{project}</h1>{''.join(links)}</body></html>"
        )
        return body.encode()

    def project_json(self, project: str) -> bytes:
        files: list[dict[str, Any]] = []
        for f in self._project_files(project):
            item: dict[str, Any] = {
                "filename": f.filename,
                "url": f"{self.url}/files/{f.filename}",
                "hashes": {"sha256": f.sha256},
                "yanked": f.yanked,
                "size": f.path.stat().st_size,
            }
            if f.upload_time is not None:
                item["upload-time"] = f.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if f.metadata is not None:
                item["core-metadata"] = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
            if f.pep740:
                item["provenance"] = f.provenance_url
            if f.requires_python:
                item["requires-python"] = f.requires_python
            files.append(item)
        doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files, "versions": []}
        return json.dumps(doc).encode()

    def root_html(self) -> bytes:
        projects = sorted({f.project for f in self.files.values()})
        links = "".join(f'<a href="/simple/{p}/">{p}</a><br/>' for p in projects)
        return f"<!DOCTYPE html><html><body>{links}</body></html>".encode()


def _make_handler(index: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "text/html") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with index._lock:
                index.requests.append(path)
            raw = index.raw.get(path)
            if raw is not None:
                self._send_raw(raw)
                return
            if index.status_override is not None:
                self._send(index.status_override, b"unavailable", "text/plain")
                return
            document = index.documents.get(path)
            if isinstance(document, int):
                self._send(document, b"unavailable", "text/plain")
                return
            if document is not None:
                self._send(200, document, "application/json")
                return
            parts = [p for p in path.split("/") if p]
            if parts == ["simple"]:
                self._send(200, index.root_html())
                return
            if len(parts) == 2 and parts[0] == "simple":
                project = normalise(parts[1])
                if not index._project_files(project):
                    self._send(404, b"not found", "text/plain")
                elif index.json_api and JSON_TYPE in (self.headers.get("Accept") or ""):
                    self._send(200, index.project_json(project), JSON_TYPE)
                else:
                    self._send(200, index.project_html(project))
                return
            if len(parts) == 2 and parts[0] == "files":
                self._serve_file(parts[1])
                return
            self._send(404, b"not found", "text/plain")

        def _send_raw(self, raw: Raw) -> None:
            self.send_response(raw.status)
            for key, value in raw.headers.items():
                self.send_header(key, value)
            if raw.length is None:
                self.send_header("Content-Length", str(len(raw.body)))
            elif raw.length >= 0:
                self.send_header("Content-Length", str(raw.length))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                for start in range(0, len(raw.body), raw.piece):
                    if raw.delay:
                        time.sleep(raw.delay)
                    self.wfile.write(raw.body[start : start + raw.piece])
                    self.wfile.flush()
            except OSError:
                pass  # the client gave up (a deadline test): nothing to do
            if raw.length is not None:
                self.close_connection = True

        def _serve_file(self, name: str) -> None:
            entry = index.files.get(name)
            if entry is not None:
                with index._lock:
                    entry.downloads += 1
                    tampered = entry.downloads > entry.tamper_from
                if tampered and entry.fail_status is not None:
                    self._send(entry.fail_status, b"unavailable", "text/plain")
                    return
                if tampered and entry.serve_bytes is not None:
                    self._send(200, entry.serve_bytes, "application/octet-stream")
                    return
                size = entry.path.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if self.command != "HEAD":
                    with entry.path.open("rb") as fh:
                        shutil.copyfileobj(fh, self.wfile, 1 << 20)
                return
            for base in index.files.values():
                if name == base.filename + ".metadata" and base.metadata is not None:
                    served = base.metadata_served or base.metadata
                    self._send(200, served, "application/octet-stream")
                    return
                if name.startswith(base.filename + "."):
                    sidecar = name[len(base.filename) + 1 :]
                    if sidecar in base.sidecars:
                        self._send(200, base.sidecars[sidecar], "application/octet-stream")
                        return
            self._send(404, b"not found", "text/plain")

    return Handler
