"""Fast tests of the install gate's pieces (no venvs, no pip subprocesses)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from safe_pip.errors import SafePipError
from safe_pip.gate import journal as audit_log
from safe_pip.gate.fetch import Bounds, Fetcher, FetchError, HashMismatch, NetSettings, Quarantine
from safe_pip.gate.install import VettedFile, install_command, requirements_text
from safe_pip.gate.scan_cache import ScanResultCache
from safe_pip.models import Finding, ScanResult, Severity, Skipped
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel, sha256_file

# --- fetch -------------------------------------------------------------------------------------


def test_fetch_hashes_while_streaming_and_reuses_quarantine(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    digest = sha256_file(wheel)
    with IndexServer() as index:
        index.add(wheel)
        fetcher = Fetcher(Quarantine(tmp_path / "q"))
        url = f"{index.url}/files/{wheel.name}"
        got = fetcher.fetch(url, expected_sha256=digest)
        assert got.sha256 == digest and not got.cached
        assert got.path.read_bytes() == wheel.read_bytes()
        again = fetcher.fetch(url, expected_sha256=digest)
        assert again.cached and index.count(wheel.name) == 1
        # A tampered quarantine entry is never trusted: it is dropped and downloaded again.
        got.path.write_bytes(b"tampered")
        third = fetcher.fetch(url, expected_sha256=digest)
        assert not third.cached and third.path.read_bytes() == wheel.read_bytes()


def test_fetch_refuses_advertised_hash_mismatch(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    with IndexServer() as index:
        index.add(wheel).serve_bytes = b"not the wheel"
        fetcher = Fetcher(Quarantine(tmp_path / "q"))
        with pytest.raises(HashMismatch):
            fetcher.fetch(f"{index.url}/files/{wheel.name}", expected_sha256=sha256_file(wheel))
    leftovers = [p for p in (tmp_path / "q").rglob("*") if p.is_file()]
    assert leftovers == []


def test_fetch_errors_fail_closed(tmp_path: Path) -> None:
    fetcher = Fetcher(
        Quarantine(tmp_path / "q"), NetSettings(bounds=Bounds(read_timeout=3, retries=0))
    )
    with IndexServer() as index:
        with pytest.raises(FetchError):
            fetcher.fetch(f"{index.url}/files/missing.whl", expected_sha256=None)
        url = index.url
    with pytest.raises(FetchError):
        fetcher.fetch(f"{url}/files/gone.whl", expected_sha256=None)
    with pytest.raises(FetchError):
        fetcher.fetch("ftp://h/x.whl", expected_sha256=None)


def test_fetch_file_url(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    fetcher = Fetcher(Quarantine(tmp_path / "q"))
    got = fetcher.fetch(wheel.as_uri(), expected_sha256=None)
    assert got.sha256 == sha256_file(wheel)
    with pytest.raises(HashMismatch):
        fetcher.fetch(wheel.as_uri(), expected_sha256="0" * 64)


def test_fetch_sends_index_credentials(tmp_path: Path) -> None:
    from safe_pip.gate.fetch import credentials_from_urls

    creds = credentials_from_urls(["https://user:s%40cret@idx.example:8443/simple"])
    assert creds == {"idx.example:8443": ("user", "s@cret")}
    fetcher = Fetcher(Quarantine(tmp_path / "q"), NetSettings(credentials=creds))
    _bare, auth = fetcher._auth_for("https://idx.example:8443/files/a.whl")
    assert auth == ("user", "s@cret")


# --- install, cache, audit log -------------------------------------------------------------------


def test_install_command_is_pinned(tmp_path: Path) -> None:
    f = tmp_path / "alpha-1.0-py3-none-any.whl"
    text = requirements_text([VettedFile(f, "ab" * 32)])
    assert text == f"{f.resolve().as_uri()} --hash=sha256:{'ab' * 32}\n"
    cmd = install_command(Path("py"), tmp_path / "r.txt", ["--target", "/t"])
    for flag in ("--no-index", "--no-deps", "--require-hashes"):
        assert flag in cmd


def test_verdict_cache_roundtrip_and_keying(tmp_path: Path) -> None:
    cache = ScanResultCache(tmp_path / "cache", key_path=tmp_path / "key")
    result = ScanResult(
        "a.whl",
        (Finding("PICKLE-GLOBAL-UNKNOWN", Severity.MEDIUM, "m", "a.whl!x", {"module": "m"}),),
        (Skipped("a.whl!y", "too big"),),
        {"zip": 1},
    )
    cache.put("ab" * 32, "1", "policy", result)
    assert cache.get("ab" * 32, "1", "policy") == result
    assert cache.get("ab" * 32, "2", "policy") is None
    assert cache.get("ab" * 32, "1", "other") is None
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{broken")
    assert cache.get("ab" * 32, "1", "policy") is None


def _append_many(path: str, tag: int) -> None:
    for i in range(50):
        audit_log.append(Path(path), {"tag": tag, "i": i, "pad": "x" * 5000})


def test_audit_log_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(log), t)) for t in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = log.read_text().splitlines()
    assert len(lines) == 200
    assert sorted((r["tag"], r["i"]) for r in map(json.loads, lines)) == [
        (t, i) for t in range(4) for i in range(50)
    ]


def test_audit_log_unwritable_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SafePipError):
        audit_log.append(blocker / "audit.jsonl", {"x": 1})
    with pytest.raises(SafePipError):
        audit_log.check_writable(blocker / "audit.jsonl")


def test_quarantine_refuses_unsafe_names(tmp_path: Path) -> None:
    q = Quarantine(tmp_path)
    with pytest.raises(FetchError):
        q.path_for(hashlib.sha256(b"").hexdigest(), "../evil.whl")


# --- one file, one name (pip names a file by urlsplit; what it names .whl it installs as is) ----


@pytest.mark.parametrize(
    "name",
    [
        "alpha-1.0-py3-none-any.whl;.zip",  # pip: a zip source archive it would build
        "alpha-1.0.zip",
        "alpha-1.0.tar.gz",
        "alpha-1.0-py3-none-any.whl.zip",
    ],
)
def test_final_pip_gets_only_wheel_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(SafePipError, match="not a wheel file name"):
        requirements_text([VettedFile(tmp_path / name, "ab" * 32, "alpha", "1.0")])


def test_final_pip_gets_only_the_vetted_project_and_version(tmp_path: Path) -> None:
    wheel = tmp_path / "alpha-1.0-py3-none-any.whl"
    with pytest.raises(SafePipError, match="names alpha, but beta was vetted"):
        requirements_text([VettedFile(wheel, "ab" * 32, "beta", "1.0")])
    with pytest.raises(SafePipError, match=r"version 1\.0, but 2\.0 was vetted"):
        requirements_text([VettedFile(wheel, "ab" * 32, "alpha", "2.0")])
    # Same project and version under another spelling is the same file.
    text = requirements_text([VettedFile(wheel, "ab" * 32, "Alpha", "1.0.0")])
    assert text.startswith(wheel.resolve().as_uri())


@pytest.mark.parametrize(
    ("url", "pip_reads"),
    [
        ("http://h/f/alpha-1.0-py3-none-any.whl;.zip", "alpha-1.0-py3-none-any.whl;.zip"),
        ("http://h/f/alpha-1.0-py3-none-any.whl@.zip", "alpha-1.0-py3-none-any.whl@.zip"),
        ("http://h/f/alpha-1.0.tar.gz;x.whl", "alpha-1.0.tar.gz;x.whl"),
    ],
)
def test_index_links_pip_names_otherwise_are_refused(url: str, pip_reads: str) -> None:
    from unearth.link import Link

    from safe_pip.gate.finder import AmbiguousFileName, Source, offer_from_link, pip_filename

    assert pip_filename(url) == pip_reads
    source = Source("http://h/simple/", "index", 0)
    with pytest.raises(AmbiguousFileName, match="to pip but"):
        offer_from_link(Link(url), source, "http://h/simple/alpha/")
    plain = offer_from_link(Link("http://h/f/alpha-1.0-py3-none-any.whl"), source, "p")
    assert plain is not None and plain.filename == "alpha-1.0-py3-none-any.whl"


def test_fetch_names_the_stored_file_as_the_resolver_judged_it(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    with IndexServer() as index:
        index.add(wheel)
        fetcher = Fetcher(Quarantine(tmp_path / "q"))
        url = f"{index.url}/files/{wheel.name}"
        got = fetcher.fetch(url, expected_sha256=sha256_file(wheel), filename="judged.whl")
        assert got.path.name == "judged.whl"
        unnamed = fetcher.fetch(url, expected_sha256=None)
        assert unnamed.path.name == wheel.name
