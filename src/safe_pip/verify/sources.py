"""Where the install gate finds an artifact's signatures, before any is verified.

Sources, in order (docs/signatures.md, "How the gate finds signatures"):

1. The index's PEP 691 JSON entry for the file. If it has a ``provenance`` key
   (PEP 740), the index has spoken: a URL is fetched and *must* be readable, a
   ``null`` means "none" and nothing else is probed.
2. Otherwise the Integrity API path derived from the index base
   (``<root>/integrity/<project>/<version>/<file>/provenance``), then the sidecars
   ``<file url>`` + each of :data:`SIDECARS`. A 404/410 means absent; any other failure
   blocks, so an index that errors cannot make a bad signature look like a missing one.
3. For ``file://`` and find-links folders, the same sidecar names next to the file.

This module only finds and fetches; :func:`safe_pip.verify.verify_artifact_signatures`
decides what the signatures prove, and what their absence means.  It never imports the
gate: the gate's client comes in as ``fetcher`` (anything with :class:`Fetcher`'s shape) and
its failures are :class:`~safe_pip.errors.FetchError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from safe_pip.errors import FetchError

SidecarKind = Literal["provenance", "attestation", "bundle"]

#: The one list of signature files looked for next to an artifact (find-links, ``file://``,
#: indexes that do not state PEP 740 provenance in their JSON API, ``safe-pip verify``),
#: each with the kind of signature its name means.
SIDECARS: tuple[tuple[str, SidecarKind], ...] = (
    (".provenance", "provenance"),
    (".publish.attestation", "attestation"),
    (".slsa.attestation", "attestation"),
    (".sigstore", "bundle"),
    (".sigstore.json", "bundle"),
)
SIDECAR_SUFFIXES = tuple(suffix for suffix, _ in SIDECARS)
#: HTTP answers that mean "no such signature file"; any other failure blocks (fail closed).
ABSENT_STATUSES = frozenset({404, 410})
#: Answers to a PEP 691 JSON request that mean "no JSON API or no such project here".
NO_JSON_STATUSES = frozenset({404, 406, 410})


class Fetcher(Protocol):
    """What signature discovery needs from the gate's fetcher (verify may not import gate)."""

    def get(self, url: str, *, accept: str | None = None) -> bytes: ...


def sidecar_kind(name: str) -> SidecarKind | None:
    """What a signature file's name says it holds, or ``None`` for any other name."""
    return next((kind for suffix, kind in SIDECARS if name.endswith(suffix)), None)


@dataclass
class Signatures:
    """What was found for one artifact: index provenance, sidecar files, unreadable sources."""

    provenance: bytes | None = None
    sidecars: list[Path] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """``(source, why)`` for each signature source that exists but could not be read."""


def pep740_entry(
    filename: str, sha256: str | None, page_docs: Sequence[tuple[str, Any, str | None]]
) -> tuple[str, Any] | None:
    """``(page, value of "provenance")`` for this file, or None if no page states one.

    An entry with a different sha256 is another file of the same name (another
    index) and says nothing about this one.
    """
    for page, doc, _ in page_docs:
        files = doc.get("files") if isinstance(doc, dict) else None
        for entry in files if isinstance(files, list) else ():
            if not isinstance(entry, dict) or entry.get("filename") != filename:
                continue
            hashes = entry.get("hashes")
            listed = hashes.get("sha256") if isinstance(hashes, dict) else None
            if isinstance(listed, str) and sha256 and listed.lower() != sha256:
                continue
            if "provenance" in entry:
                return page, entry["provenance"]
    return None


def integrity_urls(
    page_urls: Sequence[str], project: str, version: str, filename: str
) -> list[str]:
    """The PEP 740 Integrity API URL next to each ``…/simple/<project>/`` page.

    The API lives beside the simple index (``<root>/simple/`` → ``<root>/integrity/``);
    an index without it answers 404, which counts as "no provenance".
    """
    from urllib.parse import quote

    out: list[str] = []
    for page in page_urls:
        root, sep, _ = page.rpartition("/simple/")
        if sep:
            out.append(
                f"{root}/integrity/{quote(project)}/{quote(version)}/{quote(filename)}/provenance"
            )
    return list(dict.fromkeys(out))


def probe_urls(
    url: str, filename: str, page_urls: Sequence[str], project: str, version: str
) -> list[str]:
    """Every URL :func:`remote_signatures` may ask for a file no page states provenance
    for: the Integrity API beside each page, then each sidecar (the gate reads them early,
    into its fetcher's one-read-per-URL cache, while the resolver still works)."""
    base = url.split("#", 1)[0]
    sidecars = [base + suffix for suffix in SIDECAR_SUFFIXES]
    return [*integrity_urls(page_urls, project, version, filename), *sidecars]


def remote_signatures(
    url: str,
    filename: str,
    sha256: str | None,
    page_docs: Sequence[tuple[str, Any, str | None]],
    fetcher: Fetcher,
    scratch: Path,
    *,
    project: str | None = None,
    version: str | None = None,
) -> Signatures:
    """Signatures for an artifact downloaded over HTTP(S); see the module docstring.

    ``page_docs`` holds ``(page URL, parsed PEP 691 JSON or None, fetch error or None)``
    for each index page that may describe the file.
    """
    from urllib.parse import urljoin, urlsplit

    found = Signatures()
    stated = pep740_entry(filename, sha256, page_docs)
    if stated is not None:
        page, value = stated
        if value is None:
            return found
        target = urljoin(page, value) if isinstance(value, str) else ""
        if urlsplit(target).scheme not in ("http", "https"):
            found.unreadable.append((page, f"provenance for {filename} is {value!r}, not a URL"))
            return found
        try:
            found.provenance = fetcher.get(target)
        except FetchError as exc:  # advertised but not served: never read as "unsigned"
            found.unreadable.append((target, str(exc)))
        return found
    # No page stated anything; one that failed might have: fail closed on it.
    found.unreadable += [(page, error) for page, _, error in page_docs if error is not None]
    if project and version:
        for target in integrity_urls([p for p, _, _ in page_docs], project, version, filename):
            try:
                found.provenance = fetcher.get(target)
                break
            except FetchError as exc:
                if http_status(exc) not in ABSENT_STATUSES:
                    found.unreadable.append((target, str(exc)))
    base = url.split("#", 1)[0]
    for suffix in SIDECAR_SUFFIXES:
        if suffix == ".provenance" and found.provenance is not None:
            continue  # the Integrity API already answered
        try:
            raw = fetcher.get(base + suffix)
        except FetchError as exc:
            if http_status(exc) not in ABSENT_STATUSES:
                found.unreadable.append((base + suffix, str(exc)))
            continue
        if suffix == ".provenance":
            found.provenance = raw
            continue
        # The verifier classifies sidecars by name, so keep "<filename><suffix>".
        scratch.mkdir(parents=True, exist_ok=True)
        side = scratch / (filename + suffix)
        side.write_bytes(raw)
        found.sidecars.append(side)
    return found


def local_sidecars(url: str) -> Signatures:
    """Sidecar files next to a ``file://`` artifact (find-links folders, direct paths)."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import url2pathname

    found = Signatures()
    source = Path(url2pathname(unquote(urlsplit(url.split("#", 1)[0]).path)))
    for suffix in SIDECAR_SUFFIXES:
        side = source.with_name(source.name + suffix)
        if side.is_file():
            found.sidecars.append(side)
        elif os.path.lexists(side):  # a folder, dangling link...: present but unreadable
            found.unreadable.append((str(side), "not a regular file"))
    return found


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind a ``FetchError``, or None for connection-level failures."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None
