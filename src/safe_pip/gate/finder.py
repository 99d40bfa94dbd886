"""Where a project's files are offered: every index page and find-links location, per source.

The resolver asks for a project's files once; this module reads the project's page on every
index (primary and extra, PEP 503 HTML or PEP 691 JSON, HTTP(S) or ``file://``) and every
find-links location (a folder, an HTML page, a file), through the run's one
:class:`~safe_pip.gate.fetch.Fetcher`, so each page is read once and the same bytes serve the
yanked, minimum-age and signature checks later.

It keeps **which source offered which file**: a project offered by more than one source is
the dependency-confusion shape (a higher version on an ``--extra-index-url`` must never win
silently), and the resolver can only judge it if the offers are not merged away.

Page URLs are built here as ``<index>/<canonical name>/``: nothing read from pip's output or
log, so no ``(requires-python:...)`` suffix can ever end up in one.

A page that cannot be read fails closed (:class:`~safe_pip.errors.FetchError`), except HTTP
404/410 on an index, which is an index saying "no such project" (what pip does too).
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from unearth.collector import IndexPage, parse_html_page, parse_json_response
from unearth.link import Link

from safe_pip.errors import FetchError
from safe_pip.gate.fetch import Fetcher, Once, file_url_path
from safe_pip.gate.inputs import ARCHIVE_SUFFIXES

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
#: Answers that mean "this index has no such project" (pip reads them the same way).
NOT_HERE = frozenset({404, 410})
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")


@dataclass(frozen=True)
class Source:
    """An index or a find-links location, in pip's precedence order."""

    url: str
    """As configured (a find-links folder may be a plain path)."""
    kind: str
    """``index`` or ``find-links``."""
    rank: int
    """0 is the primary index; then extra indexes, then find-links, in order."""

    def project_page(self, name: str) -> str:
        return self.url.rstrip("/") + f"/{name}/"


@dataclass(frozen=True)
class Offer:
    """One file as one source lists it (untrusted claims of that source)."""

    name: NormalizedName
    version: Version
    filename: str
    url: str
    source: Source
    page_url: str
    kind: str
    """``wheel`` or ``sdist``."""
    sha256: str | None = None
    hashes: tuple[tuple[str, str], ...] = ()
    yanked: str | None = None
    requires_python: str | None = None
    upload_time: object = None
    """A ``datetime`` when the page says (PEP 700), else None."""
    metadata_hash: tuple[tuple[str, str], ...] | None = None
    """PEP 658: ``()`` when a ``.metadata`` file is offered without a hash, None if none."""
    link: Link | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ProjectOffers:
    """Everything every source offers for one project."""

    name: NormalizedName
    offers: tuple[Offer, ...]

    @property
    def sources(self) -> tuple[Source, ...]:
        """The sources that list at least one file of the project, in precedence order."""
        seen: dict[str, Source] = {}
        for offer in sorted(self.offers, key=lambda o: o.source.rank):
            seen.setdefault(offer.source.url, offer.source)
        return tuple(seen.values())


def sources_of(
    index_url: str | None,
    extra_index_urls: Sequence[str],
    find_links: Sequence[str],
    *,
    no_index: bool,
) -> tuple[Source, ...]:
    """The run's sources in pip's precedence order (the primary index first)."""
    indexes: list[str] = [] if no_index else [u for u in (index_url, *extra_index_urls) if u]
    out = [Source(u, "index", i) for i, u in enumerate(dict.fromkeys(indexes))]
    out += [Source(u, "find-links", len(out) + i) for i, u in enumerate(dict.fromkeys(find_links))]
    return tuple(out)


def pip_filename(url: str) -> str:
    """The file name pip gives ``url`` (its ``Link.filename``): the last segment of the path
    as :func:`urllib.parse.urlsplit` reads it, unquoted. pip decides from this name alone
    whether it holds a wheel (installed as is) or a source archive (built)."""
    path = urlsplit(url.split("#", 1)[0]).path.rstrip("/")
    return unquote(posixpath.basename(path))


class AmbiguousFileName(FetchError):
    """A link whose file name reads differently to pip and to the index reader.

    unearth (like ``urlparse``) drops ``;params`` and everything after an ``@`` from the last
    path segment; pip keeps both. ``x-1.0-py3-none-any.whl;.zip`` is then a wheel to one and
    a zip sdist to the other, whose build backend pip would run. Such a name cannot be judged
    the way every reader will read it, so it is refused, never guessed.
    """


def offer_from_link(link: Link, source: Source, page_url: str) -> Offer | None:
    """An :class:`Offer` for a link whose file name names a project and version, else None.

    Raises :class:`AmbiguousFileName` when pip would name the file otherwise.
    """
    filename = link.filename
    as_pip = pip_filename(link.url_without_fragment)
    if as_pip != filename and any(n.lower().endswith(ARCHIVE_SUFFIXES) for n in (as_pip, filename)):
        raise AmbiguousFileName(
            f"{page_url}: lists {link.url_without_fragment}, whose file name is "
            f"{as_pip!r} to pip but {filename!r} to an index "
            "reader; refusing a file that readers would take for different things"
        )
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            kind = "wheel"
        elif filename.endswith(SDIST_SUFFIXES):
            name, version = _parse_sdist(filename)
            kind = "sdist"
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    hashes: dict[str, str] = {}
    if link.hashes:
        hashes.update({k.lower(): str(v).lower() for k, v in link.hashes.items()})
    elif link.hash_name and link.hash:
        hashes[link.hash_name] = link.hash.lower()
    meta = link.dist_info_metadata
    metadata_hash: tuple[tuple[str, str], ...] | None
    if isinstance(meta, dict):
        metadata_hash = tuple(sorted((k.lower(), str(v).lower()) for k, v in meta.items()))
    else:
        metadata_hash = () if meta else None
    return Offer(
        name=canonicalize_name(name),
        version=version,
        filename=filename,
        url=link.url_without_fragment,
        source=source,
        page_url=page_url,
        kind=kind,
        sha256=hashes.get("sha256"),
        hashes=tuple(sorted(hashes.items())),
        yanked=link.yank_reason,
        requires_python=link.requires_python,
        upload_time=link.upload_time,
        metadata_hash=metadata_hash,
        link=link,
    )


