"""The server's state: verdicts, scan claims, audit records and the fleet inventory.

Two back ends behind one small class, chosen by the database URL:

* ``sqlite:///PATH`` (the default): one file, for one server process (WAL mode, so page
  reads never wait for a verdict being written);
* ``postgresql://...`` (psycopg 3): for several workers and replicas sharing one state.

Tables:

``verdicts``
    What vetting found in one file's bytes, keyed by ``(sha256, scanner version, policy
    digest)``: a new scanner or a changed policy re-vets, nothing else does. Findings are
    stored, not only the decision, because the decision is re-derived on every request
    (``decide`` applies expiring exceptions by today's date).
``claims``
    One row per file being vetted, with an owner and a lease that expires. Taking a claim
    is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`` -- atomic in both
    back ends -- so of twenty requests on ten replicas exactly one vets; the owner renews
    the lease while it works, so a worker killed mid-scan stops renewing and another takes
    the file over once the lease runs out.
``audit``
    An append-only record of every file served or refused, and of every vetting run (the
    scan-once proof counts those).
``inventory``
    What each machine's environments have installed (``safe-pip audit --push``), so
    incident response can ask who has ``torchvision-optimized``.

Every failure is raised as :class:`DatabaseError`; the app answers 503 and serves nothing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from safe_pip.errors import SafePipError

SCHEMA = 1


class DatabaseError(SafePipError):
    """The state database failed; the server fails closed (503, nothing served)."""


@dataclass(frozen=True)
class StoredVerdict:
    """What vetting found in one file (content findings only; see :mod:`vetting`)."""

    sha256: str
    scanner: str
    policy: str
    project: str
    version: str
    filename: str
    size: int
    decision: str
    """The decision when it was vetted (informational; requests decide again)."""
    findings: list[dict[str, Any]]
    metadata_sha256: str | None
    """sha256 of the wheel's own ``METADATA`` (served as its PEP 658 file), if any."""
    provenance_url: str | None
    """Where the upstream serves the file's PEP 740 provenance, if it said."""
    created: float


@dataclass(frozen=True)
class Installed:
    """One distribution in one pushed environment."""

    machine: str
    environment: str
    name: str
    version: str
    pushed: float


