"""The fish completion script: ``complete`` lines guarded by the command path.

Load it with ``safe-pip completion fish | source``, or save it as
``~/.config/fish/completions/safe-pip.fish``.
"""

from __future__ import annotations

import shlex

from safe_pip.completion.spec import Command, Option
from safe_pip.completion.walk import transitions, value_flags


def _q(text: str) -> str:
    """fish quoting: single quotes, with ``\\`` and ``'`` escaped (fish has no ``'\\''``)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _option(prog: str, cmd: Command, opt: Option) -> str:
    spec = []
    for flag in opt.flags:
        if flag.startswith("--"):
            spec.append(f"-l {shlex.quote(flag[2:])}")
        elif len(flag) == 2:
            spec.append(f"-s {shlex.quote(flag[1:])}")
        else:
            spec.append(f"-o {shlex.quote(flag[1:])}")
    if opt.choices:
        spec.append(f"-x -a {_q(' '.join(opt.choices))}")
    elif opt.files:
        spec.append("-r -F")
    elif opt.takes_value:
        spec.append("-x")
    if opt.help:
        spec.append(f"-d {_q(opt.help)}")
    return f"complete -c {prog} -n {_q(f'__safe_pip_at {cmd.key}')} {' '.join(spec)}"


def render(root: Command, prog: str) -> str:
    steps = [
        f"            case {_q(f'{key} {word}')}\n                set sp_path {sub}"
        for key, word, sub in transitions(root)
    ]
    takes = " ".join(_q(f"{key} {flag}") for key, flag in value_flags(root))
    lines: list[str] = []
    for cmd in root.walk():
        guard = f"-n {_q(f'__safe_pip_at {cmd.key}')}"
        for sub in cmd.subcommands:
            help_text = f" -d {_q(sub.help)}" if sub.help else ""
            lines.append(f"complete -c {prog} {guard} -a {_q(sub.path[-1])}{help_text}")
        if cmd.choices:
            lines.append(f"complete -c {prog} {guard} -a {_q(' '.join(cmd.choices))}")
        if cmd.files:
            lines.append(f"complete -c {prog} {guard} -F")
        lines.extend(_option(prog, cmd, opt) for opt in cmd.options)
    nl = "\n"
    return f"""\
# fish completion for {prog}, generated from its argument parser by
# '{prog} completion fish'. Load it with: {prog} completion fish | source
function __safe_pip_path --description 'the {prog} command the typed words reach'
    set -l sp_path {root.key}
    set -l skip 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch "$sp_path $w"
{nl.join(steps)}
            case {takes}
                set skip 1
        end
    end
    echo $sp_path
end

function __safe_pip_at --description 'whether the typed words reach this {prog} command'
    test (__safe_pip_path) = $argv[1]
end

complete -c {prog} -f
{nl.join(lines)}
"""
