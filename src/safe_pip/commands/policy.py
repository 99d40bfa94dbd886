"""Write, validate, show and explain safe-pip policies.

safe-pip policy init [PATH] [--profile NAME]   (the profiles safe-pip ships)
safe-pip policy check FILE...      exit 0 valid, 1 invalid (file:line), 2 usage
safe-pip policy show [--policy FILE]
safe-pip policy explain RULE-ID
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safe_pip.commands.policy_flags import add_policy_flags, flags_toml
from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, UsageError
from safe_pip.policy.shipped import PROFILES


def register(parser: argparse.ArgumentParser) -> None:
    """Four actions; each one's work lives in ``safe_pip.policy``."""
    actions = parser.add_subparsers(dest="policy_action", metavar="ACTION")
    init = actions.add_parser("init", help="write a starting policy file")
    init.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("safe-pip.toml"),
        help="file (or folder) to write; default ./safe-pip.toml",
    )
    init.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="default",
        help="which shipped policy to start from",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = actions.add_parser("check", help="validate policy files (each problem as file:line)")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    show = actions.add_parser(
        "show", help="print the effective policy and where each value came from"
    )
    show.add_argument(
        "--policy", type=Path, metavar="FILE", help="add FILE as the command-line layer"
    )
    add_policy_flags(show)
    explain = actions.add_parser("explain", help="what a rule id means and how to allow it")
    explain.add_argument("rule_id", metavar="RULE-ID")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "policy_action", None)
    if action == "init":
        return _init(args.path, args.profile, args.force)
    if action == "check":
        return _check(args.files)
    if action == "show":
        return _show(args.policy, flags_toml(args))
    if action == "explain":
        return _explain(args.rule_id)
    raise UsageError("choose an action: init, check, show or explain (see 'safe-pip policy -h')")


def _init(path: Path, profile: str, force: bool) -> int:
    from safe_pip.policy import shipped_policy_text

    target = path / "safe-pip.toml" if path.is_dir() else path
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use --force to overwrite it")
    text = shipped_policy_text(profile)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    print(f"wrote the {profile} policy to {target}")
    if profile in ("org", "pilot"):
        print(
            "install it as the org policy (e.g. /etc/safe-pip/policy.toml) or point "
            "SAFE_PIP_ORG_POLICY at it"
        )
    return EXIT_OK


def _check(files: list[Path]) -> int:
    from safe_pip.policy import check_files
    from safe_pip.policy.parse import parse_file
    from safe_pip.rules import get_rule

    problems = check_files(files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_BLOCKED
    for path in files:
        layer, _ = parse_file(path)
        for exc in layer.items("exceptions") if layer else ():
            if exc.rule != "*" and get_rule(exc.rule) is None:
                print(
                    f"{exc.source.where}: warning: rule {exc.rule} is not in this safe-pip's "
                    "rule catalogue; the exception will never match",
                    file=sys.stderr,
                )
        print(f"{path}: ok")
    return EXIT_OK


def _show(cli_file: Path | None, flags: str | None) -> int:
    from safe_pip.gate.fetch import https_client
    from safe_pip.policy import resolve_policy
    from safe_pip.policy.show import render

    result = resolve_policy(cli_file, flags=flags, http=https_client)
    sys.stdout.write(render(result.policy, result.conflicts))
    for conflict in result.conflicts:
        print(f"safe-pip: error: {conflict}", file=sys.stderr)
    return EXIT_BLOCKED if result.conflicts else EXIT_OK


def _explain(rule_id: str) -> int:
    from safe_pip.rules import all_rules, get_rule

    rule = get_rule(rule_id.strip().upper())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id.upper(), list(all_rules()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        print(f"safe-pip: error: unknown rule id {rule_id!r}{hint}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{rule.id}: {rule.title}")
    print(f"default severity: {rule.severity}")
    print()
    print(rule.explanation)
    print()
    print(f"How to allow it: {rule.how_to_allow}")
    return EXIT_OK
