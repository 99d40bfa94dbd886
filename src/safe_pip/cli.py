"""Argument parsing and exit codes only; the work lives in ``safe_pip.commands``.

Every way a run can end maps to one exit code here: 0 allowed, 1 blocked (the command's
return value), 2 for everything else.  An exception is one line on stderr — a
:class:`~safe_pip.errors.SafePipError` says what the user can do about it, anything else is
named as an internal error — and ``--debug`` adds the traceback.  Nothing escapes as a
traceback with exit 1, which scripts would read as "blocked by policy".
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from safe_pip import __version__
from safe_pip.errors import EXIT_ERROR, SafePipError

# (sub-command, module under safe_pip.commands, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("demo", "demo", "watch the gate install a clean package and block an attack, offline"),
    ("install", "install", "resolve, verify, scan, then install exactly the vetted files"),
    ("lock", "lock", "write a hash-pinned requirements file from files the gate vetted"),
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


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)*:`~?([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")


def plain(doc: str | None) -> str | None:
    """A module docstring as help text: reST literals and roles become plain words."""
    if doc is None:
        return None
    doc = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], doc)
    return _LITERAL.sub(r"\1", doc).strip()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command tree, or (``only``) just that command: importing every command
    module (the install gate, the server, policy tooling) costs a short ``safe-pip scan``
    more than its scan, and so does building a parser for each of the others (argparse
    looks up its message catalogue for every parser). A run that names its command never
    shows the others: its help, usage and errors are that command's parser's own."""
    parser = _Parser(
        prog="safe-pip",
        description="Install-time gatekeeper for Python packages. "
        "Exit codes: 0 allowed/clean, 1 blocked by policy, 2 usage or internal error.",
    )
    parser.add_argument("--version", action="version", version=f"safe-pip {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, also print the traceback"
    )
    # The whole tree, for commands that describe the CLI itself (safe-pip completion):
    # commands sit below cli and may not import it.
    parser.set_defaults(_parser=parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in COMMANDS:
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"safe_pip.commands.{module}")
        p = sub.add_parser(
            name,
            help=help_text,
            description=plain(mod.__doc__),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.register(p)
        p.set_defaults(_run=mod.run, _takes_unknown=getattr(mod, "TAKES_UNKNOWN_ARGS", False))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    debug = _debug(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except SafePipError as exc:
        _say(f"safe-pip: error: {exc}", debug)
        return exc.exit_code
    except KeyboardInterrupt:
        _say("safe-pip: interrupted; nothing was installed", debug)
        return EXIT_ERROR
    except BrokenPipeError:
        sys.stderr.write("safe-pip: error: output closed before the report was written\n")
        return EXIT_ERROR
    except Exception as exc:  # a bug: still exit 2 (not 1, "blocked") and say so in one line
        hint = "" if debug else " (run with --debug for the traceback)"
        _say(f"safe-pip: internal error: {type(exc).__name__}: {exc}{hint}", debug)
        return EXIT_ERROR


def _debug(argv: Sequence[str]) -> bool:
    """``--debug`` before the command (known even if parsing fails later); after the
    command it belongs to the command (``install`` hands unknown flags to pip)."""
    names = {name for name, _, _ in COMMANDS}
    for arg in argv:
        if arg in names:
            return False
        if arg == "--debug":
            return True
    return False


def _say(line: str, debug: bool) -> None:
    if debug:
        import traceback  # only on an error with --debug: not every run's start-up

        traceback.print_exc(file=sys.stderr)
    print(line, file=sys.stderr)


def _command(argv: Sequence[str]) -> str | None:
    """The command a run asks for, when only it needs parsing: the first argument, after
    the top-level ``--debug`` (help, ``--version`` and ``completion`` need the whole tree)."""
    names = {name for name, _, _ in COMMANDS} - {"completion"}
    for arg in argv:
        if arg != "--debug":
            return arg if arg in names else None
    return None


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser(_command(sys.argv[1:] if argv is None else argv))
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
    return int(run(args))
