"""Scan several files and decide each one: the loop shared by ``scan`` and ``audit``.

Kept apart from the readers so that the scanner itself stays policy-free, and
from the CLI so that the progress bar (rich, imported only on a terminal) never
touches the logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.progress import Progress
from safe_pip.report import ReportItem
from safe_pip.scan.core.engine import scan_path

if TYPE_CHECKING:
    from safe_pip.policy import Policy


def scan_and_decide(files: Sequence[Path], policy: Policy | None) -> list[ReportItem]:
    from safe_pip.decide import decide

    limits = policy.scan.limits.to_limits() if policy is not None else None
    items: list[ReportItem] = []
    with Progress(len(files), "scanning") as progress:
        for path in files:
            progress.working_on(path.name)
            result = scan_path(path, limits=limits)
            verdict = decide(result.findings, target=result.target, policy=policy)
            items.append(ReportItem(result, verdict))
            progress.advance()
    return items
