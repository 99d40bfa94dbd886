"""The audit journal and the scan-result cache, in process: records, recovery, MACs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.gate import journal
from safe_pip.gate.scan_cache import ScanResultCache, load_or_create_key
from safe_pip.models import Finding, ScanResult, Severity


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_intent_then_outcome_share_a_run_id_and_clear_the_marker(tmp_path: Path) -> None:
    log, pending = tmp_path / "audit.jsonl", tmp_path / "pending"
    with journal.Journal(log, pending=pending) as j:
        j.intent(command=["safe-pip"], target="py", artifacts=[{"name": "a", "sha256": "ab"}])
        assert [p.name for p in pending.iterdir()] == [f"{j.run_id}.json"]
        j.outcome(
            journal.make_record(
                command=["safe-pip"],
                target="py",
                outcome="installed",
                exit_code=0,
                artifacts=[],
                policy_digest=None,
            )
        )
    kinds = [(r["kind"], r["run_id"]) for r in _records(log)]
    assert kinds == [("intent", j.run_id), ("outcome", j.run_id)]
    assert list(pending.iterdir()) == []
    assert journal.unfinished(log) == []


def test_log_stays_open_when_its_path_is_replaced_mid_run(tmp_path: Path) -> None:
    """Renaming the log and putting something unwritable in its place after the check
    changes nothing: the run writes through the descriptor it opened at the start."""
    log = tmp_path / "audit.jsonl"
    with journal.Journal(log, pending=tmp_path / "p") as j:
        log.rename(tmp_path / "moved.jsonl")
        log.mkdir()  # the path is now a folder: opening it again would fail
        j.outcome(
            journal.make_record(
                command=["x"],
                target="py",
                outcome="blocked",
                exit_code=1,
                artifacts=[],
                policy_digest=None,
            )
        )
    assert [r["outcome"] for r in _records(tmp_path / "moved.jsonl")] == ["blocked"]


def test_unfinished_intent_is_recovered_once_and_stays_in_the_audit(tmp_path: Path) -> None:
    log, pending = tmp_path / "audit.jsonl", tmp_path / "pending"
    # A run that wrote its intent and died: its pid is a process that has exited.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    first = journal.Journal(log, pending=pending)
    first.intent(
        command=["safe-pip", "install", "x"],
        target="/venv/bin/python",
        artifacts=[{"name": "x", "version": "1.0", "sha256": "cd" * 32}],
    )
    marker = pending / f"{first.run_id}.json"
    doc = json.loads(marker.read_text())
    doc["pid"] = int(dead.stdout)
    marker.write_text(json.dumps(doc))
    first.close()

    with journal.Journal(log, pending=pending) as later:
        found = later.recover()
        assert [u.run_id for u in found] == [first.run_id]
        assert "x 1.0" in found[0].describe() and "never recorded" in found[0].describe()
        assert later.recover() == []  # reported once
    assert [r["kind"] for r in _records(log)] == ["intent", "recovered"]
    assert [u.run_id for u in journal.unfinished(log)] == [first.run_id]


def test_running_intent_is_not_recovered(tmp_path: Path) -> None:
    """An intent whose process still runs (a concurrent install) is not reported."""
    pending = tmp_path / "pending"
    with journal.Journal(tmp_path / "a.jsonl", pending=pending) as running:
        running.intent(command=["x"], target="py", artifacts=[])
        with journal.Journal(tmp_path / "a.jsonl", pending=pending) as other:
            assert other.recover() == []


def test_intent_that_cannot_be_written_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        journal.Journal(tmp_path / "a.jsonl", pending=blocker / "pending") as j,
        pytest.raises(journal.AuditLogError),
    ):
        j.intent(command=["x"], target="py", artifacts=[])


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text('{"kind": "intent", "run_id": "r1"}\n{"kind": "outc')
    assert [u.run_id for u in journal.unfinished(log)] == ["r1"]


# --- scan-result cache ---------------------------------------------------------------------


def _result() -> ScanResult:
    finding = Finding("PICKLE-GLOBAL-UNKNOWN", Severity.MEDIUM, "m", "a.whl!x", {"module": "m"})
    return ScanResult("a.whl", (finding,), (), {"zip": 1})


def test_cache_key_is_private_to_its_owner(tmp_path: Path) -> None:
    key_path = tmp_path / "state" / "scan-cache.key"
    key = load_or_create_key(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_or_create_key(key_path) == key
    key_path.chmod(0o644)  # others could read it: replaced, which retires old entries
    assert load_or_create_key(key_path) != key
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_edited_cache_entry_is_discarded(tmp_path: Path) -> None:
    cache = ScanResultCache(tmp_path / "c", key_path=tmp_path / "key")
    sha = "ab" * 32
    cache.put(sha, "1", "p", _result())
    assert cache.get(sha, "1", "p") == _result()
    (entry,) = (tmp_path / "c").rglob("*.json")
    doc = json.loads(entry.read_text())
    doc["result"]["findings"] = []  # "clean" now, but the MAC was made over the finding
    entry.write_text(json.dumps(doc))
    assert cache.get(sha, "1", "p") is None
    assert cache.discarded == [sha] and not entry.exists()


def test_cache_entry_made_with_another_key_is_discarded(tmp_path: Path) -> None:
    sha = "cd" * 32
    ScanResultCache(tmp_path / "c", key_path=tmp_path / "other-key").put(sha, "1", "p", _result())
    mine = ScanResultCache(tmp_path / "c", key_path=tmp_path / "key")
    assert mine.get(sha, "1", "p") is None and mine.discarded == [sha]


def test_cache_entry_moved_to_another_files_key_is_discarded(tmp_path: Path) -> None:
    """A valid entry copied under another file's key does not vouch for that file."""
    cache = ScanResultCache(tmp_path / "c", key_path=tmp_path / "key")
    cache.put("ab" * 32, "1", "p", _result())
    (entry,) = (tmp_path / "c").rglob("*.json")
    from safe_pip.gate.scan_cache import cache_key

    other = cache_key("ef" * 32, "1", "p")
    target = tmp_path / "c" / other[:2] / f"{other}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(entry.read_bytes())
    assert cache.get("ef" * 32, "1", "p") is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_unwritable_cache_is_only_slower(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = ScanResultCache(blocker / "c", key_path=tmp_path / "key")
    cache.put("ab" * 32, "1", "p", _result())  # ignored
    assert cache.get("ab" * 32, "1", "p") is None
