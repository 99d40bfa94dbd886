"""safe-pip lock: write a hash-pinned requirements file from files the gate vetted.

Usage: safe-pip lock [-o FILE] [safe-pip options] [--] <pip install arguments>,
e.g. safe-pip lock -o requirements.txt -r requirements.in.

Runs the install gate's dry run (resolve every requirement, fetch, verify, scan, decide;
nothing is installed) and, only if every file is allowed, writes name==version with the
sha256 of the exact file that was vetted. With -o the file is replaced whole or not at all
and the vetting report goes to stdout; without it the lock goes to stdout and the report to
stderr. Exit codes: 0 locked; 1 blocked by policy (no file written, also when pilot mode is
what allowed it); 2 error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.commands.policy_flags import add_policy_flags
from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from safe_pip.report import Outcome

TAKES_UNKNOWN_ARGS = True


def register(parser: argparse.ArgumentParser) -> None:
    """safe-pip's own options; everything else (-r, -c, -i ...) is pip's."""
    parser.allow_abbrev = False
    parser.usage = "safe-pip lock [-o FILE] [safe-pip options] [--] <pip install arguments>"
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the lock here (default: stdout)"
    )
    parser.add_argument("--python", type=Path, metavar="PATH", help="resolve for this interpreter")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    add_policy_flags(parser)
    add_report_flags(parser)


def run(args: argparse.Namespace) -> int:
    from safe_pip.commands.policy_flags import load_from_args
    from safe_pip.errors import UsageError
    from safe_pip.gate import lockfile, pipeline
    from safe_pip.gate.journal import Journal, policy_path
    from safe_pip.gate.reporting import to_report
    from safe_pip.progress import Progress
    from safe_pip.report import check_report_file, emit

    if not args.extra_args:
        raise UsageError(
            "nothing to lock: give requirements, e.g. safe-pip lock -r requirements.in"
        )
    check_report_file(args.report)
    if args.output is not None and not args.output.parent.is_dir():
        raise UsageError(f"-o {args.output}: no such folder {args.output.parent}")
    python = args.python or Path(sys.executable)
    policy = load_from_args(args)
    pip_args = [*args.extra_args, "--ignore-installed"]  # pin everything, not what is missing
    stages = pipeline.default_stages(pip_args, python, policy)
    with Journal(policy_path(policy.audit.log)) as journal:
        command = ["safe-pip", *sys.argv[1:]]
        ctx = pipeline.Context(policy, python, journal, command, dry_run=True, progress=Progress)
        result = pipeline.run(stages, ctx)
    notes: tuple[str, ...] = ()
    outcome: Outcome | None = None
    if result.outcome == "would-install":
        reasons = lockfile.unlockable(result.artifacts)
        if reasons:
            result.exit_code, outcome, notes = EXIT_BLOCKED, "blocked", tuple(reasons)
        else:
            text = lockfile.render(
                result.artifacts, source=lockfile.redact(args.extra_args), target=result.target
            )
            if args.output is None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                lockfile.write_atomically(args.output, text)
                notes = (f"wrote {args.output}",)
            result.exit_code, outcome = EXIT_OK, "locked"
    report = to_report(result, "lock", outcome, notes, policy)
    if args.output is None:  # stdout carries the lock; the report is a diagnostic here
        code = emit(
            report, "text" if args.format == "text" else args.format, args.report, stdout=sys.stderr
        )
    else:
        code = emit(report, args.format, args.report)
    return code if code in (EXIT_OK, EXIT_BLOCKED) else EXIT_ERROR
