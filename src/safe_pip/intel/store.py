"""The local threat-intelligence database: one SQLite file, replaced whole or not at all.

Why SQLite: a lookup per artifact must cost nothing measurable (an indexed query on the
canonical name, another on the sha256), the data must be usable offline, and a reader must never
see a half-written database. Writers build a complete new file beside the live one and
``os.replace`` it in; a sync killed midway leaves the previous database untouched (and a stale
temporary file that the next sync removes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from safe_pip.errors import SafePipError
from safe_pip.intel.osv import Advisory, Affected, Event, Kind, Level, parse_time

FORMAT = "1"
"""Bumped when the tables change; an older file is refused and must be synced again."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, summary TEXT NOT NULL, aliases TEXT NOT NULL,
    modified TEXT NOT NULL, withdrawn INTEGER NOT NULL, level TEXT NOT NULL, score REAL
);
CREATE TABLE affected (
    advisory TEXT NOT NULL, name TEXT NOT NULL, versions TEXT NOT NULL, ranges TEXT NOT NULL
);
CREATE INDEX affected_name ON affected (name);
CREATE TABLE file_digest (
    sha256 TEXT NOT NULL, advisory TEXT NOT NULL, name TEXT NOT NULL, filename TEXT NOT NULL
);
CREATE INDEX file_digest_sha256 ON file_digest (sha256);
"""


class StoreError(SafePipError):
    """The database is missing, unreadable or of another format."""


@dataclass(frozen=True)
class Status:
    """What ``safe-pip intel status`` reports, and what staleness is judged on."""

    path: Path
    source: str
    synced_at: dt.datetime
    newest_record: dt.datetime | None
    malicious: int
    vulnerabilities: int
    packages: int
    rejected: int


@dataclass(frozen=True)
class Match:
    """An advisory that names a package, with the entry that named it."""

    advisory: Advisory
    affected: Affected


@dataclass(frozen=True)
class FileMatch:
    """A reported file whose sha256 equals an artifact's."""

    advisory_id: str
    kind: Kind
    name: str
    filename: str
    summary: str


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _ranges_json(ranges: tuple[tuple[Event, ...], ...]) -> str:
    return json.dumps([[[e.kind, e.version] for e in r] for r in ranges])


def _insert(conn: sqlite3.Connection, adv: Advisory) -> None:
    conn.execute("DELETE FROM advisory WHERE id = ?", (adv.id,))
    conn.execute("DELETE FROM affected WHERE advisory = ?", (adv.id,))
    conn.execute("DELETE FROM file_digest WHERE advisory = ?", (adv.id,))
    conn.execute(
        "INSERT INTO advisory VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            adv.id,
            adv.kind,
            adv.summary,
            json.dumps(list(adv.aliases)),
            _iso(adv.modified),
            int(adv.withdrawn),
            adv.level,
            adv.score,
        ),
    )
    for aff in adv.affected:
        conn.execute(
            "INSERT INTO affected VALUES (?, ?, ?, ?)",
            (adv.id, aff.name, json.dumps(list(aff.versions)), _ranges_json(aff.ranges)),
        )
        conn.executemany(
            "INSERT INTO file_digest VALUES (?, ?, ?, ?)",
            [(sha, adv.id, aff.name, fname) for sha, fname in aff.files],
        )


