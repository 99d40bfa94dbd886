"""safe-pip audit: inventory an installed environment and check it against the policy.

``safe-pip audit [--python PATH | --path SITE_PACKAGES_DIR] [--models DIR ...]
[--format text|json|sarif|cyclonedx] [--report FILE] [--policy FILE]``

Lists every installed distribution, checks each installed file against its
RECORD, flags start-up hooks nobody installed, scans every model artifact in
site-packages and the ``--models`` folders (found by content), and applies the
policy (deny list, typosquats, exceptions).  Nothing audited is imported or
executed.  Exit codes: 0 clean, 1 findings the policy blocks, 2 error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.commands.policy_flags import add_policy_flags, load_from_args
from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import UsageError
from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy


def register(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--python",
        type=Path,
        metavar="PATH",
        help="interpreter whose environment to audit (default: the active venv, else this one)",
    )
    target.add_argument(
        "--path", type=Path, metavar="SITE_PACKAGES_DIR", help="audit this folder directly"
    )
    parser.add_argument(
        "--models",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also scan model files in DIR (repeatable), e.g. a Hugging Face cache",
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    parser.add_argument(
        "--push",
        metavar="URL",
        help="send the inventory to a safe-pip serve index (token in $SAFE_PIP_PUSH_TOKEN)",
    )
    parser.add_argument("--machine", help="machine name for --push (default: this host's name)")
    add_policy_flags(parser)
    add_report_flags(parser)


def run(args: argparse.Namespace) -> int:
    from safe_pip.enforce.discover import venv_python
    from safe_pip.inventory import site
    from safe_pip.inventory.audit import audit
    from safe_pip.report import EnvironmentInfo, Report, check_report_file, emit

    for folder in args.models:
        if not folder.exists():
            raise UsageError(f"--models {folder}: no such file or directory")
    check_report_file(args.report)
    policy = load_from_args(args)
    if args.path is not None:
        env = site.from_path(args.path)
    else:
        env = site.from_python(args.python or venv_python() or Path(sys.executable))
    from safe_pip.gate.intel import db_path

    result = audit(
        env,
        policy,
        model_dirs=tuple(args.models),
        journal_findings=_unrecorded(policy),
        intel_db=db_path(),
    )
    if args.push:
        from safe_pip.server.push import push

        dists = [(d.dist.name, d.dist.version) for d in result.dists]
        push(args.push, dists, environment=env.description, machine=args.machine)
    report = Report.judged(
        "audit",
        tuple(result.items),
        environment=EnvironmentInfo(
            description=env.description,
            python=str(env.python) if env.python else None,
            python_version=env.python_version,
            site_packages=tuple(str(d) for d in env.site_dirs),
        ),
        other_files_scanned=result.other_scanned,
    )
    return emit(report, args.format, args.report)


def _unrecorded(policy: Policy) -> tuple[Finding, ...]:
    """Installs the audit log shows started (intent) but never finished (outcome)."""
    from safe_pip.gate import journal

    log = Path(policy.audit.log).expanduser() if policy.audit.log else journal.default_path()
    return tuple(
        Finding(
            "AUDIT-INSTALL-UNRECORDED",
            Severity.MEDIUM,
            item.describe(),
            f"{log}#run={item.run_id}",
            {"run_id": item.run_id, "target": item.target, "files": list(item.files)},
        )
        for item in journal.unfinished(log)
    )
