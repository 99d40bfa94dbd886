"""Audit an environment: distributions, RECORD integrity, names, models, policy.

Produces an :class:`AuditResult`: one report :class:`~safe_pip.report.model.Subject`
per distribution (its RECORD, name and metadata findings), per unowned start-up
hook and per model file (scanner findings, attributed to the distribution that
ships it), each decided by ``safe_pip.decide`` so exceptions and severities work
as they do at install.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.decide import decide
from safe_pip.inventory import record
from safe_pip.inventory.dists import InstalledDist, distributions
from safe_pip.inventory.models import ModelFile, scan_models
from safe_pip.inventory.site import Environment
from safe_pip.models import Artifact, Finding, ScanResult
from safe_pip.report.model import Subject, SubjectKind
from safe_pip.verify.names import name_findings

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy


@dataclass(frozen=True)
class DistAudit:
    dist: InstalledDist
    item: Subject
    files_verified: int


@dataclass(frozen=True)
class ModelAudit:
    model: ModelFile
    owner: InstalledDist | None
    item: Subject
    source: str
    """``site-packages`` or the ``--models`` folder it was found in."""


@dataclass
class AuditResult:
    environment: Environment
    dists: list[DistAudit] = field(default_factory=list)
    models: list[ModelAudit] = field(default_factory=list)
    startup: list[Subject] = field(default_factory=list)
    other_scanned: int = 0

    @property
    def items(self) -> list[Subject]:
        return [d.item for d in self.dists] + self.startup + [m.item for m in self.models]

    @property
    def blocked(self) -> bool:
        return any(not i.allowed for i in self.items)


def _item(
    kind: SubjectKind,
    target: str,
    findings: list[Finding],
    policy: Policy,
    *,
    package: str | None,
    version: str | None,
    sha256: str | None,
    inventory: dict[str, int],
    today: dt.date,
    artifact: Artifact | None = None,
    result: ScanResult | None = None,
    properties: dict[str, str] | None = None,
) -> Subject:
    res = result or ScanResult(target, tuple(findings), (), inventory, sha256=sha256)
    verdict = decide(
        res.findings,
        target=target,
        policy=policy,
        package=package,
        version=version,
        sha256=sha256,
        today=today,
    )
    return Subject(
        kind, target, verdict, scan=res, distribution=artifact, properties=properties or {}
    )


def audit(
    env: Environment,
    policy: Policy,
    *,
    model_dirs: tuple[Path, ...] = (),
    today: dt.date | None = None,
    journal_findings: tuple[Finding, ...] = (),
    intel_db: Path | None = None,
) -> AuditResult:
    """Audit ``env``; ``journal_findings`` (installs the audit log shows unfinished) are
    reported and decided like the environment's own findings. With ``intel_db`` (the
    database ``safe-pip intel sync`` keeps) every distribution is also checked against the
    known-malicious and vulnerability records, as the install gate checks artifacts."""
    today = today or dt.date.today()
    out = AuditResult(env)
    intel = _Intel(intel_db, policy) if intel_db is not None else None
    if intel is not None:
        journal_findings = journal_findings + tuple(intel.stale)

    def lone(kind: SubjectKind, finding: Finding) -> Subject:
        """An item for one finding about a file no distribution stands for."""
        return _item(
            kind,
            finding.location,
            [finding],
            policy,
            package=None,
            version=None,
            sha256=None,
            inventory={},
            today=today,
        )

    for finding in journal_findings:  # the audit log is the file these are about
        out.startup.append(lone("file", finding))
    dists = distributions(env.site_dirs)
    owners = record.owned_paths(dists)
    for dist in dists:
        findings, verified = record.check(dist)
        where = str(dist.metadata_dir)
        findings = name_findings(dist.name, policy.names, location=where) + findings
        if intel is not None:
            findings += intel.findings(dist.name, dist.version, dist.archive_sha256, where)
        sha = dist.archive_sha256 or dist.record_sha256
        artifact = Artifact(dist.name, where, version=dist.version, sha256=sha)
        props = {"hash-source": "archive" if dist.archive_sha256 else "RECORD"}
        if dist.record_sha256:
            props["record-sha256"] = dist.record_sha256
        if dist.installer:
            props["installer"] = dist.installer
        item = _item(
            "distribution",
            f"{dist.name} {dist.version}",
            findings,
            policy,
            package=dist.name,
            version=dist.version,
            sha256=dist.archive_sha256,
            inventory={"files-verified": verified},
            today=today,
            artifact=artifact,
            properties=props,
        )
        out.dists.append(DistAudit(dist, item, verified))
    for site_dir in env.site_dirs:
        for finding in record.unowned_startup(site_dir, owners):
            out.startup.append(lone("startup-hook", finding))
    limits = policy.scan.limits.to_limits()
    roots = [(d, "site-packages") for d in env.site_dirs] + [(d, str(d)) for d in model_dirs]
    seen: set[Path] = set()
    for root, source in roots:
        models, others = scan_models(root, limits)
        out.other_scanned += others
        for model in models:
            if model.path in seen:
                continue
            seen.add(model.path)
            owner = owners.get(model.path)
            result = ScanResult(
                str(model.path),
                model.result.findings,
                model.result.skipped,
                model.result.inventory,
                sha256=model.sha256,
                size=model.size,
            )
            shipper = None
            if owner is not None:
                shipper = Artifact(owner.name, str(owner.metadata_dir), version=owner.version)
            item = _item(
                "model",
                str(model.path),
                list(result.findings),
                policy,
                package=owner.name if owner else None,
                version=owner.version if owner else None,
                sha256=model.sha256,
                inventory=result.inventory,
                today=today,
                result=result,
                artifact=shipper,
                properties={"format": model.format, "found-in": source},
            )
            out.models.append(ModelAudit(model, owner, item, source))
    if intel is not None:
        intel.close()
    return out


class _Intel:
    """The synced OSV data, opened once for the whole audit (read-only)."""

    def __init__(self, path: Path, policy: Policy) -> None:
        from safe_pip.intel.check import freshness
        from safe_pip.intel.store import IntelDB, StoreError

        self.db: IntelDB | None = None
        problem: str | None = None
        status = None
        try:
            self.db = IntelDB(path)
            status = self.db.status()
        except StoreError as exc:
            problem = str(exc)
            if self.db is not None:
                self.db.close()
                self.db = None
        now = dt.datetime.now(dt.timezone.utc)
        self.stale = freshness(status, problem, max_age=policy.intel.max_age, now=now)

    def findings(self, name: str, version: str, sha256: str | None, location: str) -> list[Finding]:
        from safe_pip.intel.check import findings_for

        if self.db is None:
            return []
        return findings_for(self.db, name, version, sha256, location=location)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
