"""CycloneDX 1.6 JSON for ``safe-pip audit``: what is installed, which models, what is wrong.

Built with ``cyclonedx-python-lib`` so the document follows the schema the
library ships (a test validates it).  Mapping:

- each installed distribution → a ``library`` component with a ``pkg:pypi``
  purl and a sha256: the archive's, when pip recorded it in
  ``direct_url.json``, else the sha256 of the installed RECORD (which pins
  every file's hash); property ``safe-pip:hash-source`` says which;
- each model file → a ``machine-learning-model`` component with its sha256,
  ``safe-pip:format``, its path and ``safe-pip:shipped-by`` (the bom-ref of
  the distribution whose RECORD lists it; the package also ``dependsOn`` it);
- an unowned start-up hook → a ``file`` component;
- each finding → a vulnerability with the rule id, severity, location and how
  to allow it, affecting the component it was found in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from safe_pip import __version__
from safe_pip.inventory.audit import AuditResult
from safe_pip.models import Finding, Severity
from safe_pip.report import ReportItem
from safe_pip.rules import get_rule

_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.INFO: VulnerabilitySeverity.INFO,
}


def _props(pairs: Iterable[tuple[str, str | None]]) -> list[Property]:
    return [Property(name=f"safe-pip:{k}", value=v) for k, v in pairs if v is not None]


def _sha256(value: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=value)


def build(result: AuditResult) -> Bom:
    bom = Bom(serial_number=uuid.uuid4())
    env = result.environment
    bom.metadata = BomMetaData(
        component=Component(
            name=env.description,
            type=ComponentType.PLATFORM,
            bom_ref="environment",
            version=env.python_version,
            properties=_props(
                [("site-packages", d.as_posix()) for d in env.site_dirs]
                + [("tool", f"safe-pip {__version__}")]
            ),
        )
    )
    refs: dict[int, str] = {}
    used: set[str] = set()

    def unique(ref: str) -> str:
        base, n = ref, 1
        while ref in used:
            n += 1
            ref = f"{base}#{n}"
        used.add(ref)
        return ref

    dist_refs: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    for d in result.dists:
        dist = d.dist
        purl = PackageURL(type="pypi", name=dist.key, version=dist.version or None)
        ref = unique(str(purl))
        dist_refs[str(dist.metadata_dir)] = ref
        refs[id(d.item)] = ref
        sha = dist.archive_sha256 or dist.record_sha256
        bom.components.add(
            Component(
                name=dist.name,
                version=dist.version or None,
                type=ComponentType.LIBRARY,
                bom_ref=ref,
                purl=purl,
                hashes=[_sha256(sha)] if sha else None,
                properties=_props(
                    [
                        ("hash-source", "archive" if dist.archive_sha256 else "RECORD"),
                        ("record-sha256", dist.record_sha256),
                        ("metadata-dir", dist.metadata_dir.as_posix()),
                        ("files-verified", str(d.files_verified)),
                        ("installer", dist.installer),
                        ("decision", str(d.item.verdict.decision)),
                    ]
                ),
            )
        )
    for m in result.models:
        ref = unique(f"model:{m.model.path.as_posix()}")
        refs[id(m.item)] = ref
        owner = dist_refs.get(str(m.owner.metadata_dir)) if m.owner else None
        if owner:
            children.setdefault(owner, []).append(ref)
        bom.components.add(
            Component(
                name=m.model.path.name,
                type=ComponentType.MACHINE_LEARNING_MODEL,
                bom_ref=ref,
                hashes=[_sha256(m.model.sha256)] if m.model.sha256 else None,
                properties=_props(
                    [
                        ("format", m.model.format),
                        ("path", m.model.path.as_posix()),
                        ("size", str(m.model.size)),
                        ("shipped-by", owner),
                        ("found-in", m.source),
                        ("decision", str(m.item.verdict.decision)),
                    ]
                ),
            )
        )
    for item in result.startup:
        ref = unique(f"file:{item.result.target}")
        refs[id(item)] = ref
        bom.components.add(
            Component(
                name=item.result.target.rsplit("/", 1)[-1],
                type=ComponentType.FILE,
                bom_ref=ref,
                properties=_props([("path", item.result.target)]),
            )
        )
    by_ref = {c.bom_ref.value: c for c in bom.components}
    root = bom.metadata.component
    assert root is not None
    bom.register_dependency(root, [by_ref[r] for r in dist_refs.values()])
    for parent, kids in children.items():
        bom.register_dependency(by_ref[parent], [by_ref[k] for k in kids])
    n = 0
    for item in result.items:
        for finding, blocking in _findings(item):
            n += 1
            bom.vulnerabilities.add(_vulnerability(finding, blocking, refs[id(item)], n))
    return bom


def _findings(item: ReportItem) -> list[tuple[Finding, bool]]:
    return [(f, True) for f in item.verdict.blocking] + [(f, False) for f in item.verdict.warnings]


def _vulnerability(f: Finding, blocking: bool, ref: str, n: int) -> Vulnerability:
    rule = get_rule(f.rule_id)
    return Vulnerability(
        bom_ref=f"finding-{n}",
        id=f.rule_id,
        source=VulnerabilitySource(name="safe-pip"),
        description=f.message,
        detail=f"at {f.location}",
        recommendation=rule.how_to_allow if rule else None,
        ratings=[VulnerabilityRating(severity=_SEVERITY[f.severity])],
        affects=[BomTarget(ref=ref)],
        properties=_props(
            [("blocking", "true" if blocking else "false"), ("title", rule.title if rule else None)]
        ),
    )


def render(result: AuditResult) -> str:
    return JsonV1Dot6(build(result)).output_as_string(indent=2) + "\n"
