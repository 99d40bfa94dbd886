"""Audit log: one JSON line per ``safe-pip install`` run, appended safely.

Security teams need to answer "who installed what, from where, and why was it
allowed" after the fact, so every run (allowed, blocked or failed) appends one
record: time, user, host, command, target interpreter, outcome, and each
artifact with name, version, url, sha256, verdict and findings.

Concurrent runs share one file.  Each record is written with a single
``write`` on an ``O_APPEND`` descriptor while holding an exclusive ``flock``,
then ``fsync``-ed, so lines never interleave and a crash loses at most the
record being written.  A log that cannot be written is an error: an
organisation that asked for an audit trail does not get silent installs.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from safe_pip.errors import SafePipError

SCHEMA_VERSION = 1


class AuditLogError(SafePipError):
    """The audit record could not be written."""


def default_path() -> Path:
    override = os.environ.get("SAFE_PIP_AUDIT_LOG")
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir("safe-pip")) / "audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def make_record(
    *,
    command: Sequence[str],
    target: str,
    outcome: str,
    exit_code: int,
    artifacts: Sequence[Mapping[str, Any]],
    policy_digest: str | None,
    error: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "time": dt.datetime.now(dt.timezone.utc).isoformat(),
        "user": _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": list(command),
        "target": target,
        "dry_run": dry_run,
        "outcome": outcome,
        "exit_code": exit_code,
        "policy_digest": policy_digest,
        "error": error,
        "artifacts": [dict(a) for a in artifacts],
    }


def check_writable(path: Path) -> None:
    """Fail before installing anything if the audit record could not be written later."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.close(fd)
    except OSError as exc:
        raise AuditLogError(f"cannot open the audit log {path}: {exc}") from exc


def append(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as a single line, under an exclusive lock, then fsync."""
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise AuditLogError(f"cannot open the audit log {path}: {exc}") from exc
    try:
        _lock(fd)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            _unlock(fd)
    except OSError as exc:
        raise AuditLogError(f"cannot write the audit log {path}: {exc}") from exc
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
