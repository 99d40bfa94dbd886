"""End to end: signatures through the install gate, with the local index serving them.

Each case runs the real ``safe-pip install`` in a subprocess against the HTTP
index on 127.0.0.1 (or a find-links folder) into a fresh venv, then asks that
venv's own ``importlib.metadata`` what landed.  The provenance is minted by the
test-only fake sigstore and the policy pins its trusted root, so verification is
real (certificate chain, SCT, transparency-log proofs, DSSE signature, subject
digest) yet needs no network: a signature that would pass only because the
check was skipped cannot pass here, because the blocking cases use equally
well-formed signatures that differ in one thing (publisher, file, one byte).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from safe_pip.verify.provenance import predicate_types
from tests.gate.conftest import Result, Runner
from tests.support import fakesigstore as fs
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

PUBLISH = next(t for t in predicate_types() if t.endswith("/publish/v1"))
NAME = "sigpkg"
PINNED = "github:acme/pkg@release.yml"
OTHER = "github:acme/other@release.yml"
SIGNER = fs.Claims.github("acme/pkg", "release.yml")
PUBLISHER = {
    "kind": "GitHub",
    "repository": "acme/pkg",
    "workflow": "release.yml",
    "environment": None,
}

Dists = Callable[..., dict[str, str]]


@pytest.fixture(scope="module")
def fake() -> fs.FakeSigstore:
    """One throwaway sigstore per module: key generation is cheap, but not free."""
    return fs.FakeSigstore()


@pytest.fixture
def root(fake: fs.FakeSigstore, tmp_path: Path) -> Path:
    return fake.write_root(tmp_path / "fake_root.json")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "w", NAME, "1.0")


def policy(root: Path, require: str, publisher: str | None = None) -> str:
    text = f'[signatures]\nrequire = "{require}"\ntrusted_root = {json.dumps(str(root))}\n'
    if publisher is not None:
        text += f'\n[[package]]\nname = "{NAME}"\npublisher = "{publisher}"\n'
    return text


def provenance(fake: fs.FakeSigstore, wheel: Path, signed: bytes | None = None) -> bytes:
    """PEP 740 provenance for ``wheel`` by acme/pkg's release workflow (over ``signed``
    instead of the wheel's bytes when given: a valid signature for another file)."""
    data = wheel.read_bytes() if signed is None else signed
    att = fake.attestation(wheel.name, data, SIGNER, PUBLISH)
    return fs.FakeSigstore.provenance([att], PUBLISHER)