def _ddl(id_column: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS verdicts ("
        " sha256 TEXT NOT NULL, scanner TEXT NOT NULL, policy TEXT NOT NULL,"
        " project TEXT NOT NULL, version TEXT NOT NULL, filename TEXT NOT NULL,"
        " size BIGINT NOT NULL, decision TEXT NOT NULL, findings TEXT NOT NULL,"
        " metadata_sha256 TEXT, provenance_url TEXT, created DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (sha256, scanner, policy))",
        "CREATE TABLE IF NOT EXISTS claims ("
        " key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS audit ({id_column},"
        " at DOUBLE PRECISION NOT NULL, event TEXT NOT NULL, client TEXT NOT NULL,"
        " project TEXT, filename TEXT, sha256 TEXT, decision TEXT, rules TEXT, detail TEXT)",
        "CREATE INDEX IF NOT EXISTS audit_sha ON audit (sha256, event)",
        "CREATE TABLE IF NOT EXISTS inventory ("
        " machine TEXT NOT NULL, environment TEXT NOT NULL, name TEXT NOT NULL,"
        " version TEXT NOT NULL, pushed DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (machine, environment, name))",
        "CREATE INDEX IF NOT EXISTS inventory_name ON inventory (name)",
    )


class Database:
    """One connection per thread to SQLite or PostgreSQL; every error as DatabaseError."""

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = urlsplit(url).scheme
        if scheme == "sqlite":
            self.kind = "sqlite"
            self._path: Path | None = _sqlite_path(url)
        elif scheme in ("postgresql", "postgres"):
            self.kind = "postgresql"
            self._path = None
        else:
            raise DatabaseError(
                f"unsupported database URL {url.split('@')[-1]!r}: use sqlite:///PATH or "
                "postgresql://USER@HOST/DB"
            )
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.kind == "sqlite":
            assert self._path is not None
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self) -> None:
        """Forget this thread's connection after an error (the next call reconnects)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may not close cleanly
                conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    @contextmanager
    def _cursor(self, *, transaction: bool = False) -> Iterator[Any]:
        """A cursor; with ``transaction`` the block is one atomic transaction."""
        try:
            conn = self._conn()
            if transaction:
                conn.execute("BEGIN IMMEDIATE" if self.kind == "sqlite" else "BEGIN")
            cur = conn.cursor()
            try:
                yield cur
                if transaction:
                    conn.execute("COMMIT")
            except BaseException:
                if transaction:
                    with contextlib.suppress(Exception):  # the connection may be gone
                        conn.execute("ROLLBACK")
                raise
            finally:
                cur.close()
        except DatabaseError:
            self._drop()
            raise
        except Exception as exc:
            if _is_db_error(exc):
                self._drop()
                raise DatabaseError(f"state database error: {type(exc).__name__}: {exc}") from exc
            raise

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return int(cur.rowcount)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Create the tables (idempotent; replicas starting together take turns)."""
        if self.kind == "sqlite":
            ddl = _ddl("id INTEGER PRIMARY KEY AUTOINCREMENT")
            with self._cursor(transaction=True) as cur:
                for stmt in ddl:
                    cur.execute(stmt)
                self._meta(cur)
            return
        ddl = _ddl("id BIGSERIAL PRIMARY KEY")
        with self._cursor(transaction=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(7170017)")  # one migrator at a time
            for stmt in ddl:
                cur.execute(stmt)
            self._meta(cur)

    def _meta(self, cur: Any) -> None:
        cur.execute(
            self._sql("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
            ("schema", str(SCHEMA)),
        )
        cur.execute(self._sql("SELECT value FROM meta WHERE key = ?"), ("schema",))
        row = cur.fetchone()
        if row is None or int(row[0]) != SCHEMA:
            raise DatabaseError(
                f"the state database has schema {row[0] if row else '?'}, this safe-pip "
                f"expects {SCHEMA}"
            )

    def ping(self) -> None:
        self._rows("SELECT 1")

    # -- verdicts -------------------------------------------------------------------------

    def get_verdict(self, sha256: str, scanner: str, policy: str) -> StoredVerdict | None:
        rows = self._rows(
            "SELECT sha256, scanner, policy, project, version, filename, size, decision,"
            " findings, metadata_sha256, provenance_url, created FROM verdicts"
            " WHERE sha256 = ? AND scanner = ? AND policy = ?",
            (sha256, scanner, policy),
        )
        return _verdict(rows[0]) if rows else None

    def get_verdicts(
        self, shas: Sequence[str], scanner: str, policy: str
    ) -> dict[str, StoredVerdict]:
        """Verdicts of many files at once (one project page)."""
        out: dict[str, StoredVerdict] = {}
        todo = list(dict.fromkeys(shas))
        for start in range(0, len(todo), 500):
            chunk = todo[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._rows(
                "SELECT sha256, scanner, policy, project, version, filename, size, decision,"
                " findings, metadata_sha256, provenance_url, created FROM verdicts"
                f" WHERE scanner = ? AND policy = ? AND sha256 IN ({marks})",
                (scanner, policy, *chunk),
            )
            out.update((r[0], _verdict(r)) for r in rows)
        return out

    def put_verdict(self, v: StoredVerdict) -> None:
        self._exec(
            "INSERT INTO verdicts (sha256, scanner, policy, project, version, filename, size,"
            " decision, findings, metadata_sha256, provenance_url, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (sha256, scanner, policy) DO NOTHING",
            (
                v.sha256,
                v.scanner,
                v.policy,
                v.project,
                v.version,
                v.filename,
                v.size,
                v.decision,
                json.dumps(v.findings, sort_keys=True),
                v.metadata_sha256,
                v.provenance_url,
                v.created,
            ),
        )

    # -- claims ---------------------------------------------------------------------------

    def claim(self, key: str, owner: str, lease: float) -> bool:
        """Take ``key`` for ``owner`` unless someone else holds an unexpired lease."""
        now = time.time()
        taken = self._exec(
            "INSERT INTO claims (key, owner, expires) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires = excluded.expires"
            " WHERE claims.expires < ? OR claims.owner = excluded.owner",
            (key, owner, now + lease, now),
        )
        return taken == 1

    def renew(self, key: str, owner: str, lease: float) -> bool:
        """Extend the lease; False when it was lost (expired and taken over)."""
        return (
            self._exec(
                "UPDATE claims SET expires = ? WHERE key = ? AND owner = ?",
                (time.time() + lease, key, owner),
            )
            == 1
        )

    def release(self, key: str, owner: str) -> None:
        self._exec("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def claim_owner(self, key: str) -> tuple[str, float] | None:
        rows = self._rows("SELECT owner, expires FROM claims WHERE key = ?", (key,))
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        event: str,
        *,
        client: str,
        project: str | None = None,
        filename: str | None = None,
        sha256: str | None = None,
        decision: str | None = None,
        rules: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Append one record; its id (a refusal URL names it)."""
        rows = self._rows(
            "INSERT INTO audit (at, event, client, project, filename, sha256, decision, rules,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                time.time(),
                event,
                client,
                project,
                filename,
                sha256,
                decision,
                ",".join(rules),
                json.dumps(detail or {}, sort_keys=True),
            ),
        )
        return int(rows[0][0])

    def audit_record(self, record: int) -> dict[str, Any] | None:
        found = self._records(" WHERE id = ?", [record], 1)
        return found[0] if found else None

    def audit_records(
        self, *, event: str | None = None, sha256: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        if event:
            where.append("event = ?")
            params.append(event)
        if sha256:
            where.append("sha256 = ?")
            params.append(sha256)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._records(clause, params, limit)

    def _records(self, clause: str, params: Sequence[Any], limit: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, at, event, client, project, filename, sha256, decision, rules, detail"
            f" FROM audit{clause} ORDER BY id DESC LIMIT ?",
            (*params, int(limit)),
        )
        keys = ("id", "at", "event", "client", "project", "filename", "sha256", "decision")
        out = []
        for r in rows:
            rec = dict(zip(keys, r[:8], strict=True))
            rec["rules"] = [x for x in str(r[8] or "").split(",") if x]
            rec["detail"] = json.loads(r[9] or "{}")
            out.append(rec)
        return out

    # -- inventory ------------------------------------------------------------------------

    def push_inventory(
        self, machine: str, environment: str, dists: Sequence[tuple[str, str]]
    ) -> None:
        """Replace what one environment of one machine has installed, atomically."""
        now = time.time()
        with self._cursor(transaction=True) as cur:
            cur.execute(
                self._sql("DELETE FROM inventory WHERE machine = ? AND environment = ?"),
                (machine, environment),
            )
            rows = list(dict(dists).items())
            if rows:
                cur.executemany(
                    self._sql(
                        "INSERT INTO inventory (machine, environment, name, version, pushed)"
                        " VALUES (?, ?, ?, ?, ?)"
                    ),
                    [(machine, environment, n, v, now) for n, v in rows],
                )

    def installed(self, name: str) -> list[Installed]:
        rows = self._rows(
            "SELECT machine, environment, name, version, pushed FROM inventory"
            " WHERE name = ? ORDER BY machine, environment",
            (name,),
        )
        return [Installed(str(a), str(b), str(c), str(d), float(e)) for a, b, c, d, e in rows]


def _verdict(row: Sequence[Any]) -> StoredVerdict:
    return StoredVerdict(
        sha256=str(row[0]),
        scanner=str(row[1]),
        policy=str(row[2]),
        project=str(row[3]),
        version=str(row[4]),
        filename=str(row[5]),
        size=int(row[6]),
        decision=str(row[7]),
        findings=list(json.loads(row[8])),
        metadata_sha256=row[9],
        provenance_url=row[10],
        created=float(row[11]),
    )


def _sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path or path == "/":
        raise DatabaseError(f"{url}: expected sqlite:///ABSOLUTE/PATH")
    return Path(path)


def _is_db_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.Error)
