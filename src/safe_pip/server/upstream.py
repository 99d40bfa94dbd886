"""What the upstream indexes offer for one project, judged the way the gate judges a page.

Pages are read with the gate's own finder and bounded fetcher (size caps, deadlines, one read
per page and request; a malformed page or an index that is down raises
:class:`~safe_pip.errors.FetchError`, 404/410 means "not on this index"), and each file gets
the findings that depend on the *page* rather than on the bytes:

* index priority, exactly the resolver's rule: a project on more than one upstream whose
  file is not offered identically (same name, same sha256) by every upstream that lists the
  project is ``INDEX-CONFUSION``, unless the policy pins the project to one index with
  ``[[package]] index`` -- then only that upstream is read for it;
* the index allowlist, yanked marks and the minimum age (``INDEX-*``), from the page;
* the project's name against the deny list and the typosquat rule (a server cannot tell a
  direct request from a dependency, so a look-alike name blocks as if asked for directly);
* source distributions the policy does not allow (building one runs its code on the client).

Those findings are recomputed from a fresh read on every page request; the findings about the
bytes are stored once per file (:mod:`safe_pip.server.vetting`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from packaging.utils import canonicalize_name

from safe_pip.gate import build
from safe_pip.gate.fetch import Fetcher, redact
from safe_pip.gate.finder import JSON_TYPE, Finder, Offer, ProjectOffers, sources_of
from safe_pip.gate.provider import Cand, source_matches
from safe_pip.gate.resolve import ResolvedArtifact, confusion_finding, index_pins
from safe_pip.gate.state import ArtifactRun
from safe_pip.models import Finding
from safe_pip.verify.index import artifact_findings
from safe_pip.verify.names import name_findings

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

PAGE_RULE_PREFIX = "INDEX-"
"""Rule ids derived from the index page (recomputed per request, never stored with bytes)."""


@dataclass(frozen=True)
class UpstreamFile:
    """One file a project page may list, as the chosen upstream offers it."""

    artifact: ResolvedArtifact
    offer: Offer
    page_findings: tuple[Finding, ...]
    size: int | None = None
    provenance_url: str | None = None
    """Absolute URL of the upstream's PEP 740 provenance for the file (JSON pages only)."""

    @property
    def sha256(self) -> str | None:
        return self.artifact.advertised_sha256

    @property
    def filename(self) -> str:
        return self.artifact.filename


@dataclass(frozen=True)
class ProjectListing:
    """Every file the upstreams offer for a project (blocked ones included, for the caller)."""

    name: str
    files: tuple[UpstreamFile, ...] = field(default_factory=tuple)


def read_project(
    name: str,
    *,
    upstreams: Sequence[str],
    policy: Policy,
    fetcher: Fetcher,
    now: dt.datetime | None = None,
) -> ProjectListing:
    """Read ``name`` from every upstream (primary first) and judge each file's page facts."""
    now = now or dt.datetime.now(dt.timezone.utc)
    key = canonicalize_name(name)
    sources = sources_of(upstreams[0], upstreams[1:], (), no_index=False)
    pin = index_pins(policy.packages).get(key)
    if pin is not None:
        sources = tuple(s for s in sources if source_matches(s.url, pin))
    finder = Finder(fetcher, sources)
    project = finder.offers(key)
    extras = {s.url: _json_extras(fetcher, s.project_page(key)) for s in project.sources}
    chosen: dict[str, Offer] = {}
    for offer in sorted(project.offers, key=lambda o: o.source.rank):
        chosen.setdefault(offer.filename, offer)
    files = []
    for offer in chosen.values():
        artifact = _artifact(offer, project)
        findings = list(artifact.findings)
        findings += artifact_findings(artifact, policy=policy, now=now, location=offer.filename)
        findings += name_findings(key, policy.names, location=offer.filename, requested=True)
        run = ArtifactRun(artifact=artifact, label=offer.filename)
        build.refuse_sdists([run], policy)
        findings += run.findings
        size, provenance = extras.get(offer.source.url, {}).get(offer.filename, (None, None))
        files.append(
            UpstreamFile(
                artifact=artifact,
                offer=offer,
                page_findings=tuple(dict.fromkeys(findings)),
                size=size,
                provenance_url=provenance,
            )
        )
    files.sort(key=lambda f: f.filename)
    return ProjectListing(key, tuple(files))


def _artifact(offer: Offer, project: ProjectOffers) -> ResolvedArtifact:
    cand = Cand(offer.name, offer.version, "index", offers=(offer,), kind=offer.kind)
    confusion = confusion_finding(cand, project, pinned=False)
    upload = offer.upload_time
    return ResolvedArtifact(
        name=offer.name,
        version=str(offer.version),
        filename=offer.filename,
        url=offer.url,
        kind="wheel" if offer.kind == "wheel" else "sdist",
        index_url=redact(offer.source.url),
        hashes=dict(offer.hashes),
        yanked=offer.yanked,
        upload_time=upload if isinstance(upload, dt.datetime) else None,
        requires_python=offer.requires_python,
        page_url=redact(offer.page_url),
        offered_by=tuple(
            redact(o.source.url)
            for o in project.offers
            if o.filename == offer.filename and o.sha256 == offer.sha256
        ),
        findings=(confusion,) if confusion is not None else (),
    )


def _json_extras(fetcher: Fetcher, page_url: str) -> dict[str, tuple[int | None, str | None]]:
    """``filename -> (size, provenance URL)`` from a PEP 691 page already in the page cache.

    HTML pages state neither; a page the finder could read is in the fetcher's cache, so this
    costs no request.
    """
    try:
        page = fetcher.page(page_url)
    except Exception:  # the finder already judged this page; extras are optional facts
        return {}
    if not page.content_type.lower().startswith(JSON_TYPE):
        return {}
    try:
        doc = json.loads(page.content)
    except ValueError:
        return {}
    out: dict[str, tuple[int | None, str | None]] = {}
    for entry in doc.get("files", []) if isinstance(doc, dict) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        size = entry.get("size")
        prov = entry.get("provenance")
        out[entry["filename"]] = (
            size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
            urljoin(page.final_url, prov) if isinstance(prov, str) and prov else None,
        )
    return out


def is_page_finding(finding: Finding | dict[str, object]) -> bool:
    """Whether a finding comes from the index page (recomputed) rather than the bytes."""
    rule = finding.rule_id if isinstance(finding, Finding) else str(finding.get("rule_id"))
    return rule.startswith(PAGE_RULE_PREFIX)


__all__ = ["ProjectListing", "UpstreamFile", "is_page_finding", "read_project"]
