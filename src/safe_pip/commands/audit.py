"""safe-pip audit: inventory an installed environment and check it against the policy.

``safe-pip audit [--python PATH | --path SITE_PACKAGES_DIR] [--models DIR ...]
[--format text|json|sarif|cyclonedx] [--policy FILE]``

Lists every installed distribution, checks each installed file against its
RECORD, flags start-up hooks nobody installed, scans every model artifact in
site-packages and the ``--models`` folders (found by content), and applies the
policy (deny list, typosquats, exceptions).  Nothing audited is imported or
executed.  Exit codes: 0 clean, 1 findings the policy blocks, 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.commands.policy_flags import add_policy_flags, flags_toml
from safe_pip.errors import EXIT_BLOCKED, EXIT_OK, UsageError
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
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "cyclonedx"),
        default="text",
        help="output format (cyclonedx: CycloneDX 1.6 JSON)",
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    add_policy_flags(parser)


def run(args: argparse.Namespace) -> int:
    from safe_pip.enforce.discover import venv_python
    from safe_pip.inventory import site
    from safe_pip.inventory.audit import audit
    from safe_pip.policy import load_policy

    for folder in args.models:
        if not folder.exists():
            raise UsageError(f"--models {folder}: no such file or directory")
    policy = load_policy(args.policy, flags=flags_toml(args))
    if args.path is not None:
        env = site.from_path(args.path)
    else:
        env = site.from_python(args.python or venv_python() or Path(sys.executable))
    result = audit(env, policy, model_dirs=tuple(args.models), journal_findings=_unrecorded(policy))
    sys.stdout.write(_render(args.format, result))
    return EXIT_BLOCKED if result.blocked else EXIT_OK


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


def _render(fmt: str, result: object) -> str:
    from safe_pip.inventory.audit import AuditResult
    from safe_pip.report import renderer

    assert isinstance(result, AuditResult)
    if fmt == "cyclonedx":
        from safe_pip.report.cyclonedx import render

        return render(result)
    if fmt == "json":
        from safe_pip.report.json import document

        doc = document(result.items, "audit")
        doc["environment"] = {
            "target": result.environment.description,
            "site_packages": [str(d) for d in result.environment.site_dirs],
            "python_version": result.environment.python_version,
        }
        doc["distributions"] = [
            {
                "name": d.dist.name,
                "version": d.dist.version,
                "metadata_dir": str(d.dist.metadata_dir),
                "files_verified": d.files_verified,
                "decision": str(d.item.verdict.decision),
            }
            for d in result.dists
        ]
        doc["models"] = [
            {
                "path": str(m.model.path),
                "format": m.model.format,
                "sha256": m.model.sha256,
                "package": m.owner.name if m.owner else None,
                "decision": str(m.item.verdict.decision),
            }
            for m in result.models
        ]
        doc["other_files_scanned"] = result.other_scanned
        return json.dumps(doc, indent=2) + "\n"
    text = renderer(fmt)(result.items, "audit")
    if fmt == "text":
        verified = sum(d.files_verified for d in result.dists)
        text += (
            f"audited {result.environment.description}: {len(result.dists)} distributions "
            f"({verified} files checked against RECORD), {len(result.models)} model files, "
            f"{result.other_scanned} other candidate files scanned (no model inside)\n"
        )
    return text
