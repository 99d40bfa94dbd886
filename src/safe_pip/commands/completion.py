"""safe-pip completion: print a tab-completion script for bash, zsh or fish.

    eval "$(safe-pip completion bash)"      # in ~/.bashrc
    eval "$(safe-pip completion zsh)"       # in ~/.zshrc, after compinit
    safe-pip completion fish | source       # in ~/.config/fish/config.fish

The script is generated from safe-pip's own argument parser, so it offers exactly the
commands, options and choices this version has; it never runs safe-pip while completing.
"""

from __future__ import annotations

import argparse
import sys

from safe_pip.completion import SHELLS
from safe_pip.errors import EXIT_OK


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to print the script for")


def run(args: argparse.Namespace) -> int:
    """Print the script for the parser this run was parsed with (``cli`` hands it in)."""
    from safe_pip.completion import script

    sys.stdout.write(script(args.shell, args._parser))
    return EXIT_OK
