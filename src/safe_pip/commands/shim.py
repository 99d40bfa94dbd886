"""safe-pip shim: install, remove or show PATH shims for pip, pip3, pipX.Y and python.

``safe-pip shim install [--dir DIR] [--system]`` writes the shims and prints the
``PATH`` line to add (safe-pip never edits start-up files); ``uninstall``
removes only files that are safe-pip shims; ``status`` shows what ``pip`` and
``python`` resolve to now, and exits 1 when ``pip`` is not gated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safe_pip.enforce import shims
from safe_pip.errors import EXIT_BLOCKED, EXIT_OK


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("install", "write the shims"),
        ("uninstall", "remove the shims"),
        ("status", "show where the shims are and what pip resolves to"),
    ):
        p = sub.add_parser(action, help=help_text)
        p.add_argument("--dir", type=Path, metavar="DIR", help="shim directory")
        p.add_argument(
            "--system",
            action="store_true",
            help=f"use the system-wide directory ({shims.SYSTEM_DIR})",
        )
        if action == "install":
            p.add_argument(
                "--no-python",
                action="store_true",
                help="do not shim python/python3 (python -m pip is then not gated by shims)",
            )


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir or shims.default_dir(args.system)
    if args.action == "install":
        written = shims.install(directory, include_python=not args.no_python)
        print(
            f"safe-pip: wrote {len(written)} shims to {directory}: "
            + " ".join(p.name for p in written)
        )
        print("safe-pip: put the directory first on PATH, e.g. in your shell start-up file:")
        print(f'    export PATH="{directory}:$PATH"')
        return EXIT_OK
    if args.action == "uninstall":
        removed = shims.uninstall(directory)
        print(f"safe-pip: removed {len(removed)} shims from {directory}")
        return EXIT_OK
    st = shims.status(directory)
    print(f"shim directory: {directory} ({'on PATH' if st.on_path else 'NOT on PATH'})")
    print(f"shims: {' '.join(st.shims) or '(none)'}")
    if st.broken:
        print(f"broken (safe-pip interpreter missing; they refuse to run): {' '.join(st.broken)}")
    for name, where in st.resolves.items():
        print(f"{name:8} -> {where}")
    gated = "(safe-pip shim)" in st.resolves.get("pip", "")
    if not gated:
        print("safe-pip: 'pip' on PATH is not a safe-pip shim", file=sys.stderr)
    return EXIT_OK if gated and not st.broken else EXIT_BLOCKED
