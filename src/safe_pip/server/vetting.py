"""Vet each file once, across threads, processes and replicas, and never serve it before.

A file is vetted by :func:`safe_pip.gate.vet.vet_artifact` -- fetch into the store, verify,
scan, decide: the install gate's own code -- in a bounded process pool (a scan is CPU work
and a hostile file must not take the server down with it). What it found in the bytes is
stored in the database by ``(sha256, scanner version, policy digest)``.

Scan-once: inside one process, concurrent requests for a file share one future; across
processes and replicas, the one that takes the database claim vets while the others poll for
the verdict. The claim is a lease the owner renews while it works; if the owner dies (a
worker killed mid-scan), renewals stop, the lease runs out, and the next request takes the
claim and vets from scratch. No path serves bytes without a stored verdict that allows them.

Findings about the *page* (``INDEX-*``: index priority, yanked, age) are not stored: they are
recomputed from a fresh upstream read when a page or a not-yet-vetted file is requested.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import socket
import threading
import time
import uuid
import zipfile
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.errors import FetchError, SafePipError
from safe_pip.gate.fetch import Bounds, Fetcher, NetSettings, Quarantine, credentials_from_urls
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.models import Finding, ScanResult, Severity
from safe_pip.scan import SCANNER_VERSION
from safe_pip.server.db import Database, StoredVerdict
from safe_pip.server.upstream import UpstreamFile, is_page_finding

if TYPE_CHECKING:
    from safe_pip.gate.resolve import ResolvedArtifact
    from safe_pip.policy.model import Policy


class UpstreamError(SafePipError):
    """The upstream could not be read or broke a bound: answer 502, serve nothing."""


class StillVetting(SafePipError):
    """The verdict is not there yet (another worker holds the claim): answer 503 + retry."""


class VettingFailed(SafePipError):
    """Vetting itself failed (a crashed scan worker, an internal error): serve nothing."""


@dataclass(frozen=True)
class Settings:
    """How vetting runs; from the server configuration."""

    upstreams: tuple[str, ...]
    store: Path
    bounds: Bounds
    scan_workers: int = 2
    lease: float = 60.0
    """Seconds a claim lives without renewal (renewed every third of it while vetting)."""
    wait: float = 600.0
    """Seconds a vetting thread waits for another owner's verdict before giving up."""
    poll: float = 0.25


def finding_from_dict(doc: dict[str, Any]) -> Finding:
    return Finding(
        rule_id=str(doc["rule_id"]),
        severity=Severity[str(doc["severity"]).upper()],
        message=str(doc["message"]),
        location=str(doc["location"]),
        detail=dict(doc.get("detail") or {}),
    )


class _NoScanCache(ScanResultCache):
    """The database is the server's cache of vetting results; no second cache on disk."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull), key_path=Path(os.devnull))

    # Any arguments: whatever the cache is keyed by, there is nothing here to find or keep.
    def get(self, *args: Any, **kwargs: Any) -> ScanResult | None:
        return None

    def put(self, *args: Any, **kwargs: Any) -> None:
        return None


# -- the pool worker -------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(policy: Policy, settings: Settings) -> None:
    _WORKER["policy"] = policy
    _WORKER["settings"] = settings


def _vet_job(artifact: ResolvedArtifact) -> tuple[str, Any]:
    """Runs in a pool process: the gate's vetting of one file. Never raises (pickling
    arbitrary exceptions back is fragile); returns ``(kind, payload)``."""
    from safe_pip.gate.vet import vet_artifact

    policy: Policy = _WORKER["policy"]
    settings: Settings = _WORKER["settings"]
    net = NetSettings(
        credentials=credentials_from_urls(settings.upstreams),
        bounds=settings.bounds,
        index_urls=settings.upstreams,
    )
    try:
        with Fetcher(Quarantine(settings.store), net) as fetcher:
            run = vet_artifact(
                artifact,
                indexes=settings.upstreams,
                policy=policy,
                fetcher=fetcher,
                cache=_NoScanCache(),
            )
        metadata = _store_metadata(run.path) if run.path is not None else None
        return "ok", {
            "findings": [f.to_dict() for f in run.findings],
            "sha256": run.sha256,
            "size": run.size,
            "fetched": run.path is not None,
            "decision": str(run.verdict.decision) if run.verdict else "block",
            "metadata_sha256": metadata,
        }
    except FetchError as exc:
        return "upstream", str(exc)
    except Exception as exc:  # fail closed, and say what broke
        return "error", f"{type(exc).__name__}: {exc}"


def _store_metadata(wheel: Path) -> str | None:
    """Write the vetted wheel's own METADATA beside it (its PEP 658 file); its sha256."""
    if not wheel.name.endswith(".whl"):
        return None
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [
                n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
            ]
            if len(names) != 1:
                return None
            info = zf.getinfo(names[0])
            if info.file_size > 16 << 20:
                return None
            data = zf.read(names[0])
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, ValueError):
        return None
    target = wheel.with_name(wheel.name + ".metadata")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return hashlib.sha256(data).hexdigest()


# -- the coordinator -------------------------------------------------------------------------


