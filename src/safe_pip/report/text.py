"""Text for people: one verdict per target, each finding with where and why.

Colour only on a terminal and never when ``NO_COLOR`` is set.  Skipped or
unscannable members are always listed: "clean" must never hide what was not
looked at.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from safe_pip.models import Finding, Severity
from safe_pip.report import ReportItem

_COLOURS = {
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
}
_RESET = "\x1b[0m"


def use_colour(stream: object = None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Paint:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, colour: str) -> str:
        return f"{_COLOURS[colour]}{text}{_RESET}" if self.on else text


def _finding_lines(f: Finding, blocking: bool, paint: _Paint) -> list[str]:
    colour = "red" if blocking and f.severity >= Severity.HIGH else "yellow"
    tag = "BLOCK" if blocking else "warn "
    return [
        f"  {paint(tag, colour)} {paint(f.rule_id, 'bold')} ({f.severity}) {f.location}",
        f"        {f.message}",
    ]


def render(items: Sequence[ReportItem], command: str, *, colour: bool | None = None) -> str:
    paint = _Paint(use_colour() if colour is None else colour)
    lines: list[str] = []
    blocked = 0
    skipped_total = 0
    for item in items:
        v = item.verdict
        r = item.result
        if not v.allowed:
            blocked += 1
        head = paint("BLOCKED", "red") if not v.allowed else paint("ok     ", "green")
        what = ", ".join(f"{k} {n}" for k, n in sorted(r.inventory.items())) or "nothing"
        lines.append(f"{head} {r.target}  [{what}]")
        for f in v.blocking:
            lines.extend(_finding_lines(f, True, paint))
        for f in v.warnings:
            lines.extend(_finding_lines(f, False, paint))
        for e in v.excepted:
            lines.append(
                f"  {paint('allow', 'dim')} {e.rule_id} {e.location}: exception "
                f"({e.reason}, expires {e.expires})"
            )
        for note in v.notes:
            lines.append(f"  {paint('note ', 'dim')} {note}")
        for s in r.skipped:
            skipped_total += 1
            lines.append(f"  {paint('skip ', 'yellow')} {s.location}: {s.reason}")
    n = len(items)
    noun = "artifact" if command == "install" else "target"
    verb = "checked" if command == "install" else "scanned"
    summary = f"{n} {noun}{'s' if n != 1 else ''} {verb}: {blocked} blocked, {n - blocked} allowed"
    if skipped_total:
        summary += f"; {skipped_total} member(s) skipped (listed above)"
    lines.append(paint(summary, "bold"))
    return "\n".join(lines) + "\n"
