"""What the stages of one install share: each artifact's state, progress, typed refusals.

Stages read and extend :class:`ArtifactRun` objects in order (fetch sets the quarantined
file, verify and scan add findings, decide sets the verdict), so the pipeline loop stays a
list of calls and every report renders the same record of what happened to each file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from safe_pip.errors import EXIT_BLOCKED, SafePipError
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.models import Finding, ScanResult, Verdict


class StageProgress(Protocol):
    """One stage's progress display (a terminal bar, or nothing)."""

    def advance(self, label: str | None = None) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[int, str], StageProgress]
"""``(total items, verb) -> StageProgress``; the command passes :class:`safe_pip.progress.
Progress`, tests and library callers pass :func:`no_progress`."""


class _NoProgress:
    def advance(self, label: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(total: int, verb: str) -> StageProgress:
    """A progress sink that shows nothing."""
    return _NoProgress()


class StageBlocked(SafePipError):
    """A stage found, before any artifact existed, that the policy refuses this install.

    Carries the findings (``label`` names what they are about), so the run ends as a block
    (exit 1) with a report instead of an error (exit 2).
    """

    exit_code = EXIT_BLOCKED

    def __init__(self, label: str, findings: Sequence[Finding]) -> None:
        super().__init__(f"{label}: " + "; ".join(f.rule_id for f in findings))
        self.label = label
        self.findings = tuple(findings)


@dataclass
class ArtifactRun:
    """Everything learnt about one artifact (or one refused input) on its way through."""

    artifact: ResolvedArtifact | None
    label: str
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    cached_file: bool = False
    findings: list[Finding] = field(default_factory=list)
    scan: ScanResult | None = None
    scan_cached: bool = False
    verdict: Verdict | None = None
    built_from: str | None = None
    """For a wheel built in this run: the local tree or sdist it was built from."""
    for_build: str | None = None
    """Set when the artifact is only needed to build another (a build dependency, an sdist):
    it is vetted like the rest but installed into the build environment, not the target."""

    @property
    def name(self) -> str:
        return self.artifact.name if self.artifact else self.label

    @property
    def version(self) -> str | None:
        return self.artifact.version if self.artifact else None

    @property
    def vetted(self) -> bool:
        """Allowed, and present in quarantine with a digest computed in this run."""
        return (
            self.verdict is not None
            and self.verdict.allowed
            and self.path is not None
            and self.sha256 is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """The artifact as the JSON report and the audit record carry it."""
        art = self.artifact
        verdict = self.verdict
        return {
            "name": art.name if art else self.label,
            "version": art.version if art else None,
            "url": art.url if art else None,
            "filename": art.filename if art else None,
            "requested": art.requested if art else None,
            "sha256": self.sha256,
            "size": self.size,
            "path": str(self.path) if self.path else None,
            "built_from": self.built_from,
            "for_build": self.for_build,
            "verdict": str(verdict.decision) if verdict else "block",
            "findings": [f.to_dict() for f in self.findings],
            "blocking": [f.rule_id for f in verdict.blocking] if verdict else [],
            "would_block": [f.rule_id for f in verdict.would_block] if verdict else [],
            "skipped": [s.to_dict() for s in self.scan.skipped] if self.scan else [],
            "inventory": dict(self.scan.inventory) if self.scan else {},
            "scan_cached": self.scan_cached,
        }