class Writer:
    """Builds the next database in a temporary file; :meth:`commit` swaps it in atomically."""

    def __init__(self, target: Path, *, base: Path | None = None) -> None:
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        self.conn = sqlite3.connect(self.tmp)
        if base is not None:
            # Incremental: start from a copy of the live database (SQLite's backup API copies
            # a consistent snapshot even while others read it).
            src = _connect_ro(base)
            try:
                src.backup(self.conn)
            finally:
                src.close()
        else:
            self.conn.executescript(_SCHEMA)
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("BEGIN")

    def add(self, advisories: Iterable[Advisory]) -> int:
        n = 0
        for adv in advisories:
            _insert(self.conn, adv)
            n += 1
        return n

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM advisory").fetchone()[0])

    def commit(self, meta: dict[str, str]) -> None:
        """Write the metadata, make the file durable, and replace the live database."""
        meta = {**meta, "format": FORMAT}
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(meta.items()))
        self.conn.commit()
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("VACUUM")
        self.conn.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.target)
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def remove_stale_temporaries(target: Path) -> None:
    """Temporary files of syncs that were killed (their process is gone)."""
    for tmp in target.parent.glob(f"{target.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _connect_ro(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"no threat-intelligence database at {path}: run 'safe-pip intel sync'")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"the threat-intelligence database {path} is unreadable: {exc}") from exc
    return conn


class IntelDB:
    """Read-only access to a synced database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = _connect_ro(path)
        meta = self.meta()
        if meta.get("format") != FORMAT:
            self._conn.close()
            raise StoreError(
                f"the threat-intelligence database {path} has format "
                f"{meta.get('format')!r}, this safe-pip reads {FORMAT!r}: run 'safe-pip intel sync'"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> IntelDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        try:
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"the threat-intelligence database is unreadable: {exc}") from exc

    def status(self) -> Status:
        meta = self.meta()
        try:
            synced = parse_time(meta.get("synced_at"), "synced_at")
        except ValueError as exc:
            raise StoreError(f"the database's sync time is unreadable: {exc}") from exc
        newest = meta.get("newest_record")
        counts = dict(
            self._conn.execute(
                "SELECT kind, COUNT(*) FROM advisory WHERE withdrawn = 0 GROUP BY kind"
            ).fetchall()
        )
        (packages,) = self._conn.execute("SELECT COUNT(DISTINCT name) FROM affected").fetchone()
        return Status(
            path=self.path,
            source=meta.get("source", ""),
            synced_at=synced,
            newest_record=parse_time(newest, "newest_record") if newest else None,
            malicious=int(counts.get("malicious", 0)),
            vulnerabilities=int(counts.get("vulnerability", 0)),
            packages=int(packages),
            rejected=int(meta.get("rejected", "0")),
        )

    def for_name(self, name: str) -> list[Match]:
        """Every live advisory naming the canonical project ``name``."""
        rows = self._conn.execute(
            "SELECT a.id, a.kind, a.summary, a.aliases, a.modified, a.withdrawn, a.level, "
            "a.score, f.versions, f.ranges FROM affected f JOIN advisory a ON a.id = f.advisory "
            "WHERE f.name = ? AND a.withdrawn = 0 ORDER BY a.id",
            (name,),
        ).fetchall()
        return [self._match(name, row) for row in rows]

    def for_sha256(self, sha256: str) -> list[FileMatch]:
        rows = self._conn.execute(
            "SELECT d.advisory, a.kind, d.name, d.filename, a.summary FROM file_digest d "
            "JOIN advisory a ON a.id = d.advisory WHERE d.sha256 = ? AND a.withdrawn = 0 "
            "ORDER BY d.advisory",
            (sha256.lower(),),
        ).fetchall()
        return [FileMatch(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    @staticmethod
    def _match(name: str, row: tuple[object, ...]) -> Match:
        rid, kind, summary, aliases, modified, withdrawn, level, score, versions, ranges = row
        affected = Affected(
            name=name,
            versions=tuple(json.loads(str(versions))),
            ranges=tuple(
                tuple(Event(str(k), str(v)) for k, v in rng) for rng in json.loads(str(ranges))
            ),
            files=(),
        )
        advisory = Advisory(
            id=str(rid),
            kind="malicious" if kind == "malicious" else "vulnerability",
            summary=str(summary),
            aliases=tuple(json.loads(str(aliases))),
            modified=parse_time(modified, "modified"),
            withdrawn=bool(withdrawn),
            level=_level(str(level)),
            score=float(score) if isinstance(score, (int, float)) else None,
            affected=(affected,),
        )
        return Match(advisory, affected)


def _level(value: str) -> Level:
    for level in ("critical", "high", "medium", "low"):
        if value == level:
            return level
    return "unknown"


@contextlib.contextmanager
def open_db(path: Path) -> Iterator[IntelDB]:
    db = IntelDB(path)
    try:
        yield db
    finally:
        db.close()
