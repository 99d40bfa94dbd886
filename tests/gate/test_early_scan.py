"""Early scans (``gate/early_scan.py``): wheels scanned while the resolver walks on.

Real wheels, the real scanner and the real scan-result cache: what an early scan stores is
exactly what the scan stage would compute and look up (same key: sha256, scanner version,
policy digest, target environment), files that arrive before the target is known wait for
it, and nothing but wheels is scanned; failures are left to the scan stage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from safe_pip.gate.early_scan import EarlyScans
from safe_pip.gate.fetch import Fetcher
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.gate.target import Target, target_environment
from safe_pip.scan import SCANNER_VERSION
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.dist.shadowing import environment_digest
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel

POLICY = "policy-digest"


def cache_of(tmp_path: Path) -> ScanResultCache:
    return ScanResultCache(tmp_path / "cache", key_path=tmp_path / "key")


def wheel(tmp_path: Path, name: str, body: bytes = b"X = 1\n") -> tuple[Path, str]:
    path = build_wheel(tmp_path / "w", name, "1.0", {f"{name}/__init__.py": body})
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_fetched_wheel_is_cached_as_the_scan_stage_would_compute_it(
    index: IndexServer, fetcher: Fetcher, here: Target, tmp_path: Path
) -> None:
    path, sha = wheel(tmp_path, "early", b"import os\nos.system('x')\n")
    index.add(path)
    cache = cache_of(tmp_path)
    early = EarlyScans(cache, None, POLICY)
    fetcher.on_fetched = lambda got: early.file(got.path, got.sha256)
    got = fetcher.fetch(f"{index.url}/files/{path.name}", expected_sha256=sha, filename=path.name)
    env = target_environment(here)
    key = environment_digest(env)
    assert cache.get(sha, SCANNER_VERSION, POLICY, environment=key) is None  # target unknown
    early.target(here)  # the resolver probed it: what came before is scanned now
    early.finish()
    assert early.scanned == {sha}
    cached = cache.get(sha, SCANNER_VERSION, POLICY, environment=key)
    assert cached == scan_path(got.path, limits=None, display=path.name, target=env)


def test_only_wheels_and_only_until_finished(here: Target, tmp_path: Path) -> None:
    cache = cache_of(tmp_path)
    early = EarlyScans(cache, None, POLICY)
    early.target(here)
    sdist = tmp_path / "thing-1.0.tar.gz"
    sdist.write_bytes(b"not scanned early")
    early.file(sdist, "ab" * 32)
    late, late_sha = wheel(tmp_path, "late")
    early.finish()
    early.file(late, late_sha)  # after the scan stage began: its own scan covers it
    early.finish()
    assert early.scanned == set()
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_a_failing_scan_is_left_to_the_scan_stage(here: Target, tmp_path: Path) -> None:
    cache = cache_of(tmp_path)
    early = EarlyScans(cache, None, POLICY)
    gone, sha = wheel(tmp_path, "gone")
    gone.unlink()  # e.g. removed from quarantine meanwhile
    early.target(here)
    early.file(gone, sha)
    early.finish()  # no exception
    assert early.scanned == set()
    env = environment_digest(target_environment(here))
    assert cache.get(sha, SCANNER_VERSION, POLICY, environment=env) is None


def test_a_run_that_ends_early_drops_what_was_not_scanned(here: Target, tmp_path: Path) -> None:
    cache = cache_of(tmp_path)
    early = EarlyScans(cache, None, POLICY)
    waiting, sha = wheel(tmp_path, "waiting")
    early.file(waiting, sha)  # queued until the target is known
    early.cancel()  # refused before the scan stage: nothing more is scanned
    early.target(here)
    early.file(waiting, sha)
    early.finish()
    assert early.scanned == set()
    assert not list((tmp_path / "cache").rglob("*.json"))
