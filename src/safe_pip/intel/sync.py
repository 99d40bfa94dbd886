"""Bring the local database up to date from an OSV export, atomically and within bounds.

A source is what the organisation's policy names (``[intel] source``) or ``--from``: the OSV
export of the PyPI ecosystem (a zip of one JSON record per advisory, as osv.dev publishes it
and as a mirror copies it), a local copy of that zip, or a folder of record files. Where the
source publishes ``modified_id.csv`` beside the zip (osv.dev's layout: ``<timestamp>,<id>``
lines, newest first), a database already synced from it is updated incrementally: only the
records modified since its newest record are fetched.

Fail closed, never silently empty: a corrupt or truncated zip, a source with no readable
record, a cap reached or a download that fails leaves the previous database as it was and
raises :class:`SyncError`. Single records that cannot be read with confidence (an unknown OSV
schema major version, say) are skipped, counted and named in the result.

HTTP is not done here: the caller passes a ``Download`` (the gate's bounded client), so this
module stays testable with files and free of network policy.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from safe_pip.errors import SafePipError
from safe_pip.intel.osv import Advisory, RecordError, parse_record, parse_time
from safe_pip.intel.store import IntelDB, StoreError, Writer, remove_stale_temporaries

Download = Callable[[str, Path, int], None]
"""``download(url, dest, max_bytes)``: write the body to ``dest`` or raise; never more bytes."""

MAX_ARCHIVE_BYTES = 2 << 30
MAX_RECORD_BYTES = 8 << 20
MAX_RECORDS = 2_000_000
MAX_INCREMENTAL = 5_000
"""More changed records than this and a full download is cheaper than one request each."""
MAX_INDEX_BYTES = 256 << 20
INDEX_NAME = "modified_id.csv"


class SyncError(SafePipError):
    """The sync failed; the previous database (if any) is untouched."""


@dataclass
class SyncResult:
    """What a sync did, for the command's report."""

    source: str
    mode: str
    """``full`` or ``incremental``."""
    records: int
    rejected: list[str] = field(default_factory=list)
    newest_record: dt.datetime | None = None


