"""The vetting index over HTTP: the real server process, a real upstream, real wheels.

What a client sees (pages, files, refusals, metadata) and every fail-closed path: an upstream
that is down, malformed, huge or slow, a path outside the namespaces, a broken database, a
missing token. The seed attack's payload writes a marker file if it ever runs; no test may
find it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.server.conftest import ADMIN, PUSH, Serve
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer, Raw
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

JSON = "application/vnd.pypi.simple.v1+json"
ALLOW_NAME = '[names]\nallow = ["torchvision-optimized"]\n'


def page(base: str, project: str, *, json_api: bool = True) -> requests.Response:
    accept = JSON if json_api else "text/html"
    return requests.get(
        f"{base}/simple/{project}/", headers={"Accept": accept}, timeout=60, allow_redirects=False
    )


def file_url(base: str, project: str) -> str:
    doc = page(base, project).json()
    url: str = doc["files"][0]["url"]
    return urljoin(f"{base}/simple/{project}/", url)


def test_clean_file_is_listed_vetted_and_served(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"), yanked="old build")
    server = serve([upstream.simple_url], policy='[install]\nyanked = "warn"\n')
    doc = page(server.url, "cleanpkg").json()
    [listed] = doc["files"]
    assert listed["hashes"] == {"sha256": entry.sha256}
    assert listed["yanked"] == "old build"  # yanked marks and upload times come from upstream
    assert listed["upload-time"].startswith("2020-01-01T00:00:00")
    assert "core-metadata" not in listed  # not yet judged: nothing of it is advertised
    r = requests.get(file_url(server.url, "cleanpkg"), timeout=60)
    assert r.status_code == 200, r.text
    assert hashlib.sha256(r.content).hexdigest() == entry.sha256
    # Now allowed: PEP 658 metadata is advertised and is the vetted wheel's own METADATA.
    doc = page(server.url, "cleanpkg").json()
    meta = doc["files"][0]["core-metadata"]["sha256"]
    got = requests.get(file_url(server.url, "cleanpkg") + ".metadata", timeout=30)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == meta
    assert got.content == entry.metadata
    html = page(server.url, "cleanpkg", json_api=False).text
    assert f'data-core-metadata="sha256={meta}"' in html and 'data-yanked="old build"' in html
    # A second download is served from the store: no new upstream download, one vetting.
    downloads = upstream.files[entry.filename].downloads
    assert requests.get(file_url(server.url, "cleanpkg"), timeout=60).content == r.content
    assert upstream.files[entry.filename].downloads == downloads
    assert server.vetted(entry.sha256) == 1


def test_seed_attack_refused_with_rule_ids_and_never_listed_again(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    entry = upstream.add(evil_wheel(tmp_path / "w", marker, name="torchvision-optimized"))
    server = serve([upstream.simple_url], policy=ALLOW_NAME)
    url = file_url(server.url, "torchvision-optimized")
    r = requests.get(url, timeout=60)
    assert r.status_code == 403
    assert "PICKLE-GLOBAL-DANGEROUS" in r.url  # the URL clients print names the rule
    assert "PICKLE-GLOBAL-DANGEROUS" in r.text and "[[exception]]" in r.text
    assert entry.sha256 in r.text and b"os.system" not in r.content[:0]  # body is text
    # Blocked now: the page would list nothing, so it is refused and says why.
    p = page(server.url, "torchvision-optimized")
    assert p.status_code == 303 and "PICKLE-GLOBAL-DANGEROUS" in p.headers["location"]
    assert requests.get(url, timeout=30).status_code == 403  # the bytes stay refused
    assert not marker.exists()
    records = server.admin("/v1/audit?sha256=" + entry.sha256).json()["records"]
    assert {r["event"] for r in records} == {"vetted", "refused"}


def test_blocked_version_hidden_allowed_one_listed(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    upstream.add(build_wheel(tmp_path / "w", "modelzoo", "1.0"))
    bad = upstream.add(evil_wheel(tmp_path / "w2", marker, name="modelzoo", version="2.0"))
    server = serve([upstream.simple_url])
    files = page(server.url, "modelzoo").json()["files"]
    assert {f["filename"] for f in files} == {"modelzoo-1.0-py3-none-any.whl", bad.filename}
    bad_url = f"{server.url}/files/{bad.sha256}/{bad.filename}"
    assert requests.get(bad_url, timeout=60).status_code == 403
    files = page(server.url, "modelzoo").json()["files"]
    assert [f["filename"] for f in files] == ["modelzoo-1.0-py3-none-any.whl"]


def test_typosquat_name_refused_from_the_page(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "torchvision-optimized", "1.0"))
    server = serve([upstream.simple_url])
    p = page(server.url, "torchvision-optimized")
    assert p.status_code == 303 and "NAME-TYPOSQUAT" in p.headers["location"]
    direct = requests.get(f"{server.url}/files/{entry.sha256}/{entry.filename}", timeout=30)
    assert direct.status_code == 403 and "NAME-TYPOSQUAT" in direct.url
    assert upstream.files[entry.filename].downloads == 0  # refused before any download


def test_index_confusion_hidden_unless_pinned(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    with IndexServer() as extra:
        upstream.add(build_wheel(tmp_path / "a", "internal-lib", "1.0"))
        attack = extra.add(build_wheel(tmp_path / "b", "internal-lib", "9.0"))
        server = serve([upstream.simple_url, extra.simple_url])
        p = page(server.url, "internal-lib")
        assert p.status_code == 303 and "INDEX-CONFUSION" in p.headers["location"]
        r = requests.get(f"{server.url}/files/{attack.sha256}/{attack.filename}", timeout=30)
        assert r.status_code == 403 and "INDEX-CONFUSION" in r.url
        pinned = serve(
            [upstream.simple_url, extra.simple_url],
            policy=f'[[package]]\nname = "internal-lib"\nindex = "{upstream.simple_url}"\n',
        )
        files = page(pinned.url, "internal-lib").json()["files"]
        assert [f["filename"] for f in files] == ["internal_lib-1.0-py3-none-any.whl"]
        assert extra.count("/simple/internal-lib/") == 2  # the pinned server never asked it


def test_upstream_down_is_502_never_a_file(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    server = serve([upstream.simple_url])
    url = file_url(server.url, "cleanpkg")
    upstream.stop()
    assert page(server.url, "cleanpkg").status_code == 502
    r = requests.get(url, timeout=60)
    assert r.status_code == 502 and r.content != entry.path.read_bytes()


def test_upstream_errors_and_malformed_pages_are_502(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    server = serve([upstream.simple_url])
    upstream.raw["/simple/brokenjson/"] = Raw(b"{not json", {"Content-Type": JSON})
    assert page(server.url, "brokenjson").status_code == 502
    upstream.raw["/simple/wrongshape/"] = Raw(
        json.dumps({"files": [1, 2]}).encode(), {"Content-Type": JSON}
    )
    assert page(server.url, "wrongshape").status_code == 502
    upstream.status_override = 503
    assert page(server.url, "cleanpkg").status_code == 502


def test_huge_and_slow_upstream_pages_are_cut_off(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    bomb = gzip.compress(b" " * (8 << 20))
    upstream.raw["/simple/bomb/"] = Raw(
        bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    upstream.raw["/simple/slow/"] = Raw(
        b"<html>" + b" " * 4000, {"Content-Type": "text/html"}, delay=0.5, piece=100
    )
    server = serve(
        [upstream.simple_url],
        policy="[network]\nmax_page = 1048576\ndeadline = 3\nread_timeout = 2\n",
    )
    r = page(server.url, "bomb")
    assert r.status_code == 502 and "max_page" in r.text
    r = page(server.url, "slow")
    assert r.status_code == 502 and "deadline" in r.text


def test_huge_download_refused(upstream: IndexServer, serve: Serve, tmp_path: Path) -> None:
    big = build_wheel(tmp_path / "w", "bigpkg", "1.0", {"bigpkg/data.bin": os.urandom(3 << 20)})
    entry = upstream.add(big)
    server = serve([upstream.simple_url], policy="[network]\nmax_download = 1048576\n")
    r = requests.get(f"{server.url}/files/{entry.sha256}/{entry.filename}", timeout=60)
    assert r.status_code == 502 and "max_download" in r.text


def test_other_bytes_than_advertised_refused_and_not_remembered(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    entry.serve_bytes = b"PK\x05\x06" + bytes(18)
    server = serve([upstream.simple_url])
    url = f"{server.url}/files/{entry.sha256}/{entry.filename}"
    r = requests.get(url, timeout=60)
    assert r.status_code == 403 and "INSTALL-HASH-MISMATCH" in r.url
    entry.serve_bytes = None  # the upstream recovers: a transient fault blocks nothing for good
    r = requests.get(url, timeout=60)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == entry.sha256


OUTSIDE = (
    "/etc/passwd",
    "/simple/../../etc/passwd",
    "/files/%2e%2e/%2e%2e/etc/passwd",
    "/files/..%2F..%2Fetc/passwd",
    "/files/" + "a" * 64 + "/..%2F..%2Fstate.sqlite3",
    "/files/" + "a" * 64 + "/x.txt",
    "/files/not-a-sha/cleanpkg-1.0-py3-none-any.whl",
    "/simple/%2e%2e%2fetc/",
    "/simple/a%00b/",
    "/-/refused/1/x",
    "/-/refused/999/X/y",
    "/store/",
)


def test_paths_outside_the_namespace_are_404(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    server = serve([upstream.simple_url])
    for path in OUTSIDE:
        r = requests.get(server.url + path, timeout=30, allow_redirects=False)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert all("etc" not in u and "sqlite" not in u for u in upstream.requests)


def test_database_error_is_503_and_serves_nothing(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    db = tmp_path / "db" / "state.sqlite3"
    server = serve([upstream.simple_url], database=f"sqlite:///{db}")
    url = f"{server.url}/files/{entry.sha256}/{entry.filename}"
    assert requests.get(url, timeout=60).status_code == 200
    for suffix in ("", "-wal", "-shm"):
        p = db.with_name(db.name + suffix)
        if p.exists():
            p.write_bytes(b"this is not a database" * 100)
    r = requests.get(url, timeout=30)
    assert r.status_code == 503 and r.content != entry.path.read_bytes()
    assert page(server.url, "cleanpkg").status_code == 503
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 503


def test_index_tokens_basic_auth(upstream: IndexServer, serve: Serve, tmp_path: Path) -> None:
    upstream.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
    server = serve([upstream.simple_url], env={"SAFE_PIP_SERVE_INDEX_TOKENS": "s3cret"})
    r = requests.get(server.url + "/simple/cleanpkg/", timeout=30)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    bad = requests.get(server.url + "/simple/cleanpkg/", auth=("ci", "wrong"), timeout=30)
    assert bad.status_code == 401
    ok = requests.get(server.url + "/simple/cleanpkg/", auth=("ci", "s3cret"), timeout=30)
    assert ok.status_code == 200 and "cleanpkg" in ok.text


def test_admin_and_push_endpoints_need_their_tokens(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    server = serve([upstream.simple_url])
    inventory: dict[str, Any] = {
        "machine": "build-7",
        "environment": "/srv/app/.venv",
        "distributions": [{"name": "Torchvision_Optimized", "version": "1.0"}],
    }
    url = server.url + "/v1/inventory"
    assert requests.post(url, json=inventory, timeout=30).status_code == 401
    wrong = {"Authorization": f"Bearer {ADMIN}x"}
    assert requests.post(url, json=inventory, headers=wrong, timeout=30).status_code == 401
    ok = requests.post(url, json=inventory, headers={"Authorization": f"Bearer {PUSH}"}, timeout=30)
    assert ok.status_code == 200 and ok.json()["stored"] == 1
    q = "/v1/installed?name=torchvision-optimized"
    push_only = {"Authorization": f"Bearer {PUSH}"}
    assert requests.get(server.url + q, headers=push_only, timeout=30).status_code == 401
    got = server.admin(q).json()["installations"]
    assert [(i["machine"], i["environment"], i["version"]) for i in got] == [
        ("build-7", "/srv/app/.venv", "1.0")
    ]
    bad = requests.post(url, data=b"{", headers=push_only, timeout=30)
    assert bad.status_code == 400


def test_admin_closed_without_tokens(upstream: IndexServer, serve: Serve) -> None:
    server = serve([upstream.simple_url], env={"SAFE_PIP_SERVE_ADMIN_TOKENS": ""})
    r = requests.get(server.url + "/v1/audit", headers={"Authorization": "Bearer "}, timeout=30)
    assert r.status_code in (401, 403)


def test_cooldown_refuses_until_old_enough(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    entry = upstream.add(build_wheel(tmp_path / "w", "freshpkg", "1.0"), upload_time=now)
    server = serve([upstream.simple_url], policy='[install]\nmin_age = "7d"\n')
    p = page(server.url, "freshpkg")
    assert p.status_code == 303 and "INDEX-TOO-NEW" in p.headers["location"]
    assert upstream.files[entry.filename].downloads == 0


def test_pep740_provenance_passes_through_for_allowed_files(
    upstream: IndexServer, serve: Serve, tmp_path: Path
) -> None:
    entry = upstream.add(build_wheel(tmp_path / "w", "signedpkg", "1.0"))
    doc = json.dumps({"version": 1, "attestation_bundles": []}).encode()
    entry.sidecars["provenance"] = doc
    entry.pep740 = True
    entry.provenance_url = f"{upstream.url}/files/{entry.filename}.provenance"
    # Signature checking is the gate's business (tests/gate); here only the pass-through.
    server = serve([upstream.simple_url], policy='[signatures]\nrequire = "off"\n')
    assert "provenance" not in page(server.url, "signedpkg").json()["files"][0]
    assert (
        requests.get(file_url(server.url, "signedpkg") + ".provenance", timeout=30).status_code
        == 404
    )
    assert requests.get(file_url(server.url, "signedpkg"), timeout=60).status_code == 200
    listed = page(server.url, "signedpkg").json()["files"][0]
    assert listed["provenance"].endswith(".provenance")
    got = requests.get(file_url(server.url, "signedpkg") + ".provenance", timeout=30)
    assert got.status_code == 200 and got.content == doc
