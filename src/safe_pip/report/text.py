"""The report as text for people: one verdict per target, each finding with where and why.

Colour only when the caller asks (``emit`` asks for it on a terminal without
``NO_COLOR``); never in a file.  Skipped or unscannable members are always listed:
"clean" must never hide what was not looked at.
"""

from __future__ import annotations

import os
from typing import TextIO

from safe_pip.models import Finding, Severity
from safe_pip.report.model import Report, SignatureCheck, Subject

_COLOURS = {
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
}
_RESET = "\x1b[0m"

_INSTALL_OUTCOMES = {
    "would-install": "would install (dry run): nothing was installed",
    "blocked": "blocked by policy: nothing was installed",
    "declined": "declined: nothing was installed",
    "nothing-to-do": "nothing to do",
    "error": "error: nothing was installed",
    "interrupted": "interrupted: nothing was installed",
}
_LOCK_OUTCOMES = {
    "locked": "locked: every file vetted and pinned by its sha256",
    "blocked": "blocked by policy: no lock file was written",
    "error": "error: no lock file was written",
    "interrupted": "interrupted: no lock file was written",
    "nothing-to-do": "nothing to lock",
}


def use_colour(stream: TextIO) -> bool:
    """Colour for ``stream``: a terminal, and ``NO_COLOR`` unset."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Paint:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, colour: str) -> str:
        return f"{_COLOURS[colour]}{text}{_RESET}" if self.on else text


def _finding_lines(f: Finding, blocking: bool, paint: _Paint, tag: str = "") -> list[str]:
    colour = "red" if blocking and f.severity >= Severity.HIGH else "yellow"
    tag = tag or ("BLOCK" if blocking else "warn ")
    return [
        f"  {paint(tag, colour)} {paint(f.rule_id, 'bold')} ({f.severity}) {f.location}",
        f"        {f.message}",
    ]


def _signature_line(c: SignatureCheck, paint: _Paint) -> str:
    if c.verified:
        what = f", {c.predicate_type}" if c.predicate_type else ""
        who = c.matched or c.signer
        return f"  {paint('OK  ', 'green')} {c.source} ({c.kind}{what}) signed by {who}"
    return f"  {paint('FAIL', 'red')} {c.source}: {c.reason}: {c.message}"


def _label(s: Subject) -> str:
    """How a person recognises the subject; SARIF and JSON use the bare, stable target."""
    d = s.distribution
    label = f"{d.name} {d.version} ({s.target})" if s.kind == "artifact" and d else s.target
    return label + (" [scan cache]" if s.cached else "")


def _subject_lines(s: Subject, paint: _Paint) -> list[str]:
    head = paint("ok     ", "green") if s.allowed else paint("BLOCKED", "red")
    line = f"{head} {_label(s)}"
    if s.would_block:
        line += " " + paint("(pilot mode: enforcing would block it)", "yellow")
    if s.scan is not None:
        what = ", ".join(f"{k} {n}" for k, n in sorted(s.scan.inventory.items())) or "nothing"
        line += f"  [{what}]"
    lines = [line]
    # A failed signature check is shown once, as its FAIL line with the reason code.
    failed = {c.source for c in s.signatures if not c.verified}
    for f in s.blocking:
        if f.detail.get("source") not in failed:
            lines.extend(_finding_lines(f, True, paint))
    for f in s.would_block:
        lines.extend(_finding_lines(f, False, paint, "PILOT"))
    for f in s.warnings:
        lines.extend(_finding_lines(f, False, paint))
    lines.extend(_signature_line(c, paint) for c in s.signatures)
    for e in s.verdict.excepted if s.verdict else ():
        lines.append(
            f"  {paint('allow', 'dim')} {e.rule_id} {e.location}: exception "
            f"({e.reason}, expires {e.expires})"
        )
    lines.extend(f"  {paint('note ', 'dim')} {note}" for note in s.notes)
    if s.scan is not None:
        skip = paint("skip ", "yellow")
        lines.extend(f"  {skip} {k.location}: {k.reason}" for k in s.scan.skipped)
    for step in s.next_steps:
        first, *rest = step.splitlines()
        lines.append(f"  {paint('next ', 'bold')} {first}")
        lines.extend(f"          {line}" if line else "" for line in rest)
    return lines


def _summary(report: Report) -> list[str]:
    n = len(report.subjects)
    blocked = report.blocked
    if report.command == "verify":
        return [
            f"{s.target}: {'verified' if s.allowed else 'NOT verified'}" for s in report.subjects
        ]
    gated = report.command in ("install", "lock")
    noun, verb = ("artifact", "checked") if gated else ("target", "scanned")
    line = f"{n} {noun}{'s' if n != 1 else ''} {verb}: {blocked} blocked, {n - blocked} allowed"
    if report.would_block:
        line += f" ({report.would_block} would be blocked when enforced: pilot mode)"
    skipped = sum(len(s.scan.skipped) for s in report.subjects if s.scan)
    if skipped:
        line += f"; {skipped} member(s) skipped (listed above)"
    return [line]


def _install_outcome(report: Report) -> str:
    """One honest line on what happened to the target."""
    installed = ", ".join(report.run.installed) if report.run else ""
    if report.outcome == "installed":
        return f"installed: {installed}"
    if report.outcome == "install-failed":
        what = installed or "none of the vetted files"
        return f"pip failed after it started; now installed from this run: {what}"
    return _INSTALL_OUTCOMES.get(report.outcome, report.outcome)


def _tail(report: Report) -> list[str]:
    """What a command adds after the verdicts: audit's inventory, install's outcome."""
    if report.command == "audit":
        dists = [s for s in report.subjects if s.kind == "distribution"]
        models = sum(1 for s in report.subjects if s.kind == "model")
        verified = sum(s.scan.inventory.get("files-verified", 0) for s in dists if s.scan)
        desc = report.environment.description if report.environment else "the environment"
        return [
            f"audited {desc}: {len(dists)} distributions ({verified} files checked against "
            f"RECORD), {models} model files, {report.other_files_scanned or 0} other candidate "
            "files scanned (no model inside)"
        ]
    if report.command == "install":
        outcome = _why(_install_outcome(report), report)
        return [f"note: {n}" for n in report.notes] + [f"safe-pip: {outcome}"]
    if report.command == "lock":  # the gate's dry run: nothing is installed, a file is written
        outcome = _LOCK_OUTCOMES.get(report.outcome) or _install_outcome(report)
        return [f"note: {n}" for n in report.notes] + [f"safe-pip: {_why(outcome, report)}"]
    return [f"note: {n}" for n in report.notes] + (
        [f"safe-pip: error: {report.error}"] if report.error else []
    )


def _why(outcome: str, report: Report) -> str:
    """The outcome with its reason: the summary and why it happened belong on one stream
    (``tail`` of the report must not lose the reason to stderr)."""
    if report.error and report.outcome in ("error", "interrupted"):
        return f"{outcome} ({report.error})"
    return outcome


def verdict_lines(report: Report, *, colour: bool = False) -> list[str]:
    """Each subject's verdict and the summary, without what the run came to: what a
    prompt shows before the run has an outcome ("install despite the warnings above?")."""
    paint = _Paint(colour)
    lines: list[str] = []
    for s in report.subjects:
        lines.extend(_subject_lines(s, paint))
    if report.subjects or report.command != "install":
        lines.extend(paint(line, "bold") for line in _summary(report))
    return lines


def render(report: Report, *, colour: bool = False) -> str:
    return "\n".join([*verdict_lines(report, colour=colour), *_tail(report)]) + "\n"
