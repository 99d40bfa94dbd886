"""Syncing the database: atomic, bounded, never silently empty; lookups by name and digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from safe_pip.intel.check import findings_for, freshness
from safe_pip.intel.store import IntelDB, StoreError
from safe_pip.intel.sync import SyncError, sync
from tests.intel.conftest import write_zip

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def _synced(tmp_path: Path, records: dict[str, dict[str, Any]]) -> Path:
    db = tmp_path / "cache" / "intel.sqlite"
    sync(str(write_zip(tmp_path / "all.zip", records)), db, now=NOW)
    return db


def test_sync_from_a_local_zip_and_status(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    db = _synced(tmp_path, records)
    with IntelDB(db) as intel:
        st = intel.status()
    assert (st.malicious, st.vulnerabilities, st.rejected) == (2, 4, 0)
    assert st.packages == 4 and st.synced_at == NOW
    assert st.newest_record == dt.datetime(2026, 9, 4, 0, 47, 46, 156672, tzinfo=dt.timezone.utc)


def test_vulnerability_findings_merge_aliases_and_name_the_fix(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    with IntelDB(_synced(tmp_path, records)) as intel:
        (finding,) = findings_for(intel, "jinja2", "2.11.2", None, location="jinja2")
        assert finding.rule_id == "INTEL-VULNERABLE"
        assert finding.detail["level"] == "medium"  # the GHSA twin's CVSS 5.3
        assert "fixed in 2.11.3" in finding.message
        assert {finding.detail["id"], *finding.detail["aliases"]} >= {
            "PYSEC-2021-66",
            "GHSA-g3rq-g295-4j3m",
            "CVE-2020-28493",
        }
        (urllib3,) = findings_for(intel, "urllib3", "1.26.4", None, location="u")
        assert str(urllib3.severity) == "high"
        assert findings_for(intel, "jinja2", "2.11.3", None, location="j") == []


def test_malicious_by_version_and_by_digest_of_a_renamed_upload(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    payload = b"a harmless stand-in for a reported file"
    digest = hashlib.sha256(payload).hexdigest()
    doc = json.loads(json.dumps(records["MAL-2026-15859"]))
    doc["affected"][0]["database_specific"]["indicators"]["package_integrity"][0]["hashes"][
        "sha256"
    ] = digest
    records["MAL-2026-15859"] = doc
    with IntelDB(_synced(tmp_path, records)) as intel:
        (by_version,) = findings_for(intel, "a-oder", "8.0.0", None, location="a")
        assert by_version.rule_id == "INTEL-MALICIOUS" and by_version.detail["match"] == "version"
        # Same bytes under another name and version: still caught, by sha256.
        (renamed,) = findings_for(intel, "requests-tools", "1.0", digest, location="r")
        assert renamed.rule_id == "INTEL-MALICIOUS" and renamed.detail["match"] == "sha256"
        assert "0requests-0.0.1-py3-none-any.whl" in renamed.message
        # Reported by both version and digest: one finding, not two.
        assert len(findings_for(intel, "0requests", "0.0.1", digest, location="z")) == 1


def _previous_db(tmp_path: Path, records: dict[str, dict[str, Any]]) -> tuple[Path, bytes]:
    db = _synced(tmp_path, records)
    return db, db.read_bytes()


def test_a_corrupt_or_truncated_zip_leaves_the_previous_database(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    db, before = _previous_db(tmp_path, records)
    whole = write_zip(tmp_path / "next.zip", records).read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole[: len(whole) // 2])
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    damaged = tmp_path / "damaged.zip"
    # Flip bytes inside the first member's compressed data: the directory is intact.
    raw = bytearray(whole)
    raw[60:80] = b"\xff" * 20
    damaged.write_bytes(bytes(raw))
    for bad in (truncated, garbage, damaged):
        with pytest.raises(SyncError):
            sync(str(bad), db, now=NOW)
        assert db.read_bytes() == before
        assert not list(db.parent.glob("*.tmp-*"))
    with IntelDB(db) as intel:
        assert intel.status().malicious == 2


def test_unknown_schema_versions_are_skipped_and_counted(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    records["GHSA-q2q7-5pp4-w6pg"]["schema_version"] = "2.0.0"
    result = sync(str(write_zip(tmp_path / "a.zip", records)), tmp_path / "db", now=NOW)
    assert result.records == 5
    assert len(result.rejected) == 1 and "2.0.0" in result.rejected[0]
    with IntelDB(tmp_path / "db") as intel:
        assert intel.status().rejected == 1


def test_a_source_with_nothing_readable_is_an_error_not_an_empty_database(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    db, before = _previous_db(tmp_path, records)
    for doc in records.values():
        doc["schema_version"] = "9.0"
    with pytest.raises(SyncError, match="no readable advisory"):
        sync(str(write_zip(tmp_path / "bad.zip", records)), db, now=NOW)
    assert db.read_bytes() == before
    with pytest.raises(SyncError, match="does not exist"):
        sync(str(tmp_path / "missing.zip"), db, now=NOW)


def test_missing_stale_and_future_databases(
    tmp_path: Path, records: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(StoreError, match="intel sync"):
        IntelDB(tmp_path / "none.sqlite")
    (missing,) = freshness(None, "no database", max_age=dt.timedelta(days=7), now=NOW)
    assert missing.rule_id == "INTEL-UNAVAILABLE"
    with IntelDB(_synced(tmp_path, records)) as intel:
        st = intel.status()
    assert freshness(st, None, max_age=dt.timedelta(days=7), now=NOW) == []
    later = NOW + dt.timedelta(days=8)
    (stale,) = freshness(st, None, max_age=dt.timedelta(days=7), now=later)
    assert stale.rule_id == "INTEL-STALE" and "8.0 days old" in stale.message
    earlier = NOW - dt.timedelta(days=1)
    (future,) = freshness(st, None, max_age=dt.timedelta(days=7), now=earlier)
    assert future.rule_id == "INTEL-STALE" and future.detail["future"] is True


def test_a_database_of_another_format_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "intel.sqlite"
    bogus.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(StoreError):
        IntelDB(bogus)