def flip_signature_byte(raw: bytes) -> bytes:
    """The same provenance with one byte of the DSSE signature changed."""
    doc = json.loads(raw)
    envelope = doc["attestation_bundles"][0]["attestations"][0]["envelope"]
    sig = bytearray(base64.b64decode(envelope["signature"]))
    sig[len(sig) // 2] ^= 0x01
    envelope["signature"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(doc).encode()


def install(
    safe_pip: Runner, venv: Path, index: IndexServer, policy_text: str, *where: str
) -> Result:
    source = where or ("-i", index.simple_url)
    return safe_pip("--python", venv, "--format", "json", *source, NAME, policy=policy_text)


def sig_findings(r: Result) -> list[dict[str, object]]:
    return [
        f
        for a in r.json()["targets"]
        for f in a["findings"]
        if str(f["rule_id"]).startswith("SIG-")
    ]


def assert_blocked(r: Result, rule: str, venv: Path, dists: Dists) -> None:
    assert r.code == 1, r.stdout + r.stderr
    assert r.json()["outcome"] == "blocked"
    assert rule in r.rules(), r.stdout
    assert NAME not in dists(venv)


def assert_installed(r: Result, venv: Path, dists: Dists) -> None:
    assert r.code == 0, r.stdout + r.stderr
    assert r.json()["outcome"] == "installed"
    assert dists(venv).get(NAME) == "1.0"


# -- provenance next to the file on an HTTP index ------------------------------------------


def test_matching_publisher_installs(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
) -> None:
    index.add(wheel).sidecars["provenance"] = provenance(fake, wheel)
    r = install(safe_pip, venv, index, policy(root, "listed", PINNED))
    assert_installed(r, venv, dists)
    assert index.count(wheel.name + ".provenance") == 1
    assert sig_findings(r) == []


def test_validly_signed_by_another_publisher_blocks(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
) -> None:
    index.add(wheel).sidecars["provenance"] = provenance(fake, wheel)
    r = install(safe_pip, venv, index, policy(root, "listed", OTHER))
    assert_blocked(r, "SIG-WRONG-PUBLISHER", venv, dists)


def test_required_provenance_missing_blocks(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, root: Path, wheel: Path
) -> None:
    index.add(wheel)
    r = install(safe_pip, venv, index, policy(root, "listed", PINNED))
    assert_blocked(r, "SIG-MISSING", venv, dists)
    assert index.count(wheel.name + ".provenance") == 1  # it was looked for


def test_available_without_provenance_installs(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, root: Path, wheel: Path
) -> None:
    index.add(wheel)
    r = install(safe_pip, venv, index, policy(root, "available"))
    assert_installed(r, venv, dists)
    assert sig_findings(r) == []


@pytest.mark.parametrize("require", ["available", "off"])
def test_a_pinned_package_from_a_mirror_that_strips_the_provenance_blocks(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    root: Path,
    tmp_path: Path,
    require: str,
) -> None:
    """Issue 18: the publisher pin means signed-by-it-or-blocked whatever ``require`` says;
    the trojan (code that runs on import) must not land, let alone run."""
    marker = tmp_path / "PWNED"
    trojan = build_wheel(
        tmp_path / "t",
        NAME,
        "1.0",
        {f"{NAME}/__init__.py": f"open({str(marker)!r}, 'w').close()\n".encode()},
    )
    index.add(trojan)  # no provenance, no sidecar: stripped by the mirror
    r = install(safe_pip, venv, index, policy(root, require, PINNED))
    assert_blocked(r, "SIG-MISSING", venv, dists)
    assert not marker.exists()


@pytest.mark.parametrize("bad", ["other-file", "flipped-byte"])
def test_bad_provenance_blocks_even_when_only_available(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
    bad: str,
) -> None:
    if bad == "other-file":  # validly signed, by the pinned publisher, for different bytes
        raw = provenance(fake, wheel, signed=b"some other wheel's bytes")
        reason = "digest-mismatch"
    else:
        raw = flip_signature_byte(provenance(fake, wheel))
        reason = "bad-signature"
    index.add(wheel).sidecars["provenance"] = raw
    r = install(safe_pip, venv, index, policy(root, "available"))
    assert_blocked(r, "SIG-INVALID", venv, dists)
    assert [f["detail"]["reason"] for f in sig_findings(r)] == [reason]  # type: ignore[index]


def test_sidecar_the_index_fails_to_serve_blocks(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, root: Path, wheel: Path
) -> None:
    """A 503 is not "unsigned": what it hides might be a bad signature (fail closed)."""
    index.add(wheel)
    index.documents[f"/files/{wheel.name}.sigstore"] = 503
    r = install(safe_pip, venv, index, policy(root, "available"))
    assert_blocked(r, "SIG-INVALID", venv, dists)
    assert [f["detail"]["reason"] for f in sig_findings(r)] == ["unavailable"]  # type: ignore[index]


# -- PEP 740: the provenance URL in the index's PEP 691 JSON -------------------------------


def test_pep691_provenance_url_is_followed(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
) -> None:
    entry = index.add(wheel)
    entry.pep740 = True
    entry.provenance_url = f"/integrity/{NAME}/1.0/{wheel.name}/provenance"  # page-relative
    index.documents[entry.provenance_url] = provenance(fake, wheel)
    r = install(safe_pip, venv, index, policy(root, "listed", PINNED))
    assert_installed(r, venv, dists)
    assert index.count("/provenance") == 1
    assert index.count(".provenance") == 0  # the index stated where; no guessing


def test_integrity_api_beside_the_simple_index_is_asked(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
) -> None:
    """No JSON statement: the PEP 740 Integrity API path derived from the index base."""
    index.add(wheel)
    index.documents[f"/integrity/{NAME}/1.0/{wheel.name}/provenance"] = provenance(fake, wheel)
    r = install(safe_pip, venv, index, policy(root, "listed", PINNED))
    assert_installed(r, venv, dists)
    assert index.count(f"/integrity/{NAME}/1.0/{wheel.name}/provenance") == 1
    assert index.count(wheel.name + ".provenance") == 0


def test_pep691_provenance_url_stated_but_not_served_blocks(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, root: Path, wheel: Path
) -> None:
    entry = index.add(wheel)
    entry.pep740 = True
    entry.provenance_url = f"/integrity/{NAME}/1.0/{wheel.name}/provenance"  # 404
    r = install(safe_pip, venv, index, policy(root, "available"))
    assert_blocked(r, "SIG-INVALID", venv, dists)


def test_pep691_null_provenance_with_required_publisher_blocks(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, root: Path, wheel: Path
) -> None:
    entry = index.add(wheel)
    entry.pep740 = True  # "provenance": null: the index says there is none
    r = install(safe_pip, venv, index, policy(root, "listed", PINNED))
    assert_blocked(r, "SIG-MISSING", venv, dists)
    assert index.count(".provenance") == 0


# -- sidecars next to a wheel in a find-links folder ----------------------------------------


@pytest.mark.parametrize("pinned,ok", [(PINNED, True), (OTHER, False)], ids=["match", "other"])
def test_find_links_publish_attestation_sidecar(
    index: IndexServer,
    venv: Path,
    safe_pip: Runner,
    dists: Dists,
    fake: fs.FakeSigstore,
    root: Path,
    wheel: Path,
    pinned: str,
    ok: bool,
) -> None:
    side = wheel.with_name(wheel.name + ".publish.attestation")
    side.write_bytes(fake.attestation(wheel.name, wheel.read_bytes(), SIGNER, PUBLISH))
    where = ("--no-index", "--find-links", str(wheel.parent))
    r = install(safe_pip, venv, index, policy(root, "listed", pinned), *where)
    if ok:
        assert_installed(r, venv, dists)
    else:
        assert_blocked(r, "SIG-WRONG-PUBLISHER", venv, dists)
    assert index.requests == []  # the HTTP index was never involved


# -- in process: a JSON page that errors (pip's own resolve would need it, so no subprocess) --


@pytest.mark.parametrize("status,blocks", [(503, True), (404, False)])
def test_json_page_that_errors_is_not_read_as_unsigned(
    index: IndexServer, tmp_path: Path, root: Path, wheel: Path, status: int, blocks: bool
) -> None:
    """A page that could have stated a provenance but answered 503 blocks; a 404 says
    "no JSON API here" and the sidecars decide (here: none, which "available" allows)."""
    from safe_pip.gate.fetch import Fetcher, Quarantine
    from safe_pip.gate.resolve import ResolvedArtifact
    from safe_pip.gate.state import ArtifactRun
    from safe_pip.gate.verify import verify_signatures
    from safe_pip.policy import load_policy

    entry = index.add(wheel)
    page = f"{index.simple_url}{NAME}/"
    index.documents[f"/simple/{NAME}/"] = status
    item = ResolvedArtifact(
        name=NAME,
        version="1.0",
        url=f"{index.url}/files/{wheel.name}#sha256={entry.sha256}",
        filename=wheel.name,
        kind="wheel",
        index_url=index.simple_url,
        page_url=page,
        requested_as=NAME,
        hashes={"sha256": entry.sha256},
    )
    art = ArtifactRun(artifact=item, label=wheel.name, path=wheel, sha256=entry.sha256)
    # the user's own policy: only it (or the org's) may name a trusted_root
    pfile = tmp_path / "config" / "safe-pip" / "policy.toml"
    pfile.parent.mkdir(parents=True)
    pfile.write_text("version = 1\n" + policy(root, "available"), encoding="utf-8")
    fetcher = Fetcher(Quarantine(tmp_path / "q"))
    try:
        isolated = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
        pol = load_policy(None, cwd=tmp_path, env=isolated)  # no machine or project layers
        verify_signatures([art], pol, fetcher, (index.simple_url,))
    finally:
        fetcher.close()
    got = [(f.rule_id, f.detail.get("source")) for f in art.findings]
    assert got == ([("SIG-INVALID", page)] if blocks else [])
    assert index.count(wheel.name + ".sigstore.json") == 1  # sidecars still probed
