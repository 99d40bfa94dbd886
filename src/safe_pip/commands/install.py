"""safe-pip install: resolve, fetch, verify, scan, decide, then install exactly the vetted files.

Usage: ``safe-pip install [safe-pip options] [--] <pip install arguments>``. safe-pip's own
options are ``--python``, ``--policy`` (and the one-run policy flags), ``--dry-run``,
``--format``, ``--report`` and ``--yes``; every other argument is pip's.

Exit codes: 0 installed (or, with --dry-run, would install); 1 blocked by policy, nothing
installed; 2 error. Atomic: one blocked artifact blocks the whole install. The work is
done by :mod:`safe_pip.gate.pipeline`; this module reads arguments and renders the result.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from safe_pip.commands.policy_flags import add_policy_flags
from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import EXIT_ERROR
from safe_pip.gate.pipeline import InstallResult, Interrupted

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy
    from safe_pip.report import Report

TAKES_UNKNOWN_ARGS = True


def register(parser: argparse.ArgumentParser) -> None:
    """safe-pip's own options; everything else is passed to pip."""
    parser.allow_abbrev = False  # pip's options are never abbreviations of ours
    parser.usage = "safe-pip install [safe-pip options] [--] <pip install arguments>"
    parser.add_argument("--python", type=Path, metavar="PATH", help="target interpreter")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    add_policy_flags(parser)
    parser.add_argument("--dry-run", action="store_true", help="decide; install nothing")
    add_report_flags(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="never ask")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    from safe_pip.commands.policy_flags import load_from_args
    from safe_pip.gate import pipeline
    from safe_pip.gate.install import SignalHold
    from safe_pip.gate.journal import Journal, policy_path
    from safe_pip.progress import Progress
    from safe_pip.report import check_report_file

    check_report_file(args.report)
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        signal.signal(signum, _interrupt)  # stop the run the way Ctrl-C does
    python = target_python(args.python)
    policy = load_from_args(args)
    stages = pipeline.default_stages(args.extra_args, python, policy)
    hold = SignalHold()
    try:
        with Journal(policy_path(policy.audit.log)) as journal:
            ctx = pipeline.Context(
                policy=policy,
                target=python,
                journal=journal,
                command=["safe-pip", *sys.argv[1:]],
                dry_run=args.dry_run,
                confirm=lambda partial: _confirm(args, partial),
                progress=Progress,
                hold=hold,
            )
            result = pipeline.run(stages, ctx)
        hold.start()  # whatever happened is reported as it happened, not cut off
        _warn_old_pip(result)
        if result.pip_report:
            _pip_report(result.pip_report, result)
        return _emit(args, result, policy)
    finally:
        hold.release()


def _warn_old_pip(result: InstallResult) -> None:
    """Say once, on stderr, when the target's pip is too old for part of the gate."""
    from safe_pip.gate.install import old_pip_warning

    warning = old_pip_warning(result.pip_version, result.target)
    if warning:
        print(warning, file=sys.stderr)


def target_python(explicit: Path | None) -> Path:
    """``--python``, else the active virtual environment, else this interpreter."""
    if explicit is not None:
        return explicit
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        candidate = Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if candidate.exists():
            return candidate
    return Path(sys.executable)


def _pip_report(path: str, result: InstallResult) -> None:
    """pip's own ``--report FILE``: pip's installation-report format (version 1), for the
    files this run installed (or, dry run, would install) -- pip's meaning, kept."""
    import platform

    install = [
        {
            "download_info": {
                "url": a.artifact.url,
                "archive_info": {"hashes": {"sha256": a.sha256}},
            },
            "is_direct": a.artifact.index_url is None,
            "requested": a.artifact.requested,
            "metadata": {"name": a.artifact.name, "version": a.artifact.version},
        }
        for a in result.artifacts
        if a.artifact is not None and a.for_build is None and a.vetted
    ]
    doc = {
        "version": "1",
        "pip_version": "safe-pip",
        "install": install if result.outcome in ("installed", "would-install") else [],
        "environment": {"python_version": platform.python_version()},
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _confirm(args: argparse.Namespace, result: InstallResult) -> bool:
    """Ask before installing despite warnings, only where a person can see and answer."""
    warned = any(a.verdict and a.verdict.warnings for a in result.artifacts)
    if args.yes or not warned or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return True
    from safe_pip.report.text import use_colour, verdict_lines

    lines = verdict_lines(_report(result), colour=use_colour(sys.stderr))
    print("\n".join(lines), file=sys.stderr)
    print("safe-pip: install despite the warnings above? [y/N] ", end="", file=sys.stderr)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _report(result: InstallResult, policy: Policy | None = None) -> Report:
    from safe_pip.gate.reporting import to_report

    return to_report(result, policy=policy)


def _emit(args: argparse.Namespace, result: InstallResult, policy: Policy) -> int:
    from safe_pip.report import ReportWriteError, emit

    try:
        return emit(_report(result, policy), args.format, args.report)
    except ReportWriteError as exc:  # the run is recorded already; say so, exit 2
        print(f"safe-pip: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
