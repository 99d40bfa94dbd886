"""The resolver against a real index on 127.0.0.1: pip's semantics, over metadata only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.errors import FetchError
from safe_pip.gate.fetch import Fetcher, HashMismatch, fetch_all
from safe_pip.gate.resolve import ResolutionBlocked, ResolvedArtifact, ResolveError
from safe_pip.gate.target import Target
from tests.support.index_server import IndexServer
from tests.support.install_requests import picked, request, run
from tests.support.wheels import build_sdist, build_wheel

NEW = dt.datetime.now(dt.timezone.utc)


def test_dependencies_extras_and_markers(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(
        build_wheel(
            w,
            "app",
            "1.0",
            requires=[
                "lib>=1",
                "never; python_version < '3'",
                "plug[fast]",
                "other; extra == 'docs'",
            ],
            metadata_extra=["Provides-Extra: docs"],
        )
    )
    index.add(build_wheel(w, "lib", "1.0"))
    index.add(build_wheel(w, "lib", "2.0"))
    index.add(
        build_wheel(
            w,
            "plug",
            "1.0",
            requires=["speed; extra == 'fast'"],
            metadata_extra=["Provides-Extra: fast"],
        )
    )
    index.add(build_wheel(w, "speed", "0.5"))
    index.add(build_wheel(w, "never", "1.0"))
    index.add(build_wheel(w, "other", "1.0"))
    res = run(request("app", index=index.simple_url), here, fetcher)
    assert picked(res) == {"app": "1.0", "lib": "2.0", "plug": "1.0", "speed": "0.5"}
    names = [a.name for a in res.artifacts]
    assert names.index("lib") < names.index("app") and names.index("speed") < names.index("plug")
    assert next(a for a in res.artifacts if a.name == "app").requested_as == "app"
    assert not next(a for a in res.artifacts if a.name == "lib").requested
    # The extra pulls in its own dependency; without it, nothing.
    res = run(request("app[docs]", index=index.simple_url), here, fetcher)
    assert "other" in picked(res)


def test_constraints_pre_and_no_deps(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(build_wheel(w, "app", "1.0", requires=["lib"]))
    for v in ("1.0", "2.0", "3.0b1"):
        index.add(build_wheel(w, "lib", v))
    url = index.simple_url
    assert picked(run(request("app", index=url), here, fetcher))["lib"] == "2.0"
    assert picked(run(request("app", index=url, pre=True), here, fetcher))["lib"] == "3.0b1"
    con = run(request("app", index=url, constraints=["lib<2"]), here, fetcher)
    assert picked(con)["lib"] == "1.0"
    # A constraint alone installs nothing.
    assert picked(run(request("app", index=url, constraints=["zzz==1"]), here, fetcher)) == {
        "app": "1.0",
        "lib": "2.0",
    }
    assert picked(run(request("app", index=url, no_deps=True), here, fetcher)) == {"app": "1.0"}
    # Only a pre-release matches: taken, as pip does.
    assert picked(run(request("lib>2", index=url), here, fetcher)) == {"lib": "3.0b1"}


def test_requires_python_from_page_and_metadata(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(build_wheel(w, "lib", "1.0"))
    index.add(build_wheel(w, "lib", "2.0"), requires_python=">=4")
    # 3.0 says nothing on the page, but its METADATA excludes this Python: backtrack.
    wheel = build_wheel(w, "lib", "3.0", metadata_extra=["Requires-Python: <3"])
    index.add(wheel)
    res = run(request("lib", index=index.simple_url), here, fetcher)
    assert picked(res) == {"lib": "1.0"}
    with pytest.raises(ResolveError, match="Python"):
        run(request("lib==3.0", index=index.simple_url), here, fetcher)


def test_yanked_only_when_pinned_exactly(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(build_wheel(w, "lib", "1.0"))
    index.add(build_wheel(w, "lib", "2.0"), yanked="broken build")
    url = index.simple_url
    assert picked(run(request("lib", index=url), here, fetcher)) == {"lib": "1.0"}
    pinned = run(request("lib==2.0", index=url), here, fetcher).artifacts[0]
    assert pinned.version == "2.0" and pinned.yanked == "broken build"
    with pytest.raises(ResolveError):
        run(request("lib>=2", index=url), here, fetcher)


def test_wheel_tags_choose_the_best_wheel_and_skip_foreign(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    best = str(here.tags[0])
    index.add(build_wheel(w, "lib", "1.0", tag="py3-none-any"))
    index.add(build_wheel(w, "lib", "1.0", tag=best))
    index.add(build_wheel(w, "lib", "2.0", tag="cp27-cp27m-win32"))
    res = run(request("lib", index=index.simple_url), here, fetcher)
    assert res.artifacts[0].filename == f"lib-1.0-{best}.whl"


def test_pep658_metadata_is_hash_checked(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    entry = index.add(build_wheel(tmp_path / "w", "lib", "1.0"))
    assert entry.metadata is not None
    entry.metadata_served = entry.metadata.replace(
        b"Version: 1.0", b"Version: 1.0\nRequires-Dist: evil"
    )
    with pytest.raises(HashMismatch):
        run(request("lib", index=index.simple_url), here, fetcher)


def test_without_pep658_the_wheel_is_read_once_and_reused_by_fetch(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(build_wheel(w, "app", "1.0", requires=["lib"]), metadata=False)
    index.add(build_wheel(w, "lib", "1.0"))  # this one has PEP 658 metadata
    res = run(request("app", index=index.simple_url), here, fetcher)
    app, lib = (next(a for a in res.artifacts if a.name == n) for n in ("app", "lib"))
    assert app.local_file is not None and app.sha256 == app.advertised_sha256
    assert lib.local_file is None
    got = fetch_all(res.artifacts, fetcher)
    assert all(not isinstance(g, Exception) for g in got)
    assert index.files[app.filename].downloads == 1
    assert index.files[lib.filename].downloads == 1
    assert index.count(".metadata") == 1


def test_each_page_is_read_once_per_run(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    w = tmp_path / "w"
    index.add(build_wheel(w, "app", "1.0", requires=["lib", "mid"]))
    index.add(build_wheel(w, "mid", "1.0", requires=["lib"]))
    index.add(build_wheel(w, "lib", "1.0"))
    res = run(request("app", index=index.simple_url), here, fetcher)
    # Later stages (age, yanked, signatures) read the same page through the same fetcher.
    for art in res.artifacts:
        assert art.page_url is not None and "(" not in art.page_url
        fetcher.get(art.page_url, accept="application/vnd.pypi.simple.v1+json")
    assert [r for r in index.requests if r.startswith("/simple/")] == sorted(
        {f"/simple/{n}/" for n in ("app", "mid", "lib")}, key=index.requests.index
    )


def test_upload_time_and_page_url_have_no_requires_python_suffix(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "w", "lib", "1.0"), upload_time=NEW, requires_python=">=3.8")
    art = run(request("lib", index=index.simple_url), here, fetcher).artifacts[0]
    assert art.page_url == index.simple_url + "lib/"
    assert art.upload_time is not None and abs((art.upload_time - NEW).total_seconds()) < 1
    assert art.requires_python == ">=3.8"


def test_find_links_folder_and_file_index(here: Target, fetcher: Fetcher, tmp_path: Path) -> None:
    links = tmp_path / "links"
    build_wheel(links, "app", "1.0", requires=["lib"])
    simple = tmp_path / "simple"
    lib = build_wheel(tmp_path / "w", "lib", "1.5")
    (simple / "lib").mkdir(parents=True)
    (simple / "lib" / lib.name).write_bytes(lib.read_bytes())
    (simple / "lib" / "index.html").write_text(f'<a href="{lib.name}">{lib.name}</a>')
    res = run(request("app", index=simple.as_uri(), find_links=[str(links)]), here, fetcher)
    assert picked(res) == {"app": "1.0", "lib": "1.5"}
    app = next(a for a in res.artifacts if a.name == "app")
    assert app.index_url == str(links) and app.url.startswith("file:")
    with pytest.raises(ResolveError, match="lib"):
        run(request("app", no_index=True, find_links=[str(links)]), here, fetcher)


def test_direct_reference_to_a_wheel(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "w", "app", "1.0", requires=["lib"])
    index.add(build_wheel(tmp_path / "i", "lib", "1.0"))
    res = run(request(f"app @ {wheel.as_uri()}", index=index.simple_url), here, fetcher)
    app = next(a for a in res.artifacts if a.name == "app")
    assert app.url == wheel.as_uri() and app.index_url is None and app.local_file is not None


def test_sdist_only_is_refused_and_never_built(
    index: IndexServer,
    here: Target,
    fetcher: Fetcher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "marker"
    monkeypatch.setenv("SAFE_PIP_TEST_MARKER", str(marker))
    index.add(build_sdist(tmp_path / "w", "srconly", "1.0"))
    index.add(build_wheel(tmp_path / "w", "app", "1.0", requires=["srconly"]))
    with pytest.raises(ResolutionBlocked) as info:
        run(request("app", index=index.simple_url), here, fetcher)
    (finding,) = info.value.findings
    assert finding.rule_id == "SDIST-REFUSED" and "allow_sdist" in finding.message
    assert info.value.exit_code == 1
    sdist = tmp_path / "w" / "srconly-1.0.tar.gz"
    with pytest.raises(ResolutionBlocked):
        run(request(f"srconly @ {sdist.as_uri()}"), here, fetcher)
    assert not marker.exists()


def test_newer_sdist_does_not_hide_an_older_wheel(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_sdist(tmp_path / "w", "lib", "2.0"))
    index.add(build_wheel(tmp_path / "w", "lib", "1.0"))
    assert picked(run(request("lib", index=index.simple_url), here, fetcher)) == {"lib": "1.0"}


def test_sdist_goes_to_the_build_hook_when_allowed(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_sdist(tmp_path / "w", "srconly", "1.0"))
    index.add(build_wheel(tmp_path / "w", "dep", "1.0"))
    seen: list[ResolvedArtifact] = []

    def hook(art: ResolvedArtifact) -> bytes:
        seen.append(art)
        return b"Metadata-Version: 2.1\nName: srconly\nVersion: 1.0\nRequires-Dist: dep\n"

    res = run(request("srconly", index=index.simple_url), here, fetcher, build_metadata=hook)
    assert picked(res) == {"dep": "1.0", "srconly": "1.0"}
    (art,) = seen
    assert art.kind == "sdist" and art.local_file is not None and art.local_file.is_file()
    src = next(a for a in res.artifacts if a.name == "srconly")
    assert src.kind == "sdist" and src.local_file == art.local_file


def test_malformed_page_and_index_down_fail_closed(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    from tests.support.index_server import Raw

    index.raw["/simple/lib/"] = Raw(
        b"{not json", {"Content-Type": "application/vnd.pypi.simple.v1+json"}
    )
    with pytest.raises(FetchError, match="malformed"):
        run(request("lib", index=index.simple_url), here, fetcher)
    index.raw["/simple/other/"] = Raw(b"oops", status=500)
    with pytest.raises(FetchError, match="500"):
        run(request("other", index=index.simple_url), here, fetcher)
    url = index.simple_url
    index.stop()
    with pytest.raises(FetchError):
        run(request("third", index=url), here, fetcher)


def test_unknown_project_is_a_resolve_error(
    index: IndexServer, here: Target, fetcher: Fetcher
) -> None:
    with pytest.raises(ResolveError, match="no matching distribution for nothere"):
        run(request("nothere", index=index.simple_url), here, fetcher)
