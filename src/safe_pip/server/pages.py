"""The simple index as clients read it: PEP 503 HTML and PEP 691 JSON, chosen by ``Accept``.

Each listed file carries what its upstream said (``requires-python``, yanked mark and reason,
PEP 700 ``upload-time`` and ``size``) and the sha256 the server vetted or will vet. PEP 658
metadata and PEP 740 provenance are advertised only for files already allowed: for a file not
yet judged, a client must download it (which vets it) before it learns anything from it.

File URLs are relative (``../../files/<sha256>/<filename>``), so the pages are right behind
any reverse proxy or path prefix without the server knowing its public address.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.1"


@dataclass(frozen=True)
class Listed:
    """One file as a project page lists it."""

    filename: str
    sha256: str
    requires_python: str | None
    yanked: str | None
    upload_time: dt.datetime | None
    size: int | None
    metadata_sha256: str | None
    """Set only for allowed files whose wheel has METADATA (PEP 658)."""
    provenance: bool
    """Advertise ``<url>.provenance`` (allowed files whose upstream has PEP 740 provenance)."""

    @property
    def url(self) -> str:
        return f"../../files/{self.sha256}/{self.filename}"


def choose(accept: str, fmt: str | None = None) -> str | None:
    """The media type to answer with (PEP 691 negotiation), or None if none is acceptable."""
    if fmt:
        accept = fmt
    offers = {
        JSON_V1: JSON_V1,
        "application/vnd.pypi.simple.latest+json": JSON_V1,
        HTML_V1: HTML_V1,
        "application/vnd.pypi.simple.latest+html": HTML_V1,
        "text/html": "text/html",
        "*/*": "text/html",
    }
    best: tuple[float, int, str] | None = None
    for pos, part in enumerate(accept.split(",") if accept.strip() else ["*/*"]):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media not in offers or q <= 0:
            continue
        key = (q, -pos, offers[media])
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def project_html(name: str, files: Sequence[Listed]) -> bytes:
    links = []
    for f in files:
        attrs = ""
        if f.requires_python:
            attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
        if f.yanked is not None:
            attrs += f' data-yanked="{html.escape(f.yanked)}"'
        if f.metadata_sha256:
            meta = html.escape(f"sha256={f.metadata_sha256}")
            attrs += f' data-dist-info-metadata="{meta}" data-core-metadata="{meta}"'
        href = html.escape(f"{f.url}#sha256={f.sha256}")
        links.append(f'    <a href="{href}"{attrs}>{html.escape(f.filename)}</a><br/>')
    body = "\n".join(
        [
            "<!DOCTYPE html>",
            "<html>",
            "  <head>",
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
            f"    <title>Links for {html.escape(name)}</title>",
            "  </head>",
            "  <body>",
            f"    <h1>Links for {html.escape(name)}</h1>",
            *links,
            "  </body>",
            "</html>",
            "",
        ]
    )
    return body.encode("utf-8")


def project_json(name: str, files: Sequence[Listed]) -> bytes:
    entries = []
    for f in files:
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": f.url,
            "hashes": {"sha256": f.sha256},
            "yanked": f.yanked if f.yanked else (f.yanked is not None),
        }
        if f.requires_python:
            entry["requires-python"] = f.requires_python
        if f.upload_time is not None:
            stamp = f.upload_time.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            entry["upload-time"] = stamp
        if f.size is not None:
            entry["size"] = f.size
        if f.metadata_sha256:
            entry["core-metadata"] = {"sha256": f.metadata_sha256}
            entry["dist-info-metadata"] = {"sha256": f.metadata_sha256}
        if f.provenance:
            entry["provenance"] = f"{f.url}.provenance"
        entries.append(entry)
    versions = sorted({_version(f.filename) for f in files} - {""})
    doc = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "versions": versions,
        "files": entries,
    }
    return json.dumps(doc).encode("utf-8")


def root_html() -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head>"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">'
        "<title>safe-pip vetting index</title></head><body>\n"
        "<!-- projects are listed on request: /simple/NAME/ -->\n</body></html>\n"
    ).encode()


def root_json() -> bytes:
    return json.dumps({"meta": {"api-version": API_VERSION}, "projects": []}).encode()


def _version(filename: str) -> str:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return ""
