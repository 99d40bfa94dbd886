"""safe-pip shell-init: print shell functions that route pip through safe-pip.

``eval "$(safe-pip shell-init bash)"`` in ~/.bashrc (zsh likewise; fish:
``safe-pip shell-init fish | source``; PowerShell: see the printed header).
Nothing is written anywhere: deploying the line is the user's or the MDM's job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safe_pip.enforce.shells import SHELLS, render
from safe_pip.errors import EXIT_OK


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to print functions for")
    parser.add_argument(
        "--safe-pip-python",
        type=Path,
        metavar="PATH",
        help="interpreter that has safe-pip installed (default: this one)",
    )


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(render(args.shell, args.safe_pip_python))
    return EXIT_OK
