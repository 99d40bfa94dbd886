"""Audit an environment: distributions, RECORD integrity, names, models, policy.

Produces an :class:`AuditResult` that every output format reads: one
:class:`~safe_pip.report.ReportItem` per distribution (its RECORD, name and
metadata findings), per unowned start-up hook and per model file (scanner
findings, attributed to the distribution that ships it), each decided by
``safe_pip.decide`` so exceptions and severities work as they do at install.
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
from safe_pip.report import ReportItem
from safe_pip.verify.names import name_findings

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy


@dataclass(frozen=True)
class DistAudit:
    dist: InstalledDist
    item: ReportItem
    files_verified: int


@dataclass(frozen=True)
class ModelAudit:
    model: ModelFile
    owner: InstalledDist | None
    item: ReportItem
    source: str
    """``site-packages`` or the ``--models`` folder it was found in."""


@dataclass
class AuditResult:
    environment: Environment
    dists: list[DistAudit] = field(default_factory=list)
    models: list[ModelAudit] = field(default_factory=list)
    startup: list[ReportItem] = field(default_factory=list)
    other_scanned: int = 0

    @property
    def items(self) -> list[ReportItem]:
        return [d.item for d in self.dists] + self.startup + [m.item for m in self.models]

    @property
    def blocked(self) -> bool:
        return any(not i.verdict.allowed for i in self.items)


def _item(
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
) -> ReportItem:
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
    return ReportItem(res, verdict, artifact)


def audit(
    env: Environment,
    policy: Policy,
    *,
    model_dirs: tuple[Path, ...] = (),
    today: dt.date | None = None,
    journal_findings: tuple[Finding, ...] = (),
) -> AuditResult:
    """Audit ``env``; ``journal_findings`` (installs the audit log shows unfinished) are
    reported and decided like the environment's own findings."""
    today = today or dt.date.today()
    out = AuditResult(env)
    for finding in journal_findings:
        out.startup.append(
            _item(
                finding.location,
                [finding],
                policy,
                package=None,
                version=None,
                sha256=None,
                inventory={},
                today=today,
            )
        )
    dists = distributions(env.site_dirs)
    owners = record.owned_paths(dists)
    for dist in dists:
        findings, verified = record.check(dist)
        where = str(dist.metadata_dir)
        findings = name_findings(dist.name, policy.names, location=where) + findings
        artifact = Artifact(dist.name, where, version=dist.version, sha256=dist.archive_sha256)
        item = _item(
            f"{dist.name} {dist.version}",
            findings,
            policy,
            package=dist.name,
            version=dist.version,
            sha256=dist.archive_sha256,
            inventory={"files-verified": verified},
            today=today,
            artifact=artifact,
        )
        out.dists.append(DistAudit(dist, item, verified))
    for site_dir in env.site_dirs:
        for finding in record.unowned_startup(site_dir, owners):
            out.startup.append(
                _item(
                    finding.location,
                    [finding],
                    policy,
                    package=None,
                    version=None,
                    sha256=None,
                    inventory={},
                    today=today,
                )
            )
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
            item = _item(
                str(model.path),
                list(result.findings),
                policy,
                package=owner.name if owner else None,
                version=owner.version if owner else None,
                sha256=model.sha256,
                inventory=result.inventory,
                today=today,
                result=result,
            )
            out.models.append(ModelAudit(model, owner, item, source))
    return out
