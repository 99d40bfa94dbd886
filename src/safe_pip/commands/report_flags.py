"""``--format`` and ``--report``: the same two options, with the same meaning, on every
command that prints a report (see :func:`safe_pip.report.emit`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from safe_pip.report import FORMATS


def add_report_flags(parser: argparse.ArgumentParser, *, short: bool = False) -> None:
    """Add ``--format`` and ``--report`` (also ``-o`` when ``short``)."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report on stdout: text, json (schema_version 2), sarif (2.1.0) or "
        "cyclonedx (1.6); default text",
    )
    names = ("--report", "-o") if short else ("--report",)
    parser.add_argument(
        *names,
        type=Path,
        metavar="FILE",
        help="also write the report to FILE, in --format (json when --format is text); "
        "never coloured",
    )
