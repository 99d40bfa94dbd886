"""The audit journal: who installed what, from where, and why it was allowed.

Every ``safe-pip install`` run (allowed, blocked or failed) ends with one *outcome* record:
time, user, host, command, target, outcome and each artifact with name, version, url,
sha256, verdict and findings. A run that starts pip first writes an *intent* record naming
the files it is about to install, so a run killed while pip works (SIGKILL, power loss)
still leaves a trace; a *pending marker* per intent (in the user's state folder) lets the
next run find such an install cheaply and report it, and ``safe-pip audit`` reports every
intent of the log that never got its outcome.

The log is opened once, when the run starts, and that descriptor is used for every record
of the run: a log made unwritable (renamed, chmod-ed, its folder removed) after the check
cannot turn into an install with no record. Each record is one ``write`` on an ``O_APPEND``
descriptor under an exclusive ``flock``, then ``fsync``-ed, so concurrent runs never
interleave lines and a crash loses at most the record being written. A record that
cannot be written is an error, and an intent that cannot be written means pip never starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import secrets
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from safe_pip.errors import SafePipError

SCHEMA_VERSION = 2
"""2: records carry ``run_id`` and ``kind`` (``intent``, ``outcome``, ``recovered``)."""


class AuditLogError(SafePipError):
    """The audit record could not be written."""


def default_path() -> Path:
    override = os.environ.get("SAFE_PIP_AUDIT_LOG")
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir("safe-pip")) / "audit.jsonl"


def policy_path(log: Path | None) -> Path:
    """The audit log a policy names (``[audit] log``), else :func:`default_path`."""
    return Path(log).expanduser() if log else default_path()


def pending_dir() -> Path:
    """Where this user's intents wait for their outcome (``SAFE_PIP_STATE_DIR`` overrides)."""
    override = os.environ.get("SAFE_PIP_STATE_DIR")
    root = Path(override) if override else Path(platformdirs.user_state_dir("safe-pip"))
    return root / "pending"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


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
    run_id: str | None = None,
    kind: str = "outcome",
) -> dict[str, Any]:
    """One outcome record (also used by the enforcement shims for bypasses)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "run_id": run_id or new_run_id(),
        "time": _now(),
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


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(6)


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise AuditLogError(f"cannot open the audit log {path}: {exc}") from exc


def _write(fd: int, path: Path, record: Mapping[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
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


def append(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as a single line, under an exclusive lock, then fsync."""
    fd = _open(path)
    try:
        _write(fd, path, record)
    finally:
        os.close(fd)


def check_writable(path: Path) -> None:
    """Fail before anything else if the log could not be opened for appending."""
    os.close(_open(path))


@dataclass(frozen=True)
class Unfinished:
    """An install that wrote its intent but never its outcome."""

    run_id: str
    time: str
    pid: int
    target: str
    command: tuple[str, ...]
    files: tuple[str, ...]
    """``name version (sha256 prefix)`` of each file pip was about to install."""

    def describe(self) -> str:
        return (
            f"the install started at {self.time} (run {self.run_id}, pid {self.pid}) into "
            f"{self.target} never recorded its outcome; these files may be installed: "
            + ", ".join(self.files)
        )


def _unfinished_from(record: Mapping[str, Any]) -> Unfinished:
    files = tuple(
        f"{a.get('name')} {a.get('version')} ({str(a.get('sha256'))[:12]})"
        for a in record.get("artifacts", [])
        if isinstance(a, Mapping)
    )
    return Unfinished(
        run_id=str(record.get("run_id")),
        time=str(record.get("time")),
        pid=int(record.get("pid") or 0),
        target=str(record.get("target")),
        command=tuple(str(c) for c in record.get("command", [])),
        files=files,
    )


class Journal:
    """The run's audit log, open from the start of the run to its last record."""

    def __init__(self, path: Path, *, pending: Path | None = None) -> None:
        self.path = path
        self.pending = pending if pending is not None else pending_dir()
        self.run_id = new_run_id()
        self._fd: int | None = _open(path)
        self._marker: Path | None = None

    def _record(self, record: Mapping[str, Any]) -> None:
        if self._fd is None:
            raise AuditLogError(f"the audit log {self.path} was already closed")
        _write(self._fd, self.path, record)

    def intent(
        self, *, command: Sequence[str], target: str, artifacts: Sequence[Mapping[str, Any]]
    ) -> None:
        """Record what pip is about to install; raises (and pip must not start) if it cannot."""
        record = make_record(
            command=command,
            target=target,
            outcome="installing",
            exit_code=-1,
            artifacts=[
                {k: a.get(k) for k in ("name", "version", "filename", "sha256")} for a in artifacts
            ],
            policy_digest=None,
            run_id=self.run_id,
            kind="intent",
        )
        self._record(record)  # the log first: it is the record; the marker only indexes it
        marker = self.pending / f"{self.run_id}.json"
        try:
            self.pending.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(record), encoding="utf-8")
        except OSError as exc:
            raise AuditLogError(f"cannot write the pending-install marker {marker}: {exc}") from exc
        self._marker = marker

    def outcome(self, record: dict[str, Any]) -> None:
        """Write the run's final record, then clear its pending marker."""
        record["run_id"] = self.run_id
        record["kind"] = "outcome"
        self._record(record)
        if self._marker is not None:
            with contextlib.suppress(OSError):
                self._marker.unlink()
            self._marker = None

    def recover(self) -> list[Unfinished]:
        """Earlier runs of this user whose outcome was never written (their process is gone).

        Each is recorded as ``recovered`` (outcome unknown) in the log and its marker
        removed, so it is reported once by the install that finds it; ``safe-pip audit``
        keeps reporting it from the log.
        """
        found: list[Unfinished] = []
        if not self.pending.is_dir():
            return found
        for marker in sorted(self.pending.glob("*.json")):
            try:
                record = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(record, dict):
                continue
            item = _unfinished_from(record)
            if item.run_id == self.run_id or _alive(item.pid, str(record.get("host"))):
                continue
            self._record(
                make_record(
                    command=item.command,
                    target=item.target,
                    outcome="unknown",
                    exit_code=-1,
                    artifacts=record.get("artifacts", []),
                    policy_digest=None,
                    error="the run ended without recording its outcome (killed?)",
                    run_id=item.run_id,
                    kind="recovered",
                )
            )
            with contextlib.suppress(OSError):
                marker.unlink()
            found.append(item)
        return found

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(pid: int, host: str) -> bool:
    """Is the run that wrote an intent still running (so its outcome may still come)?"""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every well-formed record of the log (a torn last line is skipped)."""
    try:
        fh = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    yield record


def unfinished(path: Path) -> list[Unfinished]:
    """Intents in the log with no outcome written by their own run."""
    intents: dict[str, dict[str, Any]] = {}
    finished: set[str] = set()
    for record in read_records(path):
        run_id = str(record.get("run_id"))
        if record.get("kind") == "intent":
            intents[run_id] = record
        elif record.get("kind") == "outcome":
            finished.add(run_id)
    return [_unfinished_from(r) for k, r in intents.items() if k not in finished]


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
