"""Resolve hints (``gate/hints.py``): what the last resolution of a request read, read early.

A hint may change which pages are read and when, never what the resolver chooses: checked
against a real index on 127.0.0.1, with hints that are right, stale, or made up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safe_pip.gate import hints
from safe_pip.gate.fetch import Fetcher, NetSettings, Quarantine
from safe_pip.gate.resolve import make_resolver, read_pages_early
from safe_pip.gate.target import Target
from tests.gate.conftest import FAST
from tests.support.index_server import IndexServer
from tests.support.install_requests import picked, request, run
from tests.support.wheels import build_wheel


def chain(index: IndexServer, out: Path, n: int, *, metadata: bool = True) -> None:
    for i in range(n):
        requires = [f"link{i + 1}"] if i + 1 < n else []
        index.add(build_wheel(out, f"link{i}", "1.0", requires=requires), metadata=metadata)


def test_roundtrip_and_what_a_hint_file_may_hold(tmp_path: Path) -> None:
    hints.save("k", ["Foo_Bar", "baz", "baz"], folder=tmp_path)
    assert hints.load("k", folder=tmp_path) == ["baz", "foo-bar"]
    assert hints.load("missing", folder=tmp_path) == []
    (tmp_path / "k.json").write_text(json.dumps(["ok", "../../etc", "a b", 3, "UPPER"]))
    assert hints.load("k", folder=tmp_path) == ["ok"]  # canonical names only
    (tmp_path / "k.json").write_text("{not json")
    assert hints.load("k", folder=tmp_path) == []
    (tmp_path / "k.json").write_text(json.dumps(["x"] * (hints.MAX_NAMES + 1)))
    assert hints.load("k", folder=tmp_path) == []


def test_the_key_follows_what_shapes_a_resolution(tmp_path: Path) -> None:
    py = tmp_path / "python"
    base = hints.request_key(request("app", index="http://127.0.0.1:1/simple/"), py)
    assert base == hints.request_key(request("app", index="http://127.0.0.1:1/simple/"), py)
    others = [
        hints.request_key(request("app>=2", index="http://127.0.0.1:1/simple/"), py),
        hints.request_key(request("app", index="http://127.0.0.1:2/simple/"), py),
        hints.request_key(
            request("app", index="http://127.0.0.1:1/simple/", constraints=["lib<2"]), py
        ),
        hints.request_key(request("app", index="http://127.0.0.1:1/simple/"), tmp_path / "py2"),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_hints_read_pages_early_and_never_change_the_choice(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    chain(index, tmp_path / "w", 6, metadata=False)  # plain PEP 503: metadata is in wheels
    index.add(build_wheel(tmp_path / "w", "unrelated", "1.0"), metadata=False)
    req = request("link0", index=index.simple_url)
    plain = picked(run(req, here, fetcher))
    # Stale (link9 does not exist), extra (unrelated) and right (link3) names, in a new run
    # with an empty quarantine: pages are read, no file is downloaded for a guess.
    with Fetcher(Quarantine(tmp_path / "q2"), NetSettings(bounds=FAST)) as fresh:
        before = len(index.requests)
        got = run(req, here, fresh, hints=["unrelated", "link9", "link3"])
        asked = index.requests[before:]
    assert picked(got) == plain
    assert "/simple/unrelated/" in asked and "/simple/link9/" in asked
    assert not any(r.startswith("/files/unrelated") for r in asked)


def test_a_hinted_file_in_quarantine_is_read_but_still_checked(
    index: IndexServer, here: Target, tmp_path: Path
) -> None:
    """The hint preloads a quarantined file's metadata, re-hashed against this run's page:
    a newer version on the index since the hint was saved still wins."""
    chain(index, tmp_path / "w", 3)
    req = request("link0", index=index.simple_url)
    quarantine = Quarantine(tmp_path / "q")
    with Fetcher(quarantine, NetSettings(bounds=FAST)) as f:
        assert picked(run(req, here, f)) == {f"link{i}": "1.0" for i in range(3)}
    index.add(build_wheel(tmp_path / "w2", "link2", "2.0"))
    with Fetcher(quarantine, NetSettings(bounds=FAST)) as f:
        got = run(req, here, f, hints=["link0", "link1", "link2"])
    assert picked(got)["link2"] == "2.0"


def test_make_resolver_saves_and_uses_hints(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venv: Path
) -> None:
    monkeypatch.setenv("SAFE_PIP_CACHE_DIR", str(tmp_path / "cache"))
    chain(index, tmp_path / "w", 4)
    req = request("link0", index=index.simple_url)
    with Fetcher(Quarantine(tmp_path / "q"), NetSettings(bounds=FAST)) as f:
        first = make_resolver(venv, f)(req)
    key = hints.request_key(req, venv)
    assert hints.load(key) == [f"link{i}" for i in range(4)]
    before = len(index.requests)
    with Fetcher(Quarantine(tmp_path / "q"), NetSettings(bounds=FAST)) as f:
        again = make_resolver(venv, f)(req)
    asked = index.requests[before:]
    assert sorted(asked) == sorted(set(asked))  # each page and metadata file read once
    assert len([r for r in asked if r.startswith("/simple/")]) == 4
    assert picked(again) == picked(first)


def test_early_page_reads_leave_errors_to_the_resolver(
    index: IndexServer, fetcher: Fetcher
) -> None:
    req = request("nothere", index=index.simple_url)
    read_pages_early(fetcher, req, ["nothere", "nothere"]).shutdown(wait=True)
    assert index.requests.count("/simple/nothere/") == 1
