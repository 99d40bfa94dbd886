"""Scan several files and decide each one: the loop shared by ``scan`` and ``audit``.

Kept apart from the readers so that the scanner itself stays policy-free, and
from the CLI so that the progress bar (rich, imported only on a terminal) never
touches the logic.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.report import ReportItem
from safe_pip.scan.engine import scan_path

if TYPE_CHECKING:
    from safe_pip.policy import Policy


def load_policy_for(cli_file: Path | None, flags: str | None = None) -> Policy:
    """The effective layered policy (org → user → project → ``--policy`` → flags)."""
    from safe_pip.policy import load_policy

    return load_policy(cli_file, flags=flags)


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar (with a spinner, so one long file shows life too) on a terminal;
    a no-op when output goes to a file or CI log."""
    if total < 1 or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    with Progress(*columns, transient=True) as bar:
        yield (bar, bar.add_task("scanning", total=total))


def scan_and_decide(files: Sequence[Path], policy: Policy | None) -> list[ReportItem]:
    from safe_pip.decide import decide

    limits = policy.scan.limits.to_limits() if policy is not None else None
    items: list[ReportItem] = []
    with _progress(len(files)) as bar:
        for path in files:
            if bar is not None:
                bar[0].update(bar[1], description=f"scanning {path.name[:40]}")
            result = scan_path(path, limits=limits)
            verdict = decide(result.findings, target=result.target, policy=policy)
            items.append(ReportItem(result, verdict))
            if bar is not None:
                bar[0].update(bar[1], advance=1)
    return items
