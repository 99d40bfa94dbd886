"""The few data types every stage shares.

Data flows one way through safe-pip: an :class:`Artifact` goes in, scanners and
verifiers emit :class:`Finding` objects, and ``decide`` turns them into one
:class:`Verdict` per artifact.  Keeping these types small, frozen and free of
behaviour lets each stage be tested on its own and lets reports serialise them
without knowing where they came from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; the policy decides which severities block.

    Ordered so that ``max()`` over findings gives the worst one.
    """

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One thing a scanner or verifier found, explained for a person.

    ``location`` is the full path through nested containers, e.g.
    ``pkg-1.0-py3-none-any.whl!pkg/model.pt!archive/data.pkl@1234``, so a
    reader can find the exact bytes without rerunning the scan.
    """

    rule_id: str
    severity: Severity
    message: str
    location: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "message": self.message,
            "location": self.location,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class Skipped:
    """A member the scanner did not (fully) inspect, and why.

    Reported instead of hidden: "no issues found" must never mean
    "nothing was looked at".
    """

    location: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "reason": self.reason}


@dataclass(frozen=True)
class Artifact:
    """One distribution file (or a local file given to ``scan``)."""

    name: str
    path: str
    version: str | None = None
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    requested: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass(frozen=True)
class ScanResult:
    """Everything the scanner learnt about one artifact.

    ``inventory`` maps each detected content format (``pickle``, ``zip``,
    ``torch-zip``, ``numpy``...) to how many members had it, so a report can
    say what was actually inspected.
    """

    target: str
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    inventory: dict[str, int]
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class AppliedException:
    """A policy exception that turned a blocking finding into an allowed one."""

    rule_id: str
    location: str
    reason: str
    expires: str


class Decision(enum.Enum):
    ALLOW = "allow"
    BLOCK = "block"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Verdict:
    """The decision for one artifact, with the findings that caused it."""

    target: str
    decision: Decision
    blocking: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    excepted: tuple[AppliedException, ...] = ()
    notes: tuple[str, ...] = ()
    would_block: tuple[Finding, ...] = ()
    """Pilot mode (``[enforcement] mode = "pilot"``): the findings that would have blocked.
    The decision is then ALLOW; reports and the audit log still name these."""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


@dataclass(frozen=True)
class TargetEnvironment:
    """The environment an artifact will be installed into, as the scanner must see it.

    Shadowing and start-up rules are computed against it (who owns a file, a package or a
    command already), and Python source is judged by the grammar of the interpreter that will
    import it. ``scan`` without a target uses a shipped description of common environments.
    """

    python_version: tuple[int, int]
    owned_paths: Mapping[str, str] = field(default_factory=dict)
    """site-packages-relative path ('/'-separated) or top-level name -> owning distribution."""
    scripts: Mapping[str, str] = field(default_factory=dict)
    """Command in the environment's scripts folder -> owning distribution."""
    path_commands: frozenset[str] = frozenset()
    """Commands on the target's PATH outside the environment."""
    python_executable: str | None = None
    """The target interpreter, when it can be run: a source file our interpreter cannot parse
    is compiled (never run) there, to learn whether the importing Python would accept it."""
