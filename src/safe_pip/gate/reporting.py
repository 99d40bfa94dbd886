"""An install gate run as the one report model (``safe_pip.report``).

``safe-pip install`` and ``safe-pip lock`` run the same gate and report it the same way;
this is the one translation from the pipeline's per-artifact records to report subjects, so
the two commands cannot drift (and neither imports the other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.gate.pipeline import InstallResult
    from safe_pip.gate.state import ArtifactRun
    from safe_pip.policy.model import Policy
    from safe_pip.report import Command, Outcome, Report, Subject


def subject(run: ArtifactRun, policy: Policy | None = None) -> Subject:
    """One artifact record as the report model takes it; a blocked one, with the policy,
    also says what to do next (:mod:`safe_pip.next_steps`)."""
    from safe_pip import next_steps
    from safe_pip.models import Artifact
    from safe_pip.report import Subject

    art = run.artifact
    distribution = None
    if art is not None:
        path = str(run.path) if run.path else art.filename
        distribution = Artifact(
            art.name, path, art.version, art.url, run.sha256, run.size, art.requested
        )
    blocking = run.verdict.blocking if run.verdict is not None else tuple(run.findings)
    steps: tuple[str, ...] = ()
    if policy is not None and blocking and not (run.verdict and run.verdict.allowed):
        blocked = next_steps.Blocked(
            blocking,
            art.name if art else None,
            art.version if art else None,
            run.sha256,
            art.index_url if art else None,
        )
        steps = next_steps.lines(blocked, policy)
    return Subject(
        "artifact",
        run.label,
        run.verdict,
        pending=tuple(run.findings),
        next_steps=steps,
        scan=run.scan,
        distribution=distribution,
        cached=run.scan_cached,
        properties={
            k: v for k, v in (("built-from", run.built_from), ("for-build", run.for_build)) if v
        },
    )


#: The pipeline's outcome names where the report's differ.
_OUTCOMES: dict[str, Outcome] = {"allowed": "nothing-to-do"}


def to_report(
    result: InstallResult,
    command: Command = "install",
    outcome: Outcome | None = None,
    notes: tuple[str, ...] = (),
    policy: Policy | None = None,
) -> Report:
    """The run's report; ``lock`` passes its own outcome and notes.  With the policy, each
    blocked artifact says what to do next."""
    from safe_pip.report import EnvironmentInfo, Report, RunInfo

    return Report(
        command=command,
        subjects=tuple(subject(a, policy) for a in result.artifacts),
        outcome=outcome or _OUTCOMES.get(result.outcome, result.outcome),  # type: ignore[arg-type]
        exit_code=result.exit_code,
        error=result.error,
        notes=(*result.notes, *notes),
        environment=EnvironmentInfo(python=str(result.target)),
        run=RunInfo(
            result.dry_run,
            result.policy_digest,
            dict(result.timings),
            installed=tuple(result.installed),
        ),
    )
