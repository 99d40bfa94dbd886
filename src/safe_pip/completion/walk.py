"""What every shell's script shares: the walk from typed words to a command path.

Each shell spells it in its own syntax, but the table is the same: which word moves from
one command to a sub-command, and which flags consume the next word (so that the value
of ``--policy`` is never mistaken for a sub-command).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator

from safe_pip.completion.spec import Command, Option


def transitions(root: Command) -> Iterator[tuple[str, str, str]]:
    """``(command key, word, sub-command key)`` for every sub-command."""
    for cmd in root.walk():
        for sub in cmd.subcommands:
            yield cmd.key, sub.path[-1], sub.key


def value_flags(root: Command) -> Iterator[tuple[str, str]]:
    """``(command key, flag)`` for every flag that takes a value."""
    for cmd in root.walk():
        for flag in cmd.value_flags:
            yield cmd.key, flag


def words(cmd: Command) -> tuple[str, ...]:
    """What may follow a command that is not an option: its sub-commands, its choices."""
    return tuple(sub.path[-1] for sub in cmd.subcommands) + cmd.choices


def flags(cmd: Command) -> tuple[str, ...]:
    return tuple(f for o in cmd.options for f in o.flags)


# -- the case arms bash and zsh share (both speak sh's ``case``) --------------------------------
def label(*parts: str) -> str:
    """A quoted ``case`` pattern for ``"$sp_path $word"``."""
    return shlex.quote(" ".join(parts))


def sh_walk_arms(root: Command, indent: str, paren: str) -> str:
    """The arms of ``case "$sp_path $w"``: step into a sub-command, or skip a flag's value.

    ``paren`` is ``"("`` for zsh, which accepts (and its docs use) the opening
    parenthesis, or ``""`` for bash 3.2's plainer style.
    """
    arms = [
        f"{indent}{paren}{label(key, word)}) sp_path={sub} ;;"
        for key, word, sub in transitions(root)
    ]
    takes = f" | \\\n{indent} {' ' * len(paren)}".join(
        label(key, flag) for key, flag in value_flags(root)
    )
    return "\n".join([*arms, f"{indent}{paren}{takes}) skip=1 ;;"])


def sh_value_arms(
    root: Command, indent: str, paren: str, action: Callable[[Option], str], done: str
) -> str:
    """The arms of ``case "$sp_path $opt"``: what to offer as the value of each flag."""
    arms = []
    for cmd in root.walk():
        for opt in cmd.options:
            if opt.takes_value:
                labels = " | ".join(label(cmd.key, f) for f in opt.flags)
                arms.append(f"{indent}{paren}{labels}) {action(opt)}; {done} ;;")
    return "\n".join(arms)
