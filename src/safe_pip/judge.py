"""Judge files: scan each one, then decide it — the loop behind ``safe-pip scan``.

Kept out of ``scan/`` so the scanner stays policy-free (it takes bytes and limits and
returns findings), and out of the command so the progress bar (rich, imported only on a
terminal) never touches the logic.  ``decide`` is the only place findings become verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from safe_pip.decide import decide
from safe_pip.policy.model import Policy
from safe_pip.progress import Progress
from safe_pip.report.model import Subject
from safe_pip.scan.core.engine import scan_path


def judge_files(files: Sequence[Path], policy: Policy) -> list[Subject]:
    """One subject per file, each scanned under the policy's limits and decided by it."""
    limits = policy.scan.limits.to_limits()
    subjects: list[Subject] = []
    with Progress(len(files), "scanning") as progress:
        for path in files:
            progress.working_on(path.name)
            result = scan_path(path, limits=limits)
            verdict = decide(result.findings, target=result.target, policy=policy)
            subjects.append(Subject("file", result.target, verdict, scan=result))
            progress.advance()
    return subjects
