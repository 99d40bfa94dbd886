"""Index rules: where an artifact came from, whether it was yanked, and how old it is.

The upload time comes from the index's PEP 691 JSON project page (PEP 700
``upload-time``), fetched with the same connection settings as the download.
An index that does not give it (HTML-only, find-links, ``file://``) leaves the
age *unknown*; under a cooldown (``[install] min_age``) an unknown age is a
finding: the point of a cooldown is that nobody installs a release before the
community had time to look at it, and "we could not tell" does not meet that.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy
    from safe_pip.resolve import Resolved

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class FileInfo:
    """What the index's JSON page says about one file."""

    upload_time: dt.datetime | None
    yanked: bool
    yanked_reason: str
    sha256: str | None
    source: str
    """The page the information came from, or why there is none."""


def parse_upload_time(text: str) -> dt.datetime | None:
    """Parse PEP 700's ISO 8601 ``upload-time`` (``Z`` suffix allowed)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def file_info_from_page(raw: bytes, filename: str, page: str) -> FileInfo:
    """Find ``filename`` in a PEP 691 JSON page; unknown fields stay ``None``."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return FileInfo(None, False, "", None, f"{page} is not PEP 691 JSON")
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        return FileInfo(None, False, "", None, f"{page} has no files list")
    for entry in files:
        if not isinstance(entry, dict) or entry.get("filename") != filename:
            continue
        upload = entry.get("upload-time")
        yanked = entry.get("yanked", False)
        hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
        return FileInfo(
            upload_time=parse_upload_time(upload) if isinstance(upload, str) else None,
            yanked=bool(yanked),
            yanked_reason=yanked if isinstance(yanked, str) else "",
            sha256=str(hashes.get("sha256")).lower() if hashes and hashes.get("sha256") else None,
            source=page,
        )
    return FileInfo(None, False, "", None, f"{filename} is not listed on {page}")


def candidate_pages(item: Resolved, index_urls: tuple[str, ...]) -> list[str]:
    """Pages that may describe ``item``: the one pip used first, then each index's."""
    pages: list[str] = []
    if item.page_url and item.page_url.startswith(("http:", "https:")):
        pages.append(item.page_url)
    for index in index_urls:
        if index.startswith(("http:", "https:")):
            page = index.rstrip("/") + f"/{item.name}/"
            if page not in pages:
                pages.append(page)
    return pages


def lookup_file_info(
    item: Resolved,
    index_urls: tuple[str, ...],
    get: Callable[[str, str], bytes],
) -> FileInfo:
    """Ask the index pages for ``item``'s upload time; errors give an unknown age."""
    if item.is_local_file:
        return FileInfo(None, False, "", None, "local file: no index upload time")
    reasons: list[str] = []
    for page in candidate_pages(item, index_urls):
        try:
            raw = get(page, JSON_ACCEPT)
        except Exception as exc:  # any failure means "unknown", which fails closed
            reasons.append(f"{page}: {exc}")
            continue
        info = file_info_from_page(raw, item.filename, page)
        if info.upload_time is not None or info.yanked:
            return info
        reasons.append(info.source)
    return FileInfo(None, False, "", None, "; ".join(reasons) or "no index page known")


class IndexedArtifact(Protocol):
    """What the index checks read of a resolved artifact (``gate.resolve.ResolvedArtifact``;
    verify may not import the gate, so the shape is stated here)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def page_url(self) -> str | None: ...
    @property
    def yanked(self) -> str | None: ...
    @property
    def upload_time(self) -> dt.datetime | None: ...


def artifact_findings(
    artifact: IndexedArtifact, *, policy: Policy, now: dt.datetime, location: str
) -> list[Finding]:
    """Allowlist, yanked and cooldown findings from what the resolver read on the page.

    The resolver read each project page once; its yanked mark and PEP 700 upload time are
    carried on the artifact, so these checks hold for every pip version and cost no request.
    """
    if artifact.upload_time is not None:
        age_source = artifact.page_url or artifact.url
    elif artifact.page_url:
        age_source = f"{artifact.page_url} states no upload time (PEP 700 needs PEP 691 JSON)"
    else:
        age_source = "not listed on an index page"
    return _findings(
        artifact.name,
        artifact.version,
        artifact.url,
        artifact.page_url,
        artifact.yanked,
        artifact.upload_time,
        age_source,
        policy=policy,
        now=now,
        location=location,
    )


def index_findings(
    item: Resolved,
    *,
    policy: Policy,
    info: FileInfo | None,
    now: dt.datetime,
    location: str,
) -> list[Finding]:
    """Allowlist, yanked and cooldown findings for one item of pip's report."""
    yanked = item.is_yanked or (info is not None and info.yanked)
    return _findings(
        item.display_name or item.name,
        item.version,
        item.url,
        item.page_url,
        (info.yanked_reason if info is not None else "") if yanked else None,
        info.upload_time if info is not None else None,
        info.source if info else "not looked up",
        policy=policy,
        now=now,
        location=location,
    )


def _findings(
    name: str,
    version: str,
    url: str,
    page_url: str | None,
    yanked: str | None,
    uploaded: dt.datetime | None,
    age_source: str,
    *,
    policy: Policy,
    now: dt.datetime,
    location: str,
) -> list[Finding]:
    findings: list[Finding] = []
    origin = page_url or url
    if not (policy.index.permits(url) or (page_url and policy.index.permits(origin))):
        findings.append(
            Finding(
                "INDEX-NOT-ALLOWED",
                Severity.HIGH,
                f"{name} {version} comes from {origin}, which is not under any [index] allowed URL",
                location,
                {"url": url, "page": page_url, "allowed": list(policy.index.allowed)},
            )
        )
    if yanked is not None:  # [install] yanked = "warn"/"allow" is applied by safe_pip.decide
        findings.append(
            Finding(
                "INDEX-YANKED",
                Severity.HIGH,
                f"{name} {version} was yanked from its index" + (f": {yanked}" if yanked else ""),
                location,
                {"reason": yanked},
            )
        )
    min_age = policy.install.min_age
    if min_age > dt.timedelta(0):
        if uploaded is None:
            findings.append(
                Finding(
                    "INDEX-AGE-UNKNOWN",
                    Severity.HIGH,
                    f"{name} {version}: the upload time is unknown "
                    f"({age_source}), and [install] min_age "
                    f"requires {min_age} since upload",
                    location,
                    {"min_age_seconds": min_age.total_seconds()},
                )
            )
        else:
            age = now - uploaded
            if age < min_age:
                findings.append(
                    Finding(
                        "INDEX-TOO-NEW",
                        Severity.HIGH,
                        f"{name} {version} was uploaded {uploaded.isoformat()} "
                        f"({_human(age)} ago); [install] min_age requires {_human(min_age)}",
                        location,
                        {
                            "upload_time": uploaded.isoformat(),
                            "min_age_seconds": min_age.total_seconds(),
                        },
                    )
                )
    return findings


def _human(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds // 60} minutes"
