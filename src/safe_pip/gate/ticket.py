"""Single-use tickets: how the gate's own pip call passes safe-pip's hook, and nothing else.

An environment that safe-pip manages runs every pip command that resolves requirements
(``install``, ``download``, ``wheel``, ``lock``) through the gate, whoever starts pip
(see :mod:`safe_pip.enforce.hook`). The gate's own final ``pip install`` of the vetted
files must get through that hook, and nothing else may. An environment variable cannot
carry that permission (any tool, README or Makefile could set it), so the gate writes a
ticket into safe-pip's private directory just before it starts pip:

- the ticket is named by the digest of the exact pip command (the command word and the
  argument list pip hands that command), so it admits that one command line only;
- it lists the sha256 of each file the command reads (the generated requirements file
  with the vetted files and their hashes), which the hook checks before pip reads them;
- the hook deletes it before it acts (an ``unlink`` only one process can win), so it is
  used at most once, and it expires after :data:`TTL` seconds if pip never starts.

The directory is created ``0700`` and the hook refuses tickets from a directory that is
not owned by the user running pip or that others may write. Whoever can write there can
write a ticket: that is the user themself, who could equally delete the hook; tickets
stop accidents and tools, not the owner of the machine (docs/enforcement.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from safe_pip.errors import SafePipError

TTL = 600.0
"""Seconds a ticket stays valid: pip starts within moments of the gate writing it."""
SUFFIX = ".ticket"


class TicketError(SafePipError):
    """A ticket could not be written; the gate's pip call would be refused, so stop here."""


def state_dir() -> Path:
    """This user's enforcement state: ``$XDG_STATE_HOME`` or ``~/.local/state`` (Windows:
    ``%LOCALAPPDATA%``), then ``safe-pip``.

    The hook computes the same path with the standard library (``_safe_pip_hook._state_dir``;
    a unit test checks they agree), so one hook, installed by an administrator into a shared
    interpreter, finds each user's own tickets and registry.
    """
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "safe-pip"


def ticket_dir() -> Path:
    """This user's ticket directory: where the hook of any protected environment looks."""
    return state_dir() / "tickets"


def command_args(command: str, pip_args: Sequence[str]) -> list[str]:
    """What pip hands the command: ``pip_args`` minus the first ``command`` word.

    pip's ``parse_command`` does exactly this (``cmd_args.remove(cmd_name)``), and the
    hook sees the result as the argument of ``Command.main``.
    """
    args = list(pip_args)
    try:
        args.remove(command)
    except ValueError:
        raise TicketError(f"the pip command line has no {command!r} word") from None
    return args


def key(command: str, args: Sequence[str]) -> str:
    """The ticket's name: the digest of the command and its exact argument list."""
    blob = json.dumps([command, list(args)], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _private_dir(directory: Path) -> Path:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name != "nt":
            directory.chmod(0o700)
    except OSError as exc:
        raise TicketError(f"cannot create the ticket directory {directory}: {exc}") from exc
    return directory


def sweep(directory: Path, now: float | None = None) -> None:
    """Remove expired tickets (pip never started for them)."""
    now = time.time() if now is None else now
    try:
        entries = list(directory.glob(f"*{SUFFIX}"))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat().st_mtime + TTL < now:
                entry.unlink()
        except OSError:
            continue


def issue(
    command: str,
    pip_args: Sequence[str],
    *,
    files: Sequence[Path] = (),
    directory: Path | None = None,
) -> Path:
    """Admit one run of ``pip <pip_args>`` (everything after ``-m pip``) through the hook."""
    where = _private_dir(directory or ticket_dir())
    sweep(where)
    args = command_args(command, pip_args)
    body = {
        "format": 1,
        "command": command,
        "argv": args,
        "files": {str(Path(f).resolve()): file_digest(Path(f)) for f in files},
        "expires": time.time() + TTL,
    }
    path = where / f"{key(command, args)}{SUFFIX}"
    tmp = where / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh)
        tmp.replace(path)
    except OSError as exc:
        raise TicketError(f"cannot write a ticket in {where}: {exc}") from exc
    return path


def admit(cmd: Sequence[str], command: str, *, files: Sequence[Path] = ()) -> Path:
    """:func:`issue` for a full ``[python, ..., -m, pip, ...]`` command list."""
    try:
        start = next(i for i in range(len(cmd) - 1) if cmd[i] == "-m" and cmd[i + 1] == "pip")
    except StopIteration:
        raise TicketError("not a 'python -m pip' command") from None
    return issue(command, cmd[start + 2 :], files=files)


def withdraw(path: Path) -> None:
    """Remove a ticket pip did not use (its run failed to start)."""
    with contextlib.suppress(OSError):
        path.unlink()
