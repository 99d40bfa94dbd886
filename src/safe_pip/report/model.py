"""The one report model every command renders: scan, install, verify and audit.

Why one model: a CI job that reads ``safe-pip scan --format json`` must be able to read
``safe-pip install --format json`` and ``safe-pip audit --format json`` with the same code,
and a SARIF or CycloneDX consumer must see the same findings the text report shows.  So each
command builds one :class:`Report`, and the renderers (``text``, ``json``, ``sarif``,
``cyclonedx`` in :mod:`safe_pip.report`) only read it; none of them decides anything.  The
JSON rendering is described by the committed JSON Schema ``report/schema.json`` (one
``schema_version`` for every command; a test validates every command's output against it).

A report is a list of :class:`Subject` — one thing that was judged: a scanned file, an
artifact the install gate fetched, an installed distribution, a model file, a start-up
hook — each with its :class:`~safe_pip.models.Verdict` (made by ``safe_pip.decide`` and
nowhere else), plus what the run as a whole came to (``outcome``, ``exit_code``, ``error``).

How a command builds and prints its report (the install gate does exactly this)::

    from safe_pip.report import EnvironmentInfo, Report, RunInfo, Subject, emit

    subjects = [
        Subject(
            kind="artifact",                  # see SubjectKind
            target=filename,                  # stable: no cache markers, no temp paths
            verdict=verdict,                  # from safe_pip.decide.decide(...); or None if the
            pending=findings,                 #   run stopped first (then ``pending`` holds the
            scan=scan_result,                 #   findings so far; rendered as blocking)
            distribution=Artifact(name, path=quarantine_path, version=..., url=..., sha256=...,
                                  size=..., requested=...),
            cached=from_scan_cache,
        )
        for ... in artifacts
    ]
    report = Report(
        command="install",
        subjects=tuple(subjects),
        outcome="blocked",                    # see Outcome
        exit_code=EXIT_BLOCKED,
        error=None,                           # one line for people when outcome == "error"
        notes=("...",),
        environment=EnvironmentInfo(python=str(python)),
        run=RunInfo(dry_run=False, policy_digest=digest, timings={"resolve": 1.2},
                    installed=("name version", ...)),
    )
    return emit(report, args.format, args.report)  # stdout + --report FILE; returns exit_code

``emit`` is the one place output happens: the report goes to stdout (colour only for text
on a terminal without ``NO_COLOR``), ``--report FILE`` gets the same report in a machine
format — the ``--format`` given, or JSON when that is ``text`` — never with colour codes.
Diagnostics (errors, progress, prompts) go to stderr, never into the report stream; call
:func:`check_report_file` before the work starts so an unwritable ``--report`` fails fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from safe_pip.errors import EXIT_BLOCKED, EXIT_OK
from safe_pip.models import Artifact, Decision, Finding, ScanResult, Verdict

SCHEMA_VERSION = "2"
"""Version of the JSON shape (``schema.json``); bumped on any incompatible change."""

Command = Literal["scan", "install", "verify", "audit", "lock"]

SubjectKind = Literal["file", "artifact", "distribution", "model", "startup-hook"]
"""What a subject is:

``file``          a file or folder given on the command line (``scan``, ``verify``);
``artifact``      a distribution file the install gate resolved and fetched;
``distribution``  an installed distribution (``audit``): its RECORD, name and metadata;
``model``         a model file found in an environment or model folder (``audit``);
``startup-hook``  a start-up hook (``.pth``, ``sitecustomize``) nobody installed (``audit``).
"""

Outcome = Literal[
    "clean",
    "blocked",
    "verified",
    "not-verified",
    "installed",
    "would-install",
    "locked",
    "nothing-to-do",
    "declined",
    "install-failed",
    "interrupted",
    "error",
]
"""What the run came to.  ``clean``/``blocked`` for scan and audit, ``verified``/
``not-verified`` for verify; install adds ``installed``, ``would-install`` (dry run),
``nothing-to-do``, ``declined`` (the user said no), ``install-failed`` (pip failed after it
started: ``run.installed`` says what is in the target now) and ``interrupted``; ``error``
for any command."""


@dataclass(frozen=True)
class SignatureCheck:
    """One signature, attestation or provenance checked for a subject, and what it proved."""

    source: str
    verified: bool
    kind: str | None = None
    """``bundle``, ``provenance``, ``attestation`` or ``model-signature`` when verified."""
    signer: str | None = None
    issuer: str | None = None
    matched: str | None = None
    """The expected identity or publisher it matched (``key`` for a key-signed model)."""
    predicate_type: str | None = None
    reason: str | None = None
    """Why it did not verify: a :class:`~safe_pip.verify.errors.Reason` value."""
    message: str | None = None


@dataclass(frozen=True)
class Subject:
    """One thing that was judged, with its verdict and what was learnt about it."""

    kind: SubjectKind
    target: str
    """Stable name: a path, a distribution filename or ``name version``.  Never carries
    run-specific decoration (cache markers, quarantine paths): SARIF URIs come from it."""
    verdict: Verdict | None
    """``None`` only when the run stopped before deciding; the subject then counts as
    blocked and ``pending`` holds the findings gathered so far."""
    pending: tuple[Finding, ...] = ()
    scan: ScanResult | None = None
    """Size, sha256, content inventory and skipped members, when the subject was scanned
    (or its RECORD checked: ``inventory`` then counts ``files-verified``)."""
    distribution: Artifact | None = None
    """The distribution this subject is (artifact, distribution) or was shipped by (model)."""
    cached: bool = False
    """The scan result came from the scan-result cache (same sha256, scanner and policy)."""
    properties: Mapping[str, str] = field(default_factory=dict)
    """Kind-specific facts, each listed in ``schema.json`` (e.g. a model's ``format``)."""
    signatures: tuple[SignatureCheck, ...] = ()
    next_steps: tuple[str, ...] = ()
    """A blocked subject: what a person can do about it, in order (made by
    :mod:`safe_pip.next_steps`; a step may span lines)."""

    @property
    def allowed(self) -> bool:
        return self.verdict is not None and self.verdict.allowed

    @property
    def decision(self) -> Decision:
        return Decision.ALLOW if self.allowed else Decision.BLOCK

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return self.pending if self.verdict is None else self.verdict.blocking

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return () if self.verdict is None else self.verdict.warnings

    @property
    def would_block(self) -> tuple[Finding, ...]:
        """Pilot mode: what would have blocked this subject (it was allowed)."""
        return () if self.verdict is None else self.verdict.would_block

    @property
    def notes(self) -> tuple[str, ...]:
        if self.verdict is None:
            return ("not decided: the run stopped before this subject's verdict",)
        return self.verdict.notes


@dataclass(frozen=True)
class EnvironmentInfo:
    """The environment a command looked at or installs into (``install``, ``audit``)."""

    description: str | None = None
    python: str | None = None
    python_version: str | None = None
    site_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunInfo:
    """How an install run went, beyond its verdicts."""

    dry_run: bool
    policy_digest: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per stage (``inputs``, ``resolve``, ``fetch``, ``verify``, ``scan``...)."""
    installed: tuple[str, ...] = ()
    """``name version`` of each distribution the run put into the target."""


@dataclass(frozen=True)
class Report:
    """Everything one command run has to say; every renderer reads only this."""

    command: Command
    subjects: tuple[Subject, ...]
    outcome: Outcome
    exit_code: int
    error: str | None = None
    notes: tuple[str, ...] = ()
    environment: EnvironmentInfo | None = None
    run: RunInfo | None = None
    other_files_scanned: int | None = None
    """``audit``: candidate files scanned that held no model (counted, not listed)."""

    @property
    def blocked(self) -> int:
        return sum(1 for s in self.subjects if not s.allowed)

    @property
    def decision(self) -> Decision:
        return Decision.BLOCK if self.blocked else Decision.ALLOW

    @property
    def would_block(self) -> int:
        """Pilot mode: subjects allowed only because nothing is blocked."""
        return sum(1 for s in self.subjects if s.would_block)

    @classmethod
    def judged(cls, command: Command, subjects: tuple[Subject, ...], **extra: Any) -> Report:
        """A report whose outcome follows from its verdicts alone (scan, verify, audit):
        exit 1 when any subject is blocked, else 0."""
        blocked = any(not s.allowed for s in subjects)
        if command == "verify":
            outcome: Outcome = "not-verified" if blocked else "verified"
        else:
            outcome = "blocked" if blocked else "clean"
        return cls(
            command,
            subjects,
            outcome,
            EXIT_BLOCKED if blocked else EXIT_OK,
            **extra,
        )
