"""Reports: one model (:mod:`safe_pip.report.model`), rendered for people and machines.

Every command builds a :class:`Report` and hands it to :func:`emit`; the renderers
(``text``, ``json``, ``sarif``, ``cyclonedx``) share one protocol, :class:`Renderer`, and
decide nothing.  See :mod:`safe_pip.report.model` for how to build a report.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Protocol, TextIO

from safe_pip.errors import SafePipError, UsageError
from safe_pip.report.model import (
    SCHEMA_VERSION,
    Command,
    EnvironmentInfo,
    Outcome,
    Report,
    RunInfo,
    SignatureCheck,
    Subject,
    SubjectKind,
)

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "Command",
    "EnvironmentInfo",
    "Outcome",
    "Renderer",
    "Report",
    "ReportWriteError",
    "RunInfo",
    "SignatureCheck",
    "Subject",
    "SubjectKind",
    "check_report_file",
    "emit",
    "render",
]

FORMATS = ("text", "json", "sarif", "cyclonedx")
"""Every format every command can print; ``--report FILE`` takes a machine one of them."""


class Renderer(Protocol):
    """A renderer turns the whole report into one string; only ``text`` uses colour."""

    def __call__(self, report: Report, *, colour: bool = False) -> str: ...


class ReportWriteError(SafePipError):
    """``--report FILE`` could not be written (exit 2)."""


def renderer(fmt: str) -> Renderer:
    """The renderer for ``fmt`` (one of :data:`FORMATS`), imported on demand: the
    CycloneDX library costs start-up time nobody printing text should pay."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"safe_pip.report.{fmt}")
    render_fn: Renderer = module.render
    return render_fn


def render(report: Report, fmt: str, *, colour: bool = False) -> str:
    return renderer(fmt)(report, colour=colour)


def file_format(fmt: str) -> str:
    """What ``--report FILE`` holds: the ``--format`` given, or JSON when that is text
    (a file is for machines; the terminal already shows the text)."""
    return "json" if fmt == "text" else fmt


def check_report_file(path: Path | None) -> None:
    """Fail before any work if ``--report`` cannot be written (exit 2, one line)."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--report {path}: is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--report {path}: no such folder {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--report {path}: not writable")


def _same_stream(a: TextIO, b: TextIO) -> bool:
    """Whether two streams write to the same file or terminal (stdout and stderr on one tty)."""
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (sa.st_dev, sa.st_ino, sa.st_rdev) == (sb.st_dev, sb.st_ino, sb.st_rdev)


def emit(
    report: Report,
    fmt: str,
    report_file: Path | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Print ``report`` on stdout, write ``--report FILE``, say the error on stderr.

    Returns the report's exit code, so a command ends with ``return emit(...)``.
    """
    from safe_pip.report.text import use_colour

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if report.error and not (fmt == "text" and _same_stream(out, err)):
        # The text report carries the reason too; said twice only when the two streams
        # go to different places (a pipe, a file), so that each one is complete.
        print(f"safe-pip: error: {report.error}", file=err)
    out.write(render(report, fmt, colour=fmt == "text" and use_colour(out)))
    out.flush()
    if report_file is not None:
        try:
            report_file.write_text(render(report, file_format(fmt)), encoding="utf-8")
        except OSError as exc:
            raise ReportWriteError(
                f"cannot write the report {report_file}: {exc.strerror or exc}"
            ) from None
    return report.exit_code
