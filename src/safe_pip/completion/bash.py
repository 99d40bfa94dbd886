"""The bash completion script (bash 3.2 and later: no associative arrays).

Load it with ``eval "$(safe-pip completion bash)"`` or save it into
``~/.local/share/bash-completion/completions/safe-pip``.
"""

from __future__ import annotations

import shlex

from safe_pip.completion.spec import Command, Option
from safe_pip.completion.walk import flags, sh_value_arms, sh_walk_arms, words


def _value(opt: Option) -> str:
    if opt.choices:
        return f'COMPREPLY=($(compgen -W {shlex.quote(" ".join(opt.choices))} -- "$cur"))'
    return "_safe_pip_files" if opt.files else "COMPREPLY=()"


def render(root: Command, prog: str) -> str:
    fn = f"_{root.key}"
    commands = [
        f"        {cmd.key}) sp_words={shlex.quote(' '.join(words(cmd)))}; "
        f"sp_flags={shlex.quote(' '.join(flags(cmd)))}; sp_files={int(cmd.files)} ;;"
        for cmd in root.walk()
    ]
    nl = "\n"
    return f"""\
# bash completion for {prog}, generated from its argument parser by
# '{prog} completion bash'. Load it with: eval "$({prog} completion bash)"
_safe_pip_files() {{
    compopt -o filenames 2>/dev/null
    COMPREPLY+=($(compgen -f -- "$cur"))
}}

{fn}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" sp_path={root.key} skip=0 i w opt
    local sp_words="" sp_flags="" sp_files=0
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        if ((skip)); then
            skip=0
            [[ $w == "=" ]] && skip=1
            continue
        fi
        case "$sp_path $w" in
{sh_walk_arms(root, " " * 12, "")}
        esac
    done
    opt="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [[ $opt == "=" ]] && ((COMP_CWORD > 1)); then
        opt="${{COMP_WORDS[COMP_CWORD-2]}}"
    fi
    [[ $cur == "=" ]] && cur=""
    case "$sp_path $opt" in
{sh_value_arms(root, " " * 8, "", _value, "return 0")}
    esac
    case "$sp_path" in
{nl.join(commands)}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$sp_flags" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -W "$sp_words" -- "$cur"))
    if ((sp_files)); then
        _safe_pip_files
    fi
    return 0
}}
complete -F {fn} {prog}
"""
