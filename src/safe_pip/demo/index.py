"""A throwaway package index on 127.0.0.1: static PEP 503 pages served from a folder.

``safe-pip demo`` must show the gate against a real index on a machine with no network,
so it writes one: ``simple/<project>/index.html`` pages whose links carry the file's
``#sha256=`` and PEP 658 ``data-core-metadata`` (with the ``.metadata`` file beside the
wheel), and serves the folder with the standard library's HTTP server on a free loopback
port.  Nothing here listens beyond 127.0.0.1.
"""

from __future__ import annotations

import functools
import hashlib
import html
import shutil
import threading
from collections.abc import Iterable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename

from safe_pip.demo.artifacts import wheel_metadata


def write_index(root: Path, wheels: Iterable[Path]) -> None:
    """Lay out ``root`` as a PEP 503 index of ``wheels`` (copied to ``root/files``)."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[str]] = {}
    for wheel in wheels:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        shutil.copyfile(wheel, files / wheel.name)
        metadata = wheel_metadata(wheel)
        (files / f"{wheel.name}.metadata").write_bytes(metadata)
        digest = hashlib.sha256((files / wheel.name).read_bytes()).hexdigest()
        meta = f"sha256={hashlib.sha256(metadata).hexdigest()}"
        href = html.escape(f"../../files/{wheel.name}#sha256={digest}")
        projects.setdefault(project, []).append(
            f'<a href="{href}" data-dist-info-metadata="{meta}" data-core-metadata="{meta}">'
            f"{html.escape(wheel.name)}</a><br/>"
        )
    for name, links in projects.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(_page(name, links), encoding="utf-8")
    root_links = [f'<a href="{name}/">{name}</a><br/>' for name in sorted(projects)]
    (root / "simple" / "index.html").write_text(_page("simple", root_links), encoding="utf-8")


def _page(title: str, links: list[str]) -> str:
    return (
        '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{html.escape(title)}</title></head><body>{''.join(links)}</body></html>\n"
    )


class _Quiet(SimpleHTTPRequestHandler):
    """The standard file handler, without a log line per request on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalIndex:
    """``with LocalIndex(root) as index: index.simple_url`` serves ``root`` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def simple_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/simple/"

    def __enter__(self) -> LocalIndex:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
