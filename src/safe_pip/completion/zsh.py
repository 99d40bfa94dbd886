"""The zsh completion script: native ``_describe``/``_files``, with each item's help.

Load it with ``eval "$(safe-pip completion zsh)"`` after ``compinit``, or save it as
``_safe-pip`` in a folder on ``$fpath`` (the ``#compdef`` line makes it autoloadable).
"""

from __future__ import annotations

import shlex

from safe_pip.completion.spec import Command, Option
from safe_pip.completion.walk import sh_value_arms, sh_walk_arms


def _item(name: str, help_text: str) -> str:
    """One ``name:description`` entry for ``_describe`` (a colon in the name is escaped)."""
    entry = name.replace(":", r"\:") + (f":{help_text}" if help_text else "")
    return shlex.quote(entry)


def _value(opt: Option) -> str:
    if opt.choices:
        return "compadd -- " + " ".join(shlex.quote(c) for c in opt.choices)
    return "_files" if opt.files else f"_message {shlex.quote(opt.help or 'a value')}"


def render(root: Command, prog: str) -> str:
    fn = f"_{root.key}"
    commands = []
    for cmd in root.walk():
        items = [_item(sub.path[-1], sub.help) for sub in cmd.subcommands]
        items += [_item(choice, "") for choice in cmd.choices]
        opts = [_item(f, o.help) for o in cmd.options for f in o.flags]
        commands.append(
            f"        ({cmd.key})\n"
            f"            sp_words=({' '.join(items)})\n"
            f"            sp_flags=({' '.join(opts)})\n"
            f"            sp_files={int(cmd.files)} ;;"
        )
    nl = "\n"
    return f"""\
#compdef {prog}
# zsh completion for {prog}, generated from its argument parser by
# '{prog} completion zsh'. Load it with: eval "$({prog} completion zsh)"
{fn}() {{
    local sp_path={root.key} skip=0 i w opt cur=${{words[CURRENT]}} sp_files=0
    local -a sp_words sp_flags
    for ((i = 2; i < CURRENT; i++)); do
        w=${{words[i]}}
        if ((skip)); then
            skip=0
            continue
        fi
        case "$sp_path $w" in
{sh_walk_arms(root, " " * 12, "(")}
        esac
    done
    opt=${{words[CURRENT-1]}}
    if [[ $cur == -*=* ]]; then
        opt=${{cur%%=*}}
        compset -P '*='
    fi
    case "$sp_path $opt" in
{sh_value_arms(root, " " * 8, "(", _value, "return")}
    esac
    case $sp_path in
{nl.join(commands)}
    esac
    if [[ $cur == -* ]]; then
        _describe -t options option sp_flags
        return
    fi
    (( ${{#sp_words}} )) && _describe -t commands command sp_words
    (( sp_files )) && _files
    return 0
}}

if [[ ${{zsh_eval_context[-1]}} == loadautofunc ]]; then
    {fn} "$@"
else
    compdef {fn} {prog}
fi
"""
