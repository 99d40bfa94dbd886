"""The report as a CycloneDX 1.6 JSON BOM: what was looked at, which models, what is wrong.

Built with ``cyclonedx-python-lib`` so the document follows the schema the
library ships (a test validates it).  Mapping from the report model:

- each distribution or install artifact → a ``library`` component with a
  ``pkg:pypi`` purl and its sha256 (for an installed one: the archive's when pip
  recorded it in ``direct_url.json``, else the installed RECORD's, which pins every
  file's hash; property ``safe-pip:hash-source`` says which);
- each model file → a ``machine-learning-model`` component with its sha256,
  ``safe-pip:format``, its path and ``safe-pip:shipped-by`` (the bom-ref of the
  distribution that ships it; that package also ``dependsOn`` it);
- a scanned file or an unowned start-up hook → a ``file`` component;
- each finding → a vulnerability with the rule id, severity, location and how
  to allow it, affecting the component it was found in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from safe_pip import __version__
from safe_pip.models import Finding, Severity
from safe_pip.report.json import subject_sha256, subject_size
from safe_pip.report.model import Report, Subject
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


def _metadata(report: Report) -> BomMetaData:
    env = report.environment
    if env is None:
        return BomMetaData()
    return BomMetaData(
        component=Component(
            name=env.description or env.python or "environment",
            type=ComponentType.PLATFORM,
            bom_ref="environment",
            version=env.python_version,
            properties=_props(
                [("site-packages", d) for d in env.site_packages]
                + [("tool", f"safe-pip {__version__}")]
            ),
        )
    )


def _component(s: Subject, ref: str, owner: str | None) -> Component:
    sha = subject_sha256(s)
    hashes = [_sha256(sha)] if sha else None
    size = subject_size(s)
    decision = ("decision", str(s.decision))
    dist = s.distribution
    if s.kind in ("distribution", "artifact") and dist is not None:
        purl = PackageURL(type="pypi", name=canonicalize_name(dist.name), version=dist.version)
        verified = s.scan.inventory.get("files-verified") if s.scan else None
        return Component(
            name=dist.name,
            version=dist.version or None,
            type=ComponentType.LIBRARY,
            bom_ref=ref,
            purl=purl,
            hashes=hashes,
            properties=_props(
                [
                    ("hash-source", s.properties.get("hash-source")),
                    ("record-sha256", s.properties.get("record-sha256")),
                    ("metadata-dir" if s.kind == "distribution" else "path", dist.path),
                    ("files-verified", None if verified is None else str(verified)),
                    ("installer", s.properties.get("installer")),
                    decision,
                ]
            ),
        )
    name = s.target.split("!", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if s.kind == "model":
        return Component(
            name=name,
            type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=ref,
            hashes=hashes,
            properties=_props(
                [
                    ("format", s.properties.get("format")),
                    ("path", s.target),
                    ("size", None if size is None else str(size)),
                    ("shipped-by", owner),
                    ("found-in", s.properties.get("found-in")),
                    decision,
                ]
            ),
        )
    return Component(
        name=name,
        type=ComponentType.FILE,
        bom_ref=ref,
        hashes=hashes,
        properties=_props([("path", s.target), decision]),
    )


def _ref(s: Subject) -> str:
    dist = s.distribution
    if s.kind in ("distribution", "artifact") and dist is not None:
        return str(PackageURL(type="pypi", name=canonicalize_name(dist.name), version=dist.version))
    return f"{'model' if s.kind == 'model' else 'file'}:{s.target}"


def build(report: Report) -> Bom:
    bom = Bom(serial_number=uuid.uuid4())
    bom.metadata = _metadata(report)
    used: set[str] = set()

    def unique(ref: str) -> str:
        base, n = ref, 1
        while ref in used:
            n += 1
            ref = f"{base}#{n}"
        used.add(ref)
        return ref

    refs = [unique(_ref(s)) for s in report.subjects]
    # A model's owner is the distribution subject with the same .dist-info folder.
    dist_refs = {
        s.distribution.path: ref
        for s, ref in zip(report.subjects, refs, strict=True)
        if s.kind == "distribution" and s.distribution is not None
    }
    children: dict[str, list[str]] = {}
    for s, ref in zip(report.subjects, refs, strict=True):
        owner = None
        if s.kind == "model" and s.distribution is not None:
            owner = dist_refs.get(s.distribution.path)
            if owner is not None:
                children.setdefault(owner, []).append(ref)
        bom.components.add(_component(s, ref, owner))
    by_ref = {c.bom_ref.value: c for c in bom.components}
    root = bom.metadata.component
    if root is not None:
        bom.register_dependency(root, [by_ref[r] for r in dist_refs.values()])
    for parent, kids in children.items():
        bom.register_dependency(by_ref[parent], [by_ref[k] for k in kids])
    n = 0
    for s, ref in zip(report.subjects, refs, strict=True):
        for blocking, findings in ((True, s.blocking), (False, s.warnings)):
            for finding in findings:
                n += 1
                bom.vulnerabilities.add(_vulnerability(finding, blocking, ref, n))
    return bom


_OSV = VulnerabilitySource(name="OSV")


def _vulnerability(f: Finding, blocking: bool, ref: str, n: int) -> Vulnerability:
    """One finding as a BOM vulnerability; an OSV advisory keeps its own id, aliases and
    score, so a BOM consumer can match it against other tools' reports."""
    rule = get_rule(f.rule_id)
    advisory = f.detail.get("id") if f.rule_id.startswith("INTEL-") else None
    rating = VulnerabilityRating(severity=_SEVERITY[f.severity])
    references: list[VulnerabilityReference] = []
    recommendation = rule.how_to_allow if rule else None
    if isinstance(advisory, str):
        score = f.detail.get("score")
        if isinstance(score, (int, float)):
            rating = VulnerabilityRating(
                source=_OSV, score=Decimal(str(score)), severity=_SEVERITY[f.severity]
            )
        aliases = [a for a in f.detail.get("aliases", ()) if isinstance(a, str)]
        references = [VulnerabilityReference(id=a, source=_OSV) for a in aliases]
        fixed = f.detail.get("fixed_versions") or []
        if fixed:
            recommendation = f"Upgrade to {fixed[0]} or later."
    return Vulnerability(
        bom_ref=f"finding-{n}",
        id=advisory if isinstance(advisory, str) else f.rule_id,
        source=_OSV if isinstance(advisory, str) else VulnerabilitySource(name="safe-pip"),
        references=references,
        description=f.message,
        detail=f"at {f.location}",
        recommendation=recommendation,
        ratings=[rating],
        affects=[BomTarget(ref=ref)],
        properties=_props(
            [
                ("blocking", "true" if blocking else "false"),
                ("title", rule.title if rule else None),
                ("rule", f.rule_id),
            ]
        ),
    )


def render(report: Report, *, colour: bool = False) -> str:
    del colour  # a BOM never carries colour
    return JsonV1Dot6(build(report)).output_as_string(indent=2) + "\n"
