"""Shell completion for bash, zsh and fish, generated from the real argparse parser.

Why generated: completion written by hand drifts from the parser the day someone adds a
flag.  :mod:`safe_pip.completion.spec` reads the parser ``safe_pip.cli`` builds into a
small tree (commands, options, which options take a value, their choices, where a path is
expected), and one renderer per shell turns that tree into a static script.  The scripts
never run ``safe-pip`` while completing, so a tab press costs nothing and works even when
the safe-pip interpreter is slow to start.

Every script tracks the same thing: the *command path* (``safe_pip_policy_init``) reached
by the words typed so far, skipping the value after an option that takes one; then it
offers that command's sub-commands, options, positional choices or files.
"""

from __future__ import annotations

import argparse

from safe_pip.completion.spec import Command, Option, read_parser

SHELLS = ("bash", "zsh", "fish")


def script(shell: str, parser: argparse.ArgumentParser, prog: str = "safe-pip") -> str:
    """The completion script for ``shell``."""
    root = read_parser(parser)
    if shell == "bash":
        from safe_pip.completion.bash import render
    elif shell == "zsh":
        from safe_pip.completion.zsh import render
    elif shell == "fish":
        from safe_pip.completion.fish import render
    else:
        raise ValueError(f"no completion for {shell!r}; choose one of {', '.join(SHELLS)}")
    return render(root, prog)


__all__ = ["SHELLS", "Command", "Option", "read_parser", "script"]
