"""Scans that start while the resolver is still walking the dependency graph.

On an index without PEP 658 metadata the resolver downloads each wheel it considers into
quarantine to read its METADATA, one level of the graph at a time; scanning waited for the
whole walk to end. Here each wheel the resolver brings in is scanned in one background
thread as soon as it lands (against the target environment the resolver probed), and the
result goes into the scan-result cache under the same key the scan stage looks up. The scan
stage then finds it there; a file the resolution did not choose leaves only a cache entry.

Nothing is decided here and nothing runs: scanning reads bytes. Every failure is left to
the scan stage, which scans again what is not cached and reports as always.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.scan.core.limits import Limits

UNREADABLE = "SCAN-UNREADABLE"
"""The scanner's finding for a file it could not read (removed from quarantine meanwhile)."""

if TYPE_CHECKING:
    from safe_pip.gate.target import Target
    from safe_pip.models import TargetEnvironment


class EarlyScans:
    """Scan quarantined wheels in the background once the target is known (one thread:
    the resolver keeps the other core's worth of work)."""

    def __init__(self, cache: ScanResultCache, limits: Limits | None, policy_digest: str) -> None:
        self.cache = cache
        self.limits = limits
        self.policy_digest = policy_digest
        self._lock = threading.Lock()
        self._environment: TargetEnvironment | None = None
        self._env_digest: str | None = None
        self._pending: list[tuple[Path, str]] = []
        self._seen: set[str] = set()
        self.scanned: set[str] = set()
        """sha256 of each file scanned here, in this run (its result is this run's, not one
        an earlier run cached: the report says so)."""
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="safe-pip-early-scan"
        )

    def target(self, target: Target) -> None:
        """The resolver probed the target: scan what arrived before, and from now on."""
        from safe_pip.gate.target import target_environment
        from safe_pip.scan.dist.shadowing import environment_digest

        environment = target_environment(target)
        with self._lock:
            self._environment = environment
            self._env_digest = environment_digest(environment)
            pending, self._pending = self._pending, []
        for path, sha256 in pending:
            self.file(path, sha256)

    def file(self, path: Path, sha256: str) -> None:
        """A wheel is in quarantine under its own name (``path.name``) with this sha256."""
        if not path.name.endswith(".whl"):
            return
        with self._lock:
            if self._pool is None or sha256 in self._seen:
                return
            if self._environment is None:
                self._pending.append((path, sha256))
                return
            self._seen.add(sha256)
            self._pool.submit(self._scan, path, sha256)

    def _scan(self, path: Path, sha256: str) -> None:
        from safe_pip.scan import SCANNER_VERSION
        from safe_pip.scan.core.engine import scan_path

        env, digest = self._environment, self._env_digest
        if digest is None:
            return
        try:
            if self.cache.get(sha256, SCANNER_VERSION, self.policy_digest, environment=digest):
                return
            result = scan_path(path, limits=self.limits, display=path.name, target=env)
            if any(f.rule_id == UNREADABLE for f in result.findings):
                return  # says nothing about the bytes: the scan stage reads the file itself
            self.cache.put(sha256, SCANNER_VERSION, self.policy_digest, result, environment=digest)
            with self._lock:
                self.scanned.add(sha256)
        except Exception:  # the scan stage scans it again and reports what goes wrong
            return

    def cancel(self) -> None:
        """The run ends without a scan stage (refused, failed): drop the scans not started,
        so the process does not stay to finish them (the one running completes)."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._pending = []
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def finish(self) -> None:
        """Stop taking files and wait for the scans already asked for (the scan stage, which
        calls this first, would otherwise scan those files a second time)."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._pending = []
        if pool is not None:
            pool.shutdown(wait=True)