class Vetter:
    """Hands out one future per file and makes sure only one owner anywhere vets it."""

    def __init__(self, *, policy: Policy, settings: Settings, db: Database) -> None:
        self.policy = policy
        self.settings = settings
        self.db = db
        self.digest = policy.digest()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[StoredVerdict]] = {}
        self._threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="safe-pip-vet")
        self._pool: ProcessPoolExecutor | None = None

    # -- pool ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scan processes now, before the server runs any thread.

        Forked from a process whose only thread is this one, the workers start at once with
        the scanner already imported (a spawned worker spends seconds importing it on the
        first request). A pool rebuilt later, when threads exist, is spawned instead.
        """
        import safe_pip.gate.vet
        import safe_pip.scan.core.engine  # noqa: F401

        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods and threading.active_count() == 1:
            pool = self._new_pool("fork")
            # With fork, every worker is created on the first submit: do it now.
            pool.submit(os.getpid).result()
            with self._lock:
                self._pool = pool

    def _new_pool(self, method: str) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=max(1, self.settings.scan_workers),
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(self.policy, self.settings),
        )

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool("spawn")
            return self._pool

    def _pool_broken(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- verdicts -----------------------------------------------------------------------

    def lookup(self, sha256: str) -> StoredVerdict | None:
        return self.db.get_verdict(sha256, SCANNER_VERSION, self.digest)

    def lookup_many(self, shas: list[str]) -> dict[str, StoredVerdict]:
        return self.db.get_verdicts(shas, SCANNER_VERSION, self.digest)

    def submit(self, file: UpstreamFile) -> Future[StoredVerdict]:
        """The verdict of ``file`` (vetting it, or waiting for whoever does)."""
        sha = file.sha256
        if sha is None:
            raise VettingFailed(f"{file.filename}: the upstream states no sha256")
        with self._lock:
            future = self._inflight.get(sha)
            if future is None:
                future = self._threads.submit(self._once, file, sha)
                self._inflight[sha] = future
                future.add_done_callback(lambda _f: self._forget(sha))
        return future

    def _forget(self, sha: str) -> None:
        with self._lock:
            self._inflight.pop(sha, None)

    def _once(self, file: UpstreamFile, sha: str) -> StoredVerdict:
        key = f"{sha}:{SCANNER_VERSION}:{self.digest}"
        give_up = time.monotonic() + self.settings.wait
        while True:
            found = self.lookup(sha)
            if found is not None:
                return found
            if self.db.claim(key, self.owner, self.settings.lease):
                try:
                    found = self.lookup(sha)  # finished between our lookup and our claim
                    return found if found is not None else self._vet(file, sha, key)
                finally:
                    self.db.release(key, self.owner)
            if time.monotonic() > give_up:
                raise StillVetting(f"{file.filename} is still being vetted elsewhere")
            time.sleep(self.settings.poll)

    def _vet(self, file: UpstreamFile, sha: str, key: str) -> StoredVerdict:
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(key, stop), name="safe-pip-lease", daemon=True
        )
        renewer.start()
        pool = self._executor()
        started = time.time()
        try:
            kind, payload = pool.submit(_vet_job, file.artifact).result()
        except BrokenProcessPool as exc:
            self._pool_broken(pool)
            raise VettingFailed(f"{file.filename}: the scan worker died ({exc})") from exc
        finally:
            stop.set()
            renewer.join()
        if kind == "upstream":
            raise UpstreamError(str(payload))
        if kind != "ok":
            raise VettingFailed(f"{file.filename}: vetting failed: {payload}")
        art = file.artifact
        findings = [f for f in payload["findings"] if not is_page_finding(f)]
        verdict = StoredVerdict(
            sha256=sha,
            scanner=SCANNER_VERSION,
            policy=self.digest,
            project=art.name,
            version=art.version,
            filename=art.filename,
            size=int(payload["size"] or 0),
            decision=str(payload["decision"]),
            findings=findings,
            metadata_sha256=payload["metadata_sha256"],
            provenance_url=file.provenance_url,
            created=time.time(),
        )
        self.db.audit(
            "vetted",
            client=self.owner,
            project=art.name,
            filename=art.filename,
            sha256=sha,
            decision=verdict.decision,
            rules=sorted({str(f["rule_id"]) for f in findings}),
            detail={"seconds": round(time.time() - started, 3)},
        )
        if payload["fetched"] and payload["sha256"] == sha:
            self.db.put_verdict(verdict)
        # Not fetched (the bytes differed from the advertised hash): refuse this request,
        # store nothing, so a transient upstream fault does not block the file for good.
        return verdict

    def _renew(self, key: str, stop: threading.Event) -> None:
        period = max(0.05, self.settings.lease / 3)
        while not stop.wait(period):
            try:
                if not self.db.renew(key, self.owner, self.settings.lease):
                    return
            except SafePipError:
                return  # the database is gone; the lease will lapse and someone re-vets


__all__ = [
    "Settings",
    "StillVetting",
    "UpstreamError",
    "Vetter",
    "VettingFailed",
    "finding_from_dict",
]
