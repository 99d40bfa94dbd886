"""safe-pip shim: protect environments (hook) and PATH (shims); show exactly what is protected.

``install`` puts safe-pip's hook into each environment named with ``--env`` (an
interpreter or an environment folder), the active virtual environment, and with
``--all-on-path`` every environment whose ``python*``/``pip*`` is on ``PATH``; it also
writes the PATH shims (unless ``--no-path-shims``) and prints the ``PATH`` line to add
(safe-pip never edits start-up files). Running it again repairs what ``status`` reports.
``status`` prints, per environment (the ``--env`` ones, else every one on ``PATH``, the active
venv and the registered ones), PROTECTED or NOT PROTECTED with the reason and the fix, and
exits 1 when any environment it looked at is not protected. ``status --repair`` rewrites the
hook where it was put before (a registered environment, one named with ``--env``, or one still
holding hook files: pip upgraded, a file deleted or edited) and checks again. ``uninstall``
removes the shims and the hooks (of ``--env``, else of every registered environment).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from safe_pip.enforce import hook, shims
from safe_pip.errors import EXIT_BLOCKED, EXIT_OK, SafePipError


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("install", "protect environments with safe-pip's hook and write the PATH shims"),
        ("uninstall", "remove the hooks and the PATH shims"),
        ("status", "show, per environment, whether pip is gated"),
    ):
        p = sub.add_parser(action, help=help_text)
        p.add_argument("--dir", type=Path, metavar="DIR", help="shim directory")
        p.add_argument(
            "--system",
            action="store_true",
            help=f"use the system-wide shim directory ({shims.SYSTEM_DIR})",
        )
        p.add_argument(
            "--env",
            type=Path,
            action="append",
            default=[],
            metavar="PY",
            help="an environment (its interpreter or folder); repeatable",
        )
        if action == "install":
            p.add_argument(
                "--all-on-path",
                action="store_true",
                help="also protect every environment whose python or pip is on PATH",
            )
            p.add_argument(
                "--no-path-shims", action="store_true", help="only the per-environment hooks"
            )
            p.add_argument(
                "--no-python",
                action="store_true",
                help="do not shim python/python3 (python -m pip is then gated by hooks only)",
            )
        if action == "status":
            p.add_argument(
                "--repair",
                action="store_true",
                help="re-write the hook where it was installed before and is not intact now",
            )


def _active() -> list[Path]:
    venv = os.environ.get("VIRTUAL_ENV")
    return [Path(venv)] if venv else []


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir or shims.default_dir(args.system)
    if args.action == "install":
        return _install(args, directory)
    if args.action == "uninstall":
        return _uninstall(args, directory)
    return _status(args, directory)


def _install(args: argparse.Namespace, directory: Path) -> int:
    wanted = [*args.env, *_active()]
    envs = hook.candidates(wanted, discover_more=False)
    if args.all_on_path:
        envs = hook.candidates(wanted)
    if args.env and not envs:
        raise SafePipError("none of the --env interpreters could be asked where they live")
    failed = 0
    for env in envs:
        try:
            hook.install(env)
            print(f"protected: {env.prefix} (hook in {env.site})")
        except SafePipError as exc:
            failed += 1
            print(f"NOT protected: {env.prefix}: {exc}", file=sys.stderr)
    if not args.no_path_shims:
        written = shims.install(directory, include_python=not args.no_python)
        print(f"safe-pip: wrote {len(written)} PATH shims to {directory}; put it first on PATH:")
        print(f'    export PATH="{directory}:$PATH"')
    others = [e for e in hook.candidates() if e.prefix not in {x.prefix for x in envs}]
    left = [e for e in others if not hook.status(e).protected]
    for env in left:
        print(f"not protected yet: {env.prefix} (safe-pip shim install --env {env.python})")
    return EXIT_BLOCKED if failed else EXIT_OK


def _uninstall(args: argparse.Namespace, directory: Path) -> int:
    removed = shims.uninstall(directory)
    print(f"safe-pip: removed {len(removed)} shims from {directory}")
    envs = hook.candidates(args.env, discover_more=False)
    if not args.env:
        envs = [hook.describe(p) for p in map(hook.interpreter_in, hook.registered()) if p]
    for env in envs:
        gone = hook.uninstall(env)
        if gone:
            print(f"safe-pip: removed the hook from {env.prefix}")
    return EXIT_OK


def _repairable(env: hook.Environment, named: bool) -> bool:
    """Only where the hook was put before: status --repair protects nothing new."""
    return named or env.prefix in hook.registered() or hook.has_hook_files(env)


def _repair(env: hook.Environment, st: hook.HookStatus, named: bool) -> hook.HookStatus:
    if st.protected or not _repairable(env, named):
        return st
    try:
        hook.install(env)
    except SafePipError as exc:
        st.problems.append(f"repair failed: {exc}")
        return st
    again = hook.status(env)
    if again.protected:
        print(f"REPAIRED       {env.prefix}  (was: {'; '.join(st.problems)})")
    return again


def _status(args: argparse.Namespace, directory: Path) -> int:
    unprotected = 0
    for env in hook.candidates(args.env, discover_more=not args.env):
        st = hook.status(env)
        if args.repair:
            st = _repair(env, st, named=bool(args.env))
        pip = f"pip {st.pip}" if st.pip else "no pip"
        if st.protected:
            print(f"PROTECTED      {env.prefix}  ({env.python}, {pip})")
        else:
            unprotected += 1
            print(f"NOT PROTECTED  {env.prefix}  ({env.python})")
            for problem in st.problems:
                print(f"    - {problem}")
        for note in st.notes:
            print(f"    note: {note}")
    sh = shims.status(directory)
    where = "on PATH" if sh.on_path else "NOT on PATH"
    print(f"PATH shims: {directory} ({where}): {' '.join(sh.shims) or '(none)'}")
    if sh.broken:
        print(f"    broken (their safe-pip is gone; they refuse to run): {' '.join(sh.broken)}")
    for name, found in sh.resolves.items():
        print(f"    {name:8} -> {found}")
    if unprotected:
        print(
            f"safe-pip: {unprotected} environment(s) NOT protected: their pip installs ungated "
            "unless started through a shim or shell function",
            file=sys.stderr,
        )
    return EXIT_BLOCKED if unprotected else EXIT_OK
