"""Index rules: where an artifact came from, whether it was yanked, and how old it is.

The upload time and the yanked mark come from the project page the resolver read
(PEP 691 JSON, PEP 700 ``upload-time``), carried on the artifact. An index that
does not give the time (HTML-only, find-links, ``file://``) leaves the age
*unknown*; under a cooldown (``[install] min_age``) an unknown age is a finding:
the point of a cooldown is that nobody installs a release before the community had
time to look at it, and "we could not tell" does not meet that.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


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
