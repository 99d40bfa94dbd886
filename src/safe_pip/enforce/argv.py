"""Classify a pip command line: which commands the gate takes, which pass through.

Only ``install`` (and, when the policy says so, ``download`` and ``wheel``)
reach safe-pip; everything else (``list``, ``show``, ``freeze``,
``uninstall``...) goes to the real pip unchanged.  pip's general options may
come before the sub-command (``pip -q --python X install foo``), so the
sub-command is found by walking pip's general options, knowing which take a
value.  Where the walk is unsure, it errs towards the gate: a command line
that contains ``install`` and cannot be read confidently is gated, and the gate
refuses what it does not understand (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RouteKind = Literal["gate", "vet-then-pass", "pass"]

# pip's general options that take a value (pip/_internal/cli/cmdoptions.py, general_group).
_GENERAL_VALUE_OPTS = frozenset(
    [
        "--python",
        "--log",
        "--log-file",
        "--local-log",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--keyring-provider",
        "--use-feature",
        "--use-deprecated",
        "--resume-retries",
    ]
)
_HELP = frozenset(["-h", "--help"])
_VERSION = frozenset(["-V", "--version"])
GATED = frozenset(["install"])
DOWNLOADS = frozenset(["download", "wheel"])
# Options of pip download/wheel that name where files go; not meaningful to a vetting dry run.
_DEST_OPTS = frozenset(["-d", "--dest", "--destination-dir", "--destination", "-w", "--wheel-dir"])


@dataclass(frozen=True)
class Route:
    """What to do with one pip command line.

    ``kind``: ``gate`` → ``safe-pip install`` with ``install_args``;
    ``vet-then-pass`` → ``safe-pip install --dry-run`` with ``install_args``,
    then the real pip with the original arguments; ``pass`` → the real pip.
    ``python`` is the interpreter named by pip's own ``--python`` option, which
    takes precedence over the environment the shim found.
    """

    kind: RouteKind
    command: str | None
    install_args: tuple[str, ...] = ()
    python: str | None = None


def _split(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
        return name, value
    return arg, None


def classify(args: list[str] | tuple[str, ...], *, gate_download: bool = False) -> Route:
    """Decide where ``pip <args>`` goes (``args`` excludes the program name)."""
    general: list[str] = []
    python: str | None = None
    command: str | None = None
    unsure = False
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            command = arg
            break
        if arg == "--":
            unsure = True
            break
        name, value = _split(arg)
        if name in _GENERAL_VALUE_OPTS:
            if value is None:
                if i >= len(args):
                    break
                value = args[i]
                i += 1
            if name == "--python":
                python = value
            else:
                general += [name, value]
            continue
        if name.startswith("--") or re.fullmatch(r"-(?:[hV]|v+|q+)", name):
            general.append(arg)
            continue
        unsure = True  # a short option we do not know: maybe a value follows
        general.append(arg)
    rest = list(args[i:])
    wanted = GATED | (DOWNLOADS if gate_download else frozenset())
    if command is None or (unsure and command not in wanted):
        hit = next((a for a in args if a in wanted), None)
        if hit is not None:
            # Cannot read the line confidently but it mentions a gated command: gate it.
            return Route("gate", hit, tuple(a for a in args if a != hit), python)
        return Route("pass", command, (), python)
    if command not in wanted or any(a in _HELP or a in _VERSION for a in rest + general):
        return Route("pass", command, (), python)
    if command in GATED:
        return Route("gate", command, tuple(general + rest), python)
    return Route("vet-then-pass", command, tuple(general + _drop_dest(rest)), python)


def _drop_dest(args: list[str]) -> list[str]:
    """``pip download -d DIR x`` → ``x``: the vetting dry run installs nowhere."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name, value = _split(arg)
        if name in _DEST_OPTS:
            i += 1 if value is None else 0
            continue
        if not arg.startswith("--") and arg[:2] in ("-d", "-w") and len(arg) > 2:
            continue  # -dDIR
        out.append(arg)
    return out


def python_m_pip(args: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """The pip arguments if ``python <args>`` runs pip (``-m pip ...``), else ``None``.

    Recognises ``-m pip``, ``-mpip`` and interpreter flags before them
    (``python -I -m pip``); ``-c``/a script path mean the command is not pip.
    """
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-m", "-mpip") or arg.startswith("-m"):
            module = arg[2:] if len(arg) > 2 else (args[i + 1] if i + 1 < len(args) else "")
            skip = 1 if len(arg) > 2 else 2
            if module in ("pip", "pip.__main__"):
                return tuple(args[i + skip :])
            return None
        if arg in ("-W", "-X", "--check-hash-based-pycs"):
            i += 2
            continue
        if arg.startswith("-") and arg not in ("-", "-c") and not arg.startswith("-c"):
            i += 1
            continue
        return None
    return None
