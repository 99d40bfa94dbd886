"""The runtime behind every shim and shell function: gate ``install``, pass the rest.

Invoked as ``<python> -m safe_pip.enforce.dispatch --as NAME [--shim-dir DIR]
-- ARGS...`` where NAME is what the user typed (``pip``, ``pip3.11``,
``python3``).  Kept free of argparse and of heavy imports so that ``pip list``
through a shim costs one interpreter start; the policy is loaded only when a
command is gated or a bypass is asked for.

Fail closed: when the environment the replaced pip belongs to cannot be
found, a gated command is refused (exit 2) rather than handed to any pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.enforce import argv as pip_argv
from safe_pip.enforce import discover
from safe_pip.errors import EXIT_ERROR, SafePipError

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

NESTED_ENV = "SAFE_PIP_IN_GATE"


@dataclass(frozen=True)
class Invocation:
    name: str
    shim_dirs: tuple[Path, ...]
    args: tuple[str, ...]


def parse(argv: Sequence[str]) -> Invocation:
    """``--as NAME [--shim-dir DIR]... -- ARGS``; anything else is a usage error."""
    name: str | None = None
    dirs: list[Path] = []
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            i += 1
            break
        if arg in ("--as", "--shim-dir") and i + 1 < len(items):
            if arg == "--as":
                name = items[i + 1]
            else:
                dirs.append(Path(items[i + 1]))
            i += 2
            continue
        raise SafePipError(f"dispatch: unexpected argument {arg!r}")
    if not name:
        raise SafePipError("dispatch: --as NAME is required")
    return Invocation(name, tuple(dirs), tuple(items[i:]))


def _say(msg: str) -> None:
    print(f"safe-pip: {msg}", file=sys.stderr)


def _exec(cmd: list[str]) -> int:
    """Replace this process with ``cmd`` (POSIX); run it and return its code elsewhere."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "nt":
        os.execv(cmd[0], cmd)
    return subprocess.run(cmd).returncode


def _safe_pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "safe_pip", *args]


def run(inv: Invocation) -> int:
    is_python = not inv.name.startswith("pip")
    real = discover.find_real(inv.name, skip_dirs=inv.shim_dirs)
    if is_python:
        pip_args = pip_argv.python_m_pip(inv.args)
        if pip_args is None:
            if real is None:
                _say(f"no {inv.name} found on PATH after the safe-pip shims")
                return EXIT_ERROR
            return _exec([str(real), *inv.args])
        target = real
    else:
        pip_args = inv.args
        target = discover.interpreter_of(real) if real is not None else None
        if target is None:
            suffix = discover.pip_version_suffix(inv.name) or ""
            target = discover.find_real(f"python{suffix}", skip_dirs=inv.shim_dirs)
            if target is None and not suffix:
                target = discover.find_real("python3", skip_dirs=inv.shim_dirs)

    route = pip_argv.classify(pip_args, gate_download=True)
    if route.python:
        target = Path(route.python)

    def real_pip() -> list[str] | None:
        """The command the user would have run without safe-pip."""
        if is_python:
            return [str(real), *inv.args] if real is not None else None
        if real is not None:
            return [str(real), *pip_args]
        return [str(target), "-m", "pip", *pip_args] if target is not None else None

    policy: Policy | None = None
    if route.kind == "vet-then-pass":
        policy = _policy()
        if not policy.enforcement.gate_download:
            route = pip_argv.Route("pass", route.command)
    if route.kind == "pass":
        cmd = real_pip()
        if cmd is None:
            _say(f"no real {inv.name} found on PATH after the safe-pip shims")
            return EXIT_ERROR
        return _exec(cmd)

    if target is None:
        _say(
            f"cannot tell which Python environment '{inv.name}' belongs to "
            "(no real pip or python on PATH); refusing to run pip "
            f"{route.command} ungated"
        )
        return EXIT_ERROR
    if os.environ.get(NESTED_ENV):
        _say(f"refusing a nested 'pip {route.command}' started from inside a gated install")
        return EXIT_ERROR

    from safe_pip.enforce import escape

    if escape.requested() is not None:
        policy = policy or _policy()
        decision = escape.decide_bypass(policy, command=[inv.name, *inv.args], target=str(target))
        if decision.allowed:
            _say(f"escape hatch used ({decision.reason}); recorded in the audit log")
            cmd = real_pip()
            assert cmd is not None
            return _exec(cmd)
        _say(
            f"{escape.BYPASS_ENV} is set but the policy does not permit an escape hatch "
            "([enforcement] escape_hatch); the attempt was recorded; going through the gate"
        )

    env = dict(os.environ)
    env[NESTED_ENV] = "1"
    env.pop(escape.BYPASS_ENV, None)
    gate = _safe_pip("install", "--python", str(target))
    if route.kind == "gate":
        return subprocess.run([*gate, *route.install_args], env=env).returncode
    # pip download / pip wheel under gate_download: vet the same requirements first.
    vetted = subprocess.run([*gate, "--dry-run", *route.install_args], env=env).returncode
    if vetted != 0:
        _say(f"pip {route.command} refused: the requirements did not pass the gate")
        return vetted
    cmd = real_pip()
    assert cmd is not None
    return _exec(cmd)


def _policy() -> Policy:
    from safe_pip.gate.fetch import https_client
    from safe_pip.policy import load_policy

    return load_policy(None, http=https_client)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(parse(sys.argv[1:] if argv is None else argv))
    except SafePipError as exc:
        _say(f"error: {exc}; nothing was installed")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted; nothing was installed")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
