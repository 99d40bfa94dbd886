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
from typing import Any

from safe_pip.commands.policy_flags import add_policy_flags, flags_toml
from safe_pip.errors import EXIT_ERROR
from safe_pip.gate.pipeline import InstallResult, Interrupted
from safe_pip.models import Artifact, Decision, ScanResult, Verdict
from safe_pip.report import ReportItem

TAKES_UNKNOWN_ARGS = True
JSON_SCHEMA_VERSION = 1


def register(parser: argparse.ArgumentParser) -> None:
    """safe-pip's own options; everything else is passed to pip."""
    parser.allow_abbrev = False  # pip's options are never abbreviations of ours
    parser.usage = "safe-pip install [safe-pip options] [--] <pip install arguments>"
    parser.add_argument("--python", type=Path, metavar="PATH", help="target interpreter")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy file (CLI layer)")
    add_policy_flags(parser)
    parser.add_argument("--dry-run", action="store_true", help="decide; install nothing")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write JSON/SARIF here")
    parser.add_argument("--yes", "-y", action="store_true", help="never ask")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    from safe_pip.gate import pipeline
    from safe_pip.gate.install import SignalHold
    from safe_pip.gate.journal import Journal, default_path
    from safe_pip.policy import load_policy
    from safe_pip.progress import Progress

    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        signal.signal(signum, _interrupt)  # stop the run the way Ctrl-C does
    python = target_python(args.python)
    policy = load_policy(args.policy, flags=flags_toml(args))
    log = Path(policy.audit.log).expanduser() if policy.audit.log else default_path()
    stages = pipeline.default_stages(args.extra_args, python, policy)
    hold = SignalHold()
    try:
        with Journal(log) as journal:
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
        return _emit(args, result)
    finally:
        hold.release()


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


def _confirm(args: argparse.Namespace, result: InstallResult) -> bool:
    """Ask before installing despite warnings, only where a person can see and answer."""
    warned = any(a.verdict and a.verdict.warnings for a in result.artifacts)
    if args.yes or not warned or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return True
    print(_text(result, final=False), file=sys.stderr)
    print("safe-pip: install despite the warnings above? [y/N] ", end="", file=sys.stderr)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _item(run: Any) -> ReportItem:
    """One artifact record as the shared renderers (text, SARIF) take it."""
    art = run.artifact
    scan = run.scan or ScanResult(run.label, (), (), {}, sha256=run.sha256, size=run.size)
    verdict = run.verdict or Verdict(
        run.label, Decision.BLOCK, tuple(run.findings), (), notes=("not decided: the run failed",)
    )
    label = f"{art.name} {art.version} ({run.label})" if art else run.label
    label += " [scan cache]" if run.scan_cached else ""
    artifact = None
    if art is not None:
        path = str(run.path) if run.path else art.filename
        artifact = Artifact(
            art.name, path, art.version, art.url, run.sha256, run.size, art.requested
        )
    scan = ScanResult(label, scan.findings, scan.skipped, scan.inventory, scan.sha256, scan.size)
    return ReportItem(scan, verdict, artifact)


def _text(result: InstallResult, *, final: bool = True) -> str:
    from safe_pip.report.text import render

    items = [_item(a) for a in result.artifacts]
    lines = [render(items, "install").rstrip("\n")] if items else []
    lines += [f"note: {n}" for n in result.notes]
    if final:
        lines.append(f"safe-pip: {result.summary}")
    return "\n".join(lines)


def _document(result: InstallResult, fmt: str) -> dict[str, Any]:
    if fmt == "sarif":
        from safe_pip.report.sarif import document

        return document([_item(a) for a in result.artifacts], "install")
    return {"schema_version": JSON_SCHEMA_VERSION, "command": "install", **result.to_dict()}


def _emit(args: argparse.Namespace, result: InstallResult) -> int:
    if result.error:
        print(f"safe-pip: error: {result.error}", file=sys.stderr)
    if args.format == "text":
        print(_text(result))
    else:
        print(json.dumps(_document(result, args.format), indent=2))
    if args.report is not None:
        fmt = "sarif" if args.format == "sarif" else "json"
        try:
            args.report.write_text(json.dumps(_document(result, fmt), indent=2) + "\n")
        except OSError as exc:
            print(f"safe-pip: error: cannot write the report {args.report}: {exc}", file=sys.stderr)
            return EXIT_ERROR
    return result.exit_code
