"""One artifact through fetch, verify, scan and decide (the entry point the server shares).

Against a real index on 127.0.0.1 with real wheels: a clean file is allowed with its bytes in
quarantine, the seed attack is blocked by its pickle, bytes that differ from the advertised
hash are blocked, and an index that is down raises instead of deciding anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.errors import FetchError
from safe_pip.gate.fetch import Fetcher
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.gate.state import ArtifactRun
from safe_pip.gate.vet import vet_artifact
from safe_pip.policy.model import Policy
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexFile, IndexServer
from tests.support.wheels import build_wheel


def _artifact(index: IndexServer, entry: IndexFile, version: str = "1.0") -> ResolvedArtifact:
    return ResolvedArtifact(
        name=entry.project,
        version=version,
        filename=entry.filename,
        url=f"{index.url}/files/{entry.filename}",
        kind="wheel",
        index_url=index.simple_url,
        hashes={"sha256": entry.sha256},
        upload_time=entry.upload_time,
        page_url=f"{index.simple_url}{entry.project}/",
    )


def _vet(index: IndexServer, entry: IndexFile, fetcher: Fetcher, tmp_path: Path) -> ArtifactRun:
    return vet_artifact(
        _artifact(index, entry),
        indexes=[index.simple_url],
        policy=Policy(),
        fetcher=fetcher,
        cache=ScanResultCache(tmp_path / "scan-cache", key_path=tmp_path / "key"),
    )


def test_clean_file_allowed_and_in_quarantine(
    index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    entry = index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    run = _vet(index, entry, fetcher, tmp_path)
    assert run.verdict is not None and run.verdict.allowed, run.findings
    assert run.vetted and run.sha256 == entry.sha256
    assert run.path is not None and run.path.read_bytes() == entry.path.read_bytes()


def test_seed_attack_blocked_by_its_pickle(
    index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    entry = index.add(evil_wheel(tmp_path / "w", marker))
    run = _vet(index, entry, fetcher, tmp_path)
    assert run.verdict is not None and not run.verdict.allowed
    assert "PICKLE-GLOBAL-DANGEROUS" in {f.rule_id for f in run.verdict.blocking}
    assert not marker.exists()


def test_other_bytes_than_advertised_blocked(
    index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    entry = index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    entry.serve_bytes = b"PK\x05\x06" + bytes(18)
    run = _vet(index, entry, fetcher, tmp_path)
    assert run.verdict is not None and not run.verdict.allowed
    assert {f.rule_id for f in run.verdict.blocking} == {"INSTALL-HASH-MISMATCH"}
    assert not run.vetted


def test_index_down_raises(index: IndexServer, fetcher: Fetcher, tmp_path: Path) -> None:
    entry = index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    index.stop()
    with pytest.raises(FetchError):
        _vet(index, entry, fetcher, tmp_path)
