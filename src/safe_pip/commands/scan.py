"""Scan files, folders, wheels, sdists and model files without executing them.

Every file found (folders are walked recursively) is identified by content and
opened down to its innermost member.  Exit 0 when every target is allowed, 1
when any is blocked by policy, 2 on a usage or internal error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from safe_pip.commands.policy_flags import add_policy_flags, load_from_args
from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import UsageError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to scan")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (a layer)")
    add_policy_flags(parser)
    add_report_flags(parser, short=True)


def run(args: argparse.Namespace) -> int:
    from safe_pip.judge import judge_files
    from safe_pip.report import Report, check_report_file, emit
    from safe_pip.scan.core.engine import iter_files

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    check_report_file(args.report)
    policy = load_from_args(args)
    subjects = tuple(judge_files(list(iter_files(paths)), policy))
    if not all(s.allowed for s in subjects):  # next steps are written for blocks only
        from safe_pip import next_steps

        subjects = next_steps.annotate(subjects, policy)
    return emit(Report.judged("scan", subjects), args.format, args.report)
