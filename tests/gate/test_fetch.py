"""Bounds on every read, against a real HTTP server on 127.0.0.1: each one fails closed."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from safe_pip.errors import FetchError
from safe_pip.gate.fetch import Bounds, Fetcher, HashMismatch, NetSettings, Quarantine, fetch_all
from tests.support.index_server import IndexServer, Raw
from tests.support.wheels import build_wheel, sha256_file


def _fetcher(tmp_path: Path, **bounds: float) -> Fetcher:
    settings = NetSettings(bounds=Bounds(**{"retries": 0, **bounds}))  # type: ignore[arg-type]
    return Fetcher(Quarantine(tmp_path / "q"), settings)


def test_gzip_bombed_page_is_cut_at_the_cap(index: IndexServer, tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB
    index.raw["/simple/bomb/"] = Raw(
        bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"}
    )
    with _fetcher(tmp_path, max_page=1 << 20) as f, pytest.raises(FetchError, match="max_page"):
        f.page(f"{index.simple_url}bomb/")


def test_compressed_page_within_the_cap_is_read(index: IndexServer, tmp_path: Path) -> None:
    body = b"<a href='x-1.0.tar.gz'>x</a>" * 100
    index.raw["/simple/ok/"] = Raw(gzip.compress(body), {"Content-Encoding": "gzip"})
    with _fetcher(tmp_path) as f:
        assert f.page(f"{index.simple_url}ok/").content == body


def test_unknown_content_encoding_fails_closed(index: IndexServer, tmp_path: Path) -> None:
    index.raw["/simple/br/"] = Raw(b"xx", {"Content-Encoding": "br"})
    with _fetcher(tmp_path) as f, pytest.raises(FetchError, match="Content-Encoding"):
        f.page(f"{index.simple_url}br/")


def test_download_cap_by_length_and_while_streaming(index: IndexServer, tmp_path: Path) -> None:
    index.raw["/files/big.whl"] = Raw(b"x" * 4096)
    index.raw["/files/unsized.whl"] = Raw(b"x" * 4096, length=-1)
    with _fetcher(tmp_path, max_download=1000) as f:
        for name in ("big.whl", "unsized.whl"):
            with pytest.raises(FetchError, match="max_download"):
                f.fetch(f"{index.url}/files/{name}", expected_sha256=None)
    assert not [p for p in (tmp_path / "q").rglob("*") if p.is_file()]


def test_trickling_server_hits_the_deadline(index: IndexServer, tmp_path: Path) -> None:
    index.raw["/files/slow.whl"] = Raw(b"x" * 64, piece=1, delay=0.1)
    start = time.monotonic()
    with (
        _fetcher(tmp_path, deadline=1, read_timeout=5) as f,
        pytest.raises(FetchError, match="deadline"),
    ):
        f.fetch(f"{index.url}/files/slow.whl", expected_sha256=None)
    assert time.monotonic() - start < 4


def test_silent_server_hits_the_read_timeout(index: IndexServer, tmp_path: Path) -> None:
    index.raw["/simple/silent/"] = Raw(b"x" * 10, piece=10, delay=3)
    start = time.monotonic()
    with _fetcher(tmp_path, read_timeout=0.5) as f, pytest.raises(FetchError):
        f.page(f"{index.simple_url}silent/")
    assert time.monotonic() - start < 2.5


def test_truncated_download_fails_closed(index: IndexServer, tmp_path: Path) -> None:
    index.raw["/files/short.whl"] = Raw(b"x" * 100, length=1000)
    with _fetcher(tmp_path) as f, pytest.raises(FetchError):
        f.fetch(f"{index.url}/files/short.whl", expected_sha256=None)


def test_index_down_and_http_errors_carry_the_status(index: IndexServer, tmp_path: Path) -> None:
    with _fetcher(tmp_path) as f:
        with pytest.raises(FetchError) as info:
            f.page(f"{index.simple_url}missing/")
        assert info.value.status == 404
        url = index.simple_url
        index.stop()
        with pytest.raises(FetchError) as info:
            f.page(f"{url}other/")
        assert info.value.status is None


def test_page_is_read_once_even_when_it_failed(index: IndexServer, tmp_path: Path) -> None:
    index.add(build_wheel(tmp_path / "w", "lib", "1.0"))
    with _fetcher(tmp_path) as f:
        for _ in range(3):
            f.get(f"{index.simple_url}lib/", accept="application/vnd.pypi.simple.v1+json")
            with pytest.raises(FetchError):
                f.get(f"{index.simple_url}nope/")
    assert index.count("/simple/lib/") == 1 and index.count("/simple/nope/") == 1


def test_fetch_all_reports_each_failure_in_place(index: IndexServer, tmp_path: Path) -> None:
    good = build_wheel(tmp_path / "w", "good", "1.0")
    bad = build_wheel(tmp_path / "w", "bad", "1.0")
    index.add(good)
    index.add(bad).serve_bytes = b"tampered"

    class Want:
        def __init__(self, path: Path) -> None:
            self.url = f"{index.url}/files/{path.name}"
            self.filename = path.name
            self.advertised_sha256: str | None = sha256_file(path)
            self.local_file: Path | None = None
            self.sha256: str | None = None

    with _fetcher(tmp_path) as f:
        ok, lie = fetch_all([Want(good), Want(bad)], f)
    assert not isinstance(ok, Exception) and ok.sha256 == sha256_file(good)
    assert isinstance(lie, HashMismatch)
