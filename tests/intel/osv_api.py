"""A stand-in for the OSV query API on 127.0.0.1, answering from the fixture records.

pip-audit takes ``--osv-url``; pointing it here makes it audit against exactly the records
safe-pip synced, so the two tools can be compared finding for finding. The matching is written
here independently of safe-pip's (explicit ``versions`` first, then each ECOSYSTEM range read
as introduced <= v < fixed), as the OSV API documents it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version


def _affects(affected: Mapping[str, Any], version: str) -> bool:
    if version in affected.get("versions", []):
        return True
    v = Version(version)
    for rng in affected.get("ranges", []):
        if rng.get("type") != "ECOSYSTEM":
            continue
        start: Version | None = None
        open_ = False
        for event in rng["events"]:
            if "introduced" in event:
                start = Version("0") if event["introduced"] == "0" else Version(event["introduced"])
                open_ = True
            elif "fixed" in event and start is not None:
                if start <= v < Version(event["fixed"]):
                    return True
                open_ = False
        if open_ and start is not None and v >= start:
            return True
    return False


def matching(records: Mapping[str, Mapping[str, Any]], name: str, version: str) -> list[Any]:
    out = []
    for doc in records.values():
        for affected in doc.get("affected", []):
            pkg = affected["package"]
            ours = pkg["ecosystem"] == "PyPI" and canonicalize_name(pkg["name"]) == name
            if ours and _affects(affected, version):
                out.append(doc)
                break
    return out


class OsvApi:
    """``POST /v1/query`` with ``{"package": {...}, "version": ...}``, as api.osv.dev takes it."""

    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                query = json.loads(self.rfile.read(length))
                name = canonicalize_name(query["package"]["name"])
                vulns = matching(api.records, name, query["version"])
                body = json.dumps({"vulns": vulns} if vulns else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.records = records
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/query"

    def __enter__(self) -> OsvApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
