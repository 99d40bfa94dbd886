"""The state database on both back ends: SQLite and a real PostgreSQL cluster.

The claim is the heart of scan-once: of many concurrent takers exactly one wins, a lease that
lapses can be taken over, and an owner that lost its lease learns so when it renews.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from safe_pip.server.db import Database, DatabaseError, StoredVerdict


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = Database(url)
    database.migrate()
    database.migrate()  # idempotent
    try:
        yield database
    finally:
        database.close()


def _verdict(sha: str, decision: str = "allow") -> StoredVerdict:
    return StoredVerdict(
        sha256=sha,
        scanner="s1",
        policy="p1",
        project="cleanpkg",
        version="1.0",
        filename="cleanpkg-1.0-py3-none-any.whl",
        size=123,
        decision=decision,
        findings=[{"rule_id": "X", "severity": "low", "message": "m", "location": "l"}],
        metadata_sha256="ab" * 32,
        provenance_url=None,
        created=time.time(),
    )


def test_exactly_one_of_many_concurrent_claimants_wins(db: Database) -> None:
    barrier = threading.Barrier(20)
    wins: list[str] = []

    def take(i: int) -> None:
        barrier.wait()
        if db.claim("file-a", f"owner-{i}", 30):
            wins.append(f"owner-{i}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    owner = db.claim_owner("file-a")
    assert owner is not None and owner[0] == wins[0]


def test_lapsed_lease_is_taken_over_and_the_old_owner_learns_it(db: Database) -> None:
    assert db.claim("file-b", "dead", 0.2)
    assert not db.claim("file-b", "other", 30)
    assert db.renew("file-b", "dead", 0.2)
    time.sleep(0.4)
    assert db.claim("file-b", "other", 30)
    assert not db.renew("file-b", "dead", 30)  # lost: renewing fails, it must not store
    db.release("file-b", "dead")  # a stale release does not free another owner's claim
    assert db.claim_owner("file-b") is not None
    db.release("file-b", "other")
    assert db.claim_owner("file-b") is None


def test_verdicts_round_trip_and_first_writer_wins(db: Database) -> None:
    sha = "1" * 64
    assert db.get_verdict(sha, "s1", "p1") is None
    db.put_verdict(_verdict(sha))
    db.put_verdict(_verdict(sha, decision="block"))  # a second vetting changes nothing
    got = db.get_verdict(sha, "s1", "p1")
    assert got is not None and got.decision == "allow" and got.findings[0]["rule_id"] == "X"
    assert db.get_verdict(sha, "s2", "p1") is None  # a new scanner re-vets
    assert db.get_verdict(sha, "s1", "p2") is None  # a new policy re-vets
    many = db.get_verdicts([sha, "2" * 64], "s1", "p1")
    assert set(many) == {sha}


def test_inventory_is_replaced_per_environment(db: Database) -> None:
    db.push_inventory("m1", "/env/a", [("torchvision-optimized", "1.0"), ("numpy", "2.0")])
    db.push_inventory("m2", "/env/b", [("torchvision-optimized", "1.1")])
    db.push_inventory("m1", "/env/a", [("numpy", "2.1")])  # a later push replaces the first
    got = [(r.machine, r.environment, r.version) for r in db.installed("torchvision-optimized")]
    assert got == [("m2", "/env/b", "1.1")]
    assert [r.version for r in db.installed("numpy")] == ["2.1"]


def test_audit_records_have_increasing_ids(db: Database) -> None:
    a = db.audit("served", client="c", sha256="3" * 64, decision="allow")
    b = db.audit("refused", client="c", sha256="3" * 64, rules=["R1", "R2"], detail={"t": 1})
    assert b > a
    record = db.audit_record(b)
    assert record is not None and record["rules"] == ["R1", "R2"] and record["detail"] == {"t": 1}
    assert [r["id"] for r in db.audit_records(sha256="3" * 64)] == [b, a]
    assert [r["event"] for r in db.audit_records(event="served")] == ["served"]


def test_unreachable_or_broken_database_raises_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError):
        Database("mysql://x/y")
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(DatabaseError):
        Database(f"sqlite:///{broken}").migrate()
    with pytest.raises(DatabaseError):
        Database("postgresql://nobody@127.0.0.1:1/none").ping()