def _parse_sdist(filename: str) -> tuple[NormalizedName, Version]:
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix) and suffix not in (".tar.gz", ".zip"):
            filename = filename[: -len(suffix)] + ".tar.gz"
    return parse_sdist_filename(filename)


def parse_page(content: bytes, content_type: str, url: str) -> list[Link]:
    """The links of a PEP 691 JSON or PEP 503 HTML page; malformed pages raise FetchError."""
    page = IndexPage(Link(url), content, "utf-8", content_type)
    try:
        if content_type.lower().startswith(JSON_TYPE):
            doc = json.loads(content)
            if not isinstance(doc, dict) or not isinstance(doc.get("files", []), list):
                raise ValueError("not a PEP 691 project page")
            if not all(isinstance(f, dict) for f in doc.get("files", [])):
                raise ValueError("a file entry is not an object")
            return list(parse_json_response(page))
        return list(parse_html_page(page))
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise FetchError(f"{url}: malformed index page: {exc}") from exc


class Finder:
    """Reads each project's offers from every source once, in parallel when prefetched."""

    def __init__(self, fetcher: Fetcher, sources: Sequence[Source]) -> None:
        self.fetcher = fetcher
        self.sources = tuple(sources)
        self._projects: Once[str, ProjectOffers] = Once()
        self._links: Once[str, list[Offer]] = Once()

    def offers(self, name: str) -> ProjectOffers:
        """Every source's files for ``name``; the first caller reads, others wait."""
        key = canonicalize_name(name)
        return self._projects.get(key, lambda: self._read_project(key))

    def _read_project(self, name: NormalizedName) -> ProjectOffers:
        found: list[Offer] = []
        for source in self.sources:
            offers = (
                self._index_offers(source, name)
                if source.kind == "index"
                else self._find_links_offers(source)
            )
            found += [o for o in offers if o.name == name]
        return ProjectOffers(name, tuple(found))

    def _index_offers(self, source: Source, name: str) -> list[Offer]:
        page_url = source.project_page(name)
        if page_url.startswith("file:"):
            return self._file_index_offers(source, page_url)
        try:
            page = self.fetcher.page(page_url)
        except FetchError as exc:
            if exc.status in NOT_HERE:
                return []
            raise
        links = parse_page(page.content, page.content_type, page.final_url)
        return [o for o in (offer_from_link(lk, source, page_url) for lk in links) if o]

    def _file_index_offers(self, source: Source, page_url: str) -> list[Offer]:
        folder = file_url_path(page_url)
        if not folder.is_dir():
            return []  # a file:// index without this project
        index_html = folder / "index.html"
        url = index_html.as_uri()
        page = self.fetcher.page(url)
        links = parse_page(page.content, "text/html", url)
        return [o for o in (offer_from_link(lk, source, page_url) for lk in links) if o]

    def _find_links_offers(self, source: Source) -> list[Offer]:
        """All offers of a find-links location (read once for every project)."""
        return self._links.get(source.url, lambda: self._read_find_links(source))

    def _read_find_links(self, source: Source) -> list[Offer]:
        location = source.url
        if location.startswith("file:"):
            path: Path | None = file_url_path(location)
        elif "://" not in location:
            path = Path(os.path.expanduser(location)).absolute()
        else:
            path = None
        if path is None:
            page = self.fetcher.page(location)
            links = parse_page(page.content, page.content_type, page.final_url)
            return [o for o in (offer_from_link(lk, source, location) for lk in links) if o]
        if path.is_dir():
            return self._folder_offers(source, path)
        if path.is_file() and path.suffix.lower() in (".html", ".htm"):
            page = self.fetcher.page(path.as_uri())
            links = parse_page(page.content, "text/html", path.as_uri())
            return [o for o in (offer_from_link(lk, source, location) for lk in links) if o]
        if path.is_file():
            offer = offer_from_link(Link(path.as_uri()), source, location)
            return [offer] if offer else []
        raise FetchError(f"find-links location {location} does not exist")

    def _folder_offers(self, source: Source, folder: Path) -> list[Offer]:
        out: list[Offer] = []
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            raise FetchError(f"cannot list find-links folder {folder}: {exc}") from exc
        for entry in entries:
            if entry.suffix.lower() in (".html", ".htm") and entry.is_file():
                page = self.fetcher.page(entry.as_uri())
                links = parse_page(page.content, "text/html", entry.as_uri())
                out += [o for o in (offer_from_link(lk, source, source.url) for lk in links) if o]
            elif entry.is_file():
                offer = offer_from_link(Link(entry.as_uri()), source, source.url)
                if offer is not None:
                    out.append(offer)
        return out
