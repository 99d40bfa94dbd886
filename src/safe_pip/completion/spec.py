"""The parser as a tree the completion scripts can be generated from.

argparse keeps what completion needs in private attributes (``_actions``, the sub-parsers
action's ``choices``); this module is the one place that reads them, so a change in
argparse breaks one function, and the generated scripts only see :class:`Command` and
:class:`Option`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

_PATHLIKE = re.compile(r"PATH|FILE|DIR|DIST|SITE", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    """One optional argument: its spellings, whether it takes a value, what values fit."""

    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    files: bool = False
    """Its value is a path: complete file names."""


@dataclass(frozen=True)
class Command:
    """A command or sub-command, reached by the words in ``path``."""

    path: tuple[str, ...]
    help: str
    options: tuple[Option, ...]
    subcommands: tuple[Command, ...] = ()
    choices: tuple[str, ...] = ()
    """Fixed values a positional argument accepts (``shell-init bash``)."""
    files: bool = False
    """A positional argument is a path (or, for ``install``, anything pip takes)."""

    @property
    def key(self) -> str:
        """A shell identifier for this command (``safe_pip_policy_init``)."""
        return "_".join(["safe_pip", *(re.sub(r"\W", "_", p) for p in self.path)])

    @property
    def value_flags(self) -> tuple[str, ...]:
        """Every spelling of an option that consumes the next word."""
        return tuple(f for o in self.options if o.takes_value for f in o.flags)

    def walk(self) -> Iterator[Command]:
        """This command and every command below it, parents first."""
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def _first_line(text: str | None) -> str:
    """The first sentence-ish line of a help text, without argparse's ``%`` escapes."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line.replace("%%", "%").replace("%(default)s", "").strip()


def _is_path(action: argparse.Action) -> bool:
    if action.type is Path or isinstance(action.type, argparse.FileType):
        return True
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return bool(_PATHLIKE.search(metavar))


def _choices(action: argparse.Action) -> tuple[str, ...]:
    return tuple(str(c) for c in action.choices) if action.choices else ()


def read_parser(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Command:
    """The tree of ``parser``: its options, positionals and sub-commands."""
    options: list[Option] = []
    subcommands: list[Command] = []
    choices: list[str] = []
    files = bool(parser.get_default("_takes_unknown"))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                child = read_parser(sub, (*path, name))
                help_text = _first_line(helps.get(name)) or child.help
                subcommands.append(replace(child, help=help_text))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            options.append(
                Option(
                    flags=tuple(action.option_strings),
                    help=_first_line(action.help),
                    takes_value=action.nargs != 0,
                    choices=_choices(action),
                    files=action.nargs != 0 and not action.choices and _is_path(action),
                )
            )
        else:
            choices += _choices(action)
            files = files or (not action.choices and _is_path(action))
    return Command(
        path=path,
        help=_first_line(parser.description),
        options=tuple(options),
        subcommands=tuple(subcommands),
        choices=tuple(choices),
        files=files,
    )
