"""One progress bar for every long stage: downloads, scans, whole-folder scans.

Shown only when stderr is a terminal, so pipes and CI logs stay clean; rich is
imported only then, keeping it off the start-up path.  The spinner shows life
even while one long item (a torch wheel takes seconds) is being worked on.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, total: int, verb: str) -> None:
        self._verb = verb
        self._bar: Any = None
        self._task: Any = None
        if total > 0 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, SpinnerColumn, TextColumn
            from rich.progress import Progress as RichProgress

            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
            # rich draws on stdout unless told: the bar belongs with the diagnostics, so that
            # "| tail" or "| tee" gets the report only, and the terminal still sees the bar.
            console = Console(stderr=True)
            self._bar = RichProgress(*columns, transient=True, console=console)
            self._bar.start()
            self._task = self._bar.add_task(verb, total=total)

    def working_on(self, label: str) -> None:
        """Name the item now in progress."""
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self._verb} {label[:40]}")

    def advance(self, label: str | None = None) -> None:
        """One item done (optionally naming it)."""
        if self._bar is not None:
            if label is not None:
                self._bar.update(self._task, description=f"{self._verb} {label[:40]}")
            self._bar.update(self._task, advance=1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
