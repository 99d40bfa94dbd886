"""Scan files, folders, wheels, sdists and model files without executing them.

Every file found (folders are walked recursively) is identified by content and
opened down to its innermost member.  Exit 0 when every target is allowed, 1
when any is blocked by policy, 2 on a usage or internal error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safe_pip.commands.policy_flags import add_policy_flags
from safe_pip.errors import EXIT_BLOCKED, EXIT_OK, UsageError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to scan")
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="output format"
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (a layer)")
    add_policy_flags(parser)
    parser.add_argument(
        "--report", "-o", type=Path, metavar="FILE", help="also write the report to FILE"
    )


def run(args: argparse.Namespace) -> int:
    from safe_pip.commands.policy_flags import load_from_args
    from safe_pip.report import ReportItem, renderer
    from safe_pip.scan.core.engine import iter_files
    from safe_pip.scan.runner import scan_and_decide

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    policy = load_from_args(args)
    files = list(iter_files(paths))
    items: list[ReportItem] = scan_and_decide(files, policy)
    out = renderer(args.format)(items, "scan")
    sys.stdout.write(out)
    if args.report:
        args.report.write_text(
            out if args.format != "text" else renderer("text")(items, "scan"), encoding="utf-8"
        )
    return EXIT_BLOCKED if any(not i.verdict.allowed for i in items) else EXIT_OK
