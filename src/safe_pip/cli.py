"""Argument parsing and exit codes only; the work lives in ``safe_pip.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from safe_pip import __version__
from safe_pip.errors import EXIT_ERROR, SafePipError

# (sub-command, module under safe_pip.commands, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("install", "install", "resolve, verify, scan, then install exactly the vetted files"),
    ("scan", "scan", "scan files, folders, wheels, sdists and model files"),
    ("verify", "verify", "verify a distribution's sigstore bundle or PEP 740 provenance"),
    ("policy", "policy", "write, check and show the effective policy"),
    ("audit", "audit", "inventory and audit an installed environment and model folders"),
    ("intel", "intel", "sync and query known-malicious and vulnerability data (OSV)"),
    ("shim", "shim", "install, remove or show the PATH shims that route pip through safe-pip"),
    ("shell-init", "shell_init", "print shell functions that route pip through safe-pip"),
    ("serve", "serve", "run the organisation's vetting index in front of upstream indexes"),
    ("completion", "completion", "print a tab-completion script for bash, zsh or fish"),
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep that and our wording."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"safe-pip: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="safe-pip",
        description="Install-time gatekeeper for Python packages. "
        "Exit codes: 0 allowed/clean, 1 blocked by policy, 2 usage or internal error.",
    )
    parser.add_argument("--version", action="version", version=f"safe-pip {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in COMMANDS:
        mod = importlib.import_module(f"safe_pip.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=mod.__doc__)
        mod.register(p)
        p.set_defaults(_run=mod.run, _takes_unknown=getattr(mod, "TAKES_UNKNOWN_ARGS", False))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "_takes_unknown", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if "--" in unknown:  # "safe-pip install [our options] -- <pip args>": the separator is ours
        unknown.remove("--")
    args.extra_args = unknown
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(run(args))
    except SafePipError as exc:
        print(f"safe-pip: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("safe-pip: interrupted; nothing was installed", file=sys.stderr)
        return EXIT_ERROR