def is_remote(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def local_path(source: str) -> Path:
    parts = urlsplit(source)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(source).expanduser()


class _Counter:
    def __init__(self) -> None:
        self.rejected: list[str] = []
        self.newest: dt.datetime | None = None

    def read(self, label: str, raw: bytes) -> Advisory | None:
        try:
            adv = parse_record(json.loads(raw))
        except (ValueError, RecordError) as exc:  # JSONDecodeError is a ValueError
            self.rejected.append(f"{label}: {exc}")
            return None
        if self.newest is None or adv.modified > self.newest:
            self.newest = adv.modified
        return adv


def _zip_records(path: Path, counter: _Counter) -> Iterator[Advisory]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SyncError(f"{path.name} is not a readable zip archive: {exc}") from exc
    with archive:
        members = [i for i in archive.infolist() if i.filename.endswith(".json")]
        if len(members) > MAX_RECORDS:
            raise SyncError(f"the archive holds {len(members)} records, more than {MAX_RECORDS}")
        for info in members:
            try:
                with archive.open(info) as fh:
                    raw = fh.read(MAX_RECORD_BYTES + 1)
            except Exception as exc:
                # A damaged member (bad CRC, zlib error, truncation) means a damaged archive;
                # zipfile raises several unrelated types for these.
                raise SyncError(f"the archive is damaged at {info.filename}: {exc}") from exc
            if len(raw) > MAX_RECORD_BYTES:
                counter.rejected.append(f"{info.filename}: larger than {MAX_RECORD_BYTES} bytes")
                continue
            adv = counter.read(info.filename, raw)
            if adv is not None:
                yield adv


def _folder_records(path: Path, counter: _Counter) -> Iterator[Advisory]:
    for file in sorted(path.rglob("*.json")):
        if file.stat().st_size > MAX_RECORD_BYTES:
            counter.rejected.append(f"{file.name}: larger than {MAX_RECORD_BYTES} bytes")
            continue
        adv = counter.read(file.name, file.read_bytes())
        if adv is not None:
            yield adv


def _changed_since(index: Path, since: dt.datetime) -> list[str] | None:
    """Ids modified after ``since`` from ``modified_id.csv``; None if too many or unreadable."""
    ids: list[str] = []
    with index.open("r", encoding="utf-8", errors="strict") as fh:
        for line in fh:
            stamp, sep, rid = line.strip().partition(",")
            if not sep:
                continue
            try:
                when = parse_time(stamp, "modified")
            except RecordError:
                return None
            if when <= since:
                break  # newest first: everything after this is older
            ids.append(rid.strip().rsplit("/", 1)[-1])
            if len(ids) > MAX_INCREMENTAL:
                return None
    return ids


@dataclass
class _Plan:
    mode: str
    base: Path | None
    previous: dt.datetime | None
    records: Callable[[_Counter], Iterator[Advisory]]


def _plan(source: str, db_path: Path, tmp: Path, download: Download | None) -> _Plan:
    """Where the records come from: a local file or folder, a whole zip, or only the changes."""
    if not is_remote(source):
        path = local_path(source)
        if not path.exists():
            raise SyncError(f"the intel source {source} does not exist")
        return _Plan("full", None, None, lambda counter: _local_records(path, counter))
    if download is None:
        raise SyncError("no HTTP client was given for a remote source")
    fetch = download
    previous = _previous(db_path, source)
    changed = None
    if previous is not None and source.endswith("/all.zip"):
        changed = _try_index(source, previous, tmp / INDEX_NAME, fetch)
    if changed is not None:
        prefix = source[: -len("all.zip")]
        ids = changed

        def incremental(counter: _Counter) -> Iterator[Advisory]:
            for n, rid in enumerate(ids):
                dest = tmp / f"record-{n}.json"
                _download(fetch, f"{prefix}{rid}.json", dest, MAX_RECORD_BYTES)
                adv = counter.read(rid, dest.read_bytes())
                if adv is not None:
                    yield adv

        return _Plan("incremental", db_path, previous, incremental)

    def whole(counter: _Counter) -> Iterator[Advisory]:
        archive = tmp / "all.zip"
        _download(fetch, source, archive, MAX_ARCHIVE_BYTES)
        yield from _zip_records(archive, counter)

    return _Plan("full", None, None, whole)


def _local_records(path: Path, counter: _Counter) -> Iterator[Advisory]:
    if path.is_dir():
        return _folder_records(path, counter)
    return _zip_records(path, counter)


def sync(
    source: str,
    db_path: Path,
    *,
    download: Download | None = None,
    now: dt.datetime | None = None,
) -> SyncResult:
    """Sync ``db_path`` from ``source``; the live database changes only if this succeeds."""
    now = now or dt.datetime.now(dt.timezone.utc)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(db_path)
    counter = _Counter()
    with tempfile.TemporaryDirectory(prefix="safe-pip-intel-", dir=db_path.parent) as tmp:
        plan = _plan(source, db_path, Path(tmp), download)
        writer = Writer(db_path, base=plan.base)
        try:
            writer.add(plan.records(counter))
            total = _finish(writer, source, counter, now, previous_newest=plan.previous)
        except BaseException:
            writer.abort()
            raise
    return SyncResult(source, plan.mode, total, counter.rejected, counter.newest)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _finish(
    writer: Writer,
    source: str,
    counter: _Counter,
    now: dt.datetime,
    *,
    previous_newest: dt.datetime | None,
) -> int:
    """Refuse an empty result, record the metadata, swap the database in; the record count."""
    total = writer.count()
    if total == 0:
        detail = ""
        if counter.rejected:
            detail = f" ({len(counter.rejected)} unreadable, e.g. {counter.rejected[0]})"
        raise SyncError(f"the intel source {source} held no readable advisory{detail}")
    known = [t for t in (counter.newest, previous_newest) if t is not None]
    meta = {"source": source, "synced_at": _stamp(now), "rejected": str(len(counter.rejected))}
    if known:
        meta["newest_record"] = _stamp(max(known))
    writer.commit(meta)
    return total


def _previous(db_path: Path, source: str) -> dt.datetime | None:
    """The newest record time of a database synced from this very source, if any."""
    try:
        with IntelDB(db_path) as db:
            status = db.status()
    except StoreError:
        return None
    if status.source != source:
        return None
    return status.newest_record


def _try_index(source: str, since: dt.datetime, dest: Path, download: Download) -> list[str] | None:
    index_url = source[: -len("all.zip")] + INDEX_NAME
    try:
        download(index_url, dest, MAX_INDEX_BYTES)
        return _changed_since(dest, since)
    except (SafePipError, OSError, UnicodeDecodeError):
        return None  # no usable index: fall back to the whole archive


def _download(download: Download, url: str, dest: Path, cap: int) -> None:
    try:
        download(url, dest, cap)
    except SafePipError as exc:
        raise SyncError(f"cannot download {url}: {exc}") from exc
    except OSError as exc:
        raise SyncError(f"cannot download {url}: {exc}") from exc
