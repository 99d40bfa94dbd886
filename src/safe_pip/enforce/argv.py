"""Read a ``python ...`` command line the way CPython does: does it run pip, and with site?

pip's own arguments are never classified here: the dispatcher hands them to the shared
grammar (:func:`safe_pip.gate.pip_options.parse_pip_command`, the target pip's option
table parsed by optparse as pip parses it). This module only answers what the
interpreter's options mean, following CPython's rules (``Modules/main.c``, ``getopt``):
single-letter flags cluster (``-Impip`` is ``-I -m pip``, ``-sEm pip`` is ``-s -E -m pip``),
``-m``, ``-c``, ``-W`` and ``-X`` take the rest of their cluster or the next argument,
``-c``/``-m``/a script/``-`` end the interpreter's options, and ``-S`` turns ``site`` off
(no ``.pth`` file runs, so the per-environment hook cannot either).

What counts as running pip: ``-m pip`` or any ``pip.*`` module (``pip.__main__``,
``pip.__pip-runner__``: when in doubt, it is pip), or a script that is pip's folder, a file
in it (``__main__.py``, ``__pip-runner__.py``) or a pip zipapp. ``-c`` code and other
scripts are not read: code can do anything, which is what the per-environment hook is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

_NO_VALUE = frozenset("bBdEhiIOPqsSuvVx?R")
_WITH_VALUE = frozenset("WX")
_LONG_WITH_VALUE = frozenset(["--check-hash-based-pycs"])


@dataclass(frozen=True)
class PythonCall:
    """What ``python ARGS`` runs."""

    flags: frozenset[str]
    """Single-letter interpreter flags given (``I``, ``s``, ``S``, ``E``...)."""
    module: str | None = None
    script: str | None = None
    code: str | None = None
    rest: tuple[str, ...] = ()
    """The arguments the module, script or code sees (``sys.argv[1:]``)."""

    @property
    def no_site(self) -> bool:
        return "S" in self.flags

    @property
    def runs_pip(self) -> bool:
        if self.module is not None:
            return self.module == "pip" or self.module.startswith("pip.")
        if self.script is not None:
            return is_pip_script(self.script)
        return False


def is_pip_script(script: str) -> bool:
    """pip's folder, a file directly in it, or a zipapp named like pip."""
    path = PurePath(script.rstrip("/\\") or script)
    if path.name == "pip":
        return True
    if path.parent.name == "pip" and path.suffix == ".py":
        return True
    return path.suffix in (".pyz", ".zip") and path.name.startswith("pip")


def parse_python(args: list[str] | tuple[str, ...]) -> PythonCall:
    """Split ``python ARGS`` into interpreter flags and what runs."""
    flags: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--" or not arg.startswith("-") or arg == "-":
            if arg == "--":
                if i >= len(args):
                    break
                arg = args[i]
                i += 1
            return PythonCall(frozenset(flags), script=arg, rest=tuple(args[i:]))
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if name in _LONG_WITH_VALUE and "=" not in arg:
                i += 1
            continue
        j = 1
        while j < len(arg):
            letter = arg[j]
            tail = arg[j + 1 :]
            if letter in ("m", "c"):
                if tail:
                    value = tail
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    return PythonCall(frozenset(flags))
                rest = tuple(args[i:])
                if letter == "m":
                    return PythonCall(frozenset(flags), module=value, rest=rest)
                return PythonCall(frozenset(flags), code=value, rest=rest)
            if letter in _WITH_VALUE:
                if not tail:
                    i += 1
                break
            flags.add(letter)
            j += 1
    return PythonCall(frozenset(flags))
