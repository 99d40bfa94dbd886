"""Shell functions that route ``pip`` and ``python -m pip`` through safe-pip.

Printed by ``safe-pip shell-init SHELL`` for the user (or an MDM profile) to
``eval`` from a start-up file; safe-pip never edits rc files itself.  Functions
are used rather than aliases because they also work in ``bash -c`` scripts
that source the rc file, take precedence over every ``PATH`` entry (an
activated virtual environment included) and can inspect ``python``'s
arguments to catch ``python -m pip``.

Each function calls the dispatcher with the absolute interpreter that has
safe-pip installed.  If that interpreter is gone, the function refuses to run
pip (exit 2) instead of quietly running the real one: fail closed.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from safe_pip.enforce.names import pip_names, python_names

SHELLS = ("bash", "zsh", "fish", "powershell")
DISPATCH = "safe_pip.enforce.dispatch"
_REFUSE = "safe-pip: not found at {py}; refusing to run {name} (fail closed)"


def _posix(py: Path) -> str:
    q = shlex.quote(str(py))
    lines = [
        "# safe-pip shell-init: route pip and python -m pip through safe-pip.",
        '# Add to your shell start-up file:  eval "$(safe-pip shell-init SHELL)"',
        f"__safe_pip_py={q}",
        "__safe_pip_run() {",
        '    if [ ! -x "$__safe_pip_py" ]; then',
        "        printf 'safe-pip: not found at %s; refusing to run %s (fail closed)\\n' "
        '"$__safe_pip_py" "$1" >&2',
        "        return 2",
        "    fi",
        f'    "$__safe_pip_py" -m {DISPATCH} --as "$@"',
        "}",
    ]
    for name in pip_names():
        lines.append(f'{name}() {{ __safe_pip_run {name} -- "$@"; }}')
    for name in python_names():
        lines.append(
            f'{name}() {{ case " $* " in *pip*) __safe_pip_run {name} -- "$@" ;; '
            f'*) command {name} "$@" ;; esac; }}'
        )
    return "\n".join(lines) + "\n"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(py: Path) -> str:
    q = _fish_quote(str(py))
    lines = [
        "# safe-pip shell-init fish: add to config.fish:  safe-pip shell-init fish | source",
        f"set -g __safe_pip_py {q}",
        "function __safe_pip_run",
        "    if not test -x $__safe_pip_py",
        "        printf 'safe-pip: not found at %s; refusing to run %s (fail closed)\\n' "
        "$__safe_pip_py $argv[1] >&2",
        "        return 2",
        "    end",
        f"    $__safe_pip_py -m {DISPATCH} --as $argv",
        "end",
    ]
    for name in pip_names():
        lines += [f"function {name}", f"    __safe_pip_run {name} -- $argv", "end"]
    for name in python_names():
        lines += [
            f"function {name}",
            "    if string match -q -- '*pip*' \"$argv\"",
            f"        __safe_pip_run {name} -- $argv",
            "    else",
            f"        command {name} $argv",
            "    end",
            "end",
        ]
    return "\n".join(lines) + "\n"


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _powershell(py: Path) -> str:
    q = _ps_quote(str(py))
    lines = [
        "# safe-pip shell-init powershell: add to $PROFILE:",
        '#   (& safe-pip shell-init powershell) -join "`n" | Invoke-Expression',
        f"$global:SafePipPy = {q}",
        "function global:Invoke-SafePip {",
        "    param([string]$Name, [object[]]$Rest)",
        "    if (-not (Test-Path -LiteralPath $global:SafePipPy)) {",
        "        [Console]::Error.WriteLine("
        '"safe-pip: not found at $($global:SafePipPy); refusing to run $Name (fail closed)")',
        "        $global:LASTEXITCODE = 2",
        "        return",
        "    }",
        f"    & $global:SafePipPy -m {DISPATCH} --as $Name -- @Rest",
        "}",
    ]
    for name in pip_names():
        lines.append(f"function global:{name} {{ Invoke-SafePip -Name '{name}' -Rest $args }}")
    for name in python_names():
        lines.append(
            f"function global:{name} {{ if (\"$args\" -match 'pip') "
            f"{{ Invoke-SafePip -Name '{name}' -Rest $args }} else {{ "
            f"$exe = Get-Command -Name '{name}' -CommandType Application "
            "-ErrorAction SilentlyContinue | Select-Object -First 1; "
            "if ($exe) { & $exe.Source @args } else { "
            f"[Console]::Error.WriteLine('{name}: not found'); $global:LASTEXITCODE = 127 }} }} }}"
        )
    return "\n".join(lines) + "\n"


_RENDER: dict[str, Callable[[Path], str]] = {
    "bash": _posix,
    "zsh": _posix,
    "fish": _fish,
    "powershell": _powershell,
}


def render(shell: str, python: Path | None = None) -> str:
    """The start-up snippet for ``shell``, calling safe-pip under ``python``."""
    return _RENDER[shell](python or Path(sys.executable))
