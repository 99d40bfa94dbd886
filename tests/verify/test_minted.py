"""Cases tampering cannot make, minted with the test-only fake sigstore, plus the
install-gate API (``verify_artifact_signatures``) and its ``require`` levels."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from safe_pip.cli import main
from safe_pip.verify import Expected, Identity, parse_publisher, verify_artifact_signatures
from safe_pip.verify.provenance import predicate_types
from tests.support import fakesigstore as fs
from tests.verify.conftest import MODEL_ISSUER, MODEL_SAN, MODELS, PA_PUBLISHER, PA_SDIST

PUBLISH = next(t for t in predicate_types() if t.endswith("/publish/v1"))
WIDGET = "github:acme/widget@release.yml"


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    rc = main(["verify", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_minted_attestation_verifies_only_against_its_own_root(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    f, root = fake
    att = dist.with_name(dist.name + ".publish.attestation")
    att.write_bytes(
        f.attestation(
            dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
        )
    )
    assert (
        cli(capsys, dist, "--attestation", att, "--publisher", WIDGET, "--trusted-root", root)[0]
        == 0
    )
    rc, out = cli(capsys, dist, "--attestation", att, "--publisher", WIDGET)  # production root
    assert rc == 1 and "wrong-root" in out


@pytest.mark.parametrize(
    "claims,reason",
    [
        (fs.Claims.github("evil/widget", "release.yml"), "wrong-repository"),
        (fs.Claims.github("acme/widget", "pwn.yml"), "wrong-workflow"),
        (
            fs.Claims(san="mallory@example.com", issuer="https://accounts.google.com", email=True),
            "wrong-identity",
        ),
    ],
)
def test_validly_signed_by_the_wrong_publisher(
    capsys: pytest.CaptureFixture[str],
    fake: tuple[fs.FakeSigstore, Path],
    dist: Path,
    claims: fs.Claims,
    reason: str,
) -> None:
    f, root = fake
    att = dist.with_name(dist.name + ".publish.attestation")
    att.write_bytes(f.attestation(dist.name, dist.read_bytes(), claims, PUBLISH))
    rc, out = cli(capsys, dist, "--attestation", att, "--publisher", WIDGET, "--trusted-root", root)
    assert rc == 1 and reason in out, out


@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(minutes=-30), dt.timedelta(minutes=30)],
    ids=["expired", "not-yet-valid"],
)
def test_certificate_not_valid_at_log_time(
    capsys: pytest.CaptureFixture[str],
    fake: tuple[fs.FakeSigstore, Path],
    dist: Path,
    offset: dt.timedelta,
) -> None:
    f, root = fake
    bundle = dist.with_name(dist.name + ".sigstore")
    bundle.write_bytes(
        f.hashedrekord_bundle(
            dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), offset
        )
    )
    rc, out = cli(capsys, dist, "--bundle", bundle, "--publisher", WIDGET, "--trusted-root", root)
    assert rc == 1 and "cert-not-valid" in out, out


def test_private_index_identity_with_bundle(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    f, root = fake
    claims = fs.Claims(
        san="release-bot@corp.example", issuer="https://sso.corp.example", email=True
    )
    bundle = dist.with_name(dist.name + ".sigstore.json")
    bundle.write_bytes(f.hashedrekord_bundle(dist.read_bytes(), claims))
    ok = cli(
        capsys,
        dist,
        "--bundle",
        bundle,
        "--cert-identity",
        "release-bot@corp.example",
        "--cert-oidc-issuer",
        "https://sso.corp.example",
        "--trusted-root",
        root,
    )
    assert ok[0] == 0, ok[1]
    rc, out = cli(
        capsys,
        dist,
        "--bundle",
        bundle,
        "--cert-identity",
        "release-bot@corp.example",
        "--cert-oidc-issuer",
        "https://evil.example",
        "--trusted-root",
        root,
    )
    assert rc == 1 and "wrong-identity" in out


def test_environment_is_taken_from_the_certificate(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    """Only the certificate (Fulcio .23) proves an environment; the provenance's publisher
    object is unsigned and says whatever the index wants (issue 18)."""
    f, root = fake
    plain = f.attestation(
        dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    pub = {
        "kind": "GitHub",
        "repository": "acme/widget",
        "workflow": "release.yml",
        "environment": "pypi",
    }
    prov = dist.with_name(dist.name + ".provenance")
    prov.write_bytes(fs.FakeSigstore.provenance([plain, plain], pub))
    args = ("--provenance", prov, "--trusted-root", root)
    rc, out = cli(capsys, dist, *args, "--publisher", WIDGET + "#pypi")
    assert rc == 1 and "wrong-environment" in out
    signed = f.attestation(
        dist.name,
        dist.read_bytes(),
        fs.Claims.github("acme/widget", "release.yml", environment="pypi"),
        PUBLISH,
    )
    prov.write_bytes(fs.FakeSigstore.provenance([signed, signed], pub))
    assert cli(capsys, dist, *args, "--publisher", WIDGET + "#pypi")[0] == 0
    rc, out = cli(capsys, dist, *args, "--publisher", WIDGET + "#staging")
    assert rc == 1 and "wrong-environment" in out
    # a bare attestation proves it too when its certificate carries it
    bare = dist.with_name(dist.name + ".publish.attestation")
    bare.write_bytes(signed)
    rc, out = cli(
        capsys, dist, "--attestation", bare, "--publisher", WIDGET + "#pypi", "--trusted-root", root
    )
    assert rc == 0, out


def test_one_bad_attestation_in_provenance_fails_all(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    f, root = fake
    good = f.attestation(
        dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    other = f.attestation(
        dist.name, b"other bytes", fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    prov = dist.with_name(dist.name + ".provenance")
    prov.write_bytes(
        fs.FakeSigstore.provenance(
            [good, other],
            {
                "kind": "GitHub",
                "repository": "acme/widget",
                "workflow": "release.yml",
                "environment": None,
            },
        )
    )
    rc, out = cli(capsys, dist, "--provenance", prov, "--publisher", WIDGET, "--trusted-root", root)
    assert rc == 1 and "attestation 2 of 2" in out and "digest-mismatch" in out


# -- the install-gate API -------------------------------------------------------------------


def gate(
    path: Path,
    root: Path | None,
    *,
    expected: list[Expected],
    require: str,
    sidecars: tuple[Path, ...] | list[Path] = (),
    prov: bytes | None = None,
    name: str = "acme-widget",
    version: str | None = "1.0",
) -> set[str]:
    findings = verify_artifact_signatures(
        path,
        name=name,
        version=version,
        sidecars=sidecars,
        provenance_json=prov,
        expected=expected,
        require=require,
        trusted_root=root,
    )
    return {f.rule_id for f in findings}


def test_gate_require_levels(fake: tuple[fs.FakeSigstore, Path], dist: Path) -> None:
    f, root = fake
    pub = parse_publisher(WIDGET)
    assert gate(dist, root, expected=[pub], require="listed") == {"SIG-MISSING"}
    assert gate(dist, root, expected=[], require="listed") == set()
    assert gate(dist, root, expected=[], require="available") == set()
    assert gate(dist, root, expected=[], require="always") == {"SIG-MISSING"}
    assert gate(dist, root, expected=[pub], require="off") == set()
    good = f.attestation(
        dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    prov = fs.FakeSigstore.provenance(
        [good],
        {
            "kind": "GitHub",
            "repository": "acme/widget",
            "workflow": "release.yml",
            "environment": None,
        },
    )
    assert gate(dist, root, expected=[pub], require="listed", prov=prov) == set()
    assert gate(dist, root, expected=[], require="available", prov=prov) == {"SIG-UNPINNED"}
    evil = parse_publisher("github:evil/widget@release.yml")
    assert gate(dist, root, expected=[evil], require="available", prov=prov) == {
        "SIG-WRONG-PUBLISHER"
    }
    assert gate(dist, None, expected=[pub], require="available", prov=prov) == {"SIG-INVALID"}
    assert gate(dist, root, expected=[pub], require="listed", prov=b"{trunc") == {"SIG-INVALID"}
    # the file is not the distribution the resolver asked for
    assert gate(dist, root, expected=[pub], require="listed", prov=prov, name="other") == {
        "SIG-INVALID"
    }


def test_gate_with_real_sidecars() -> None:
    pub = parse_publisher(PA_PUBLISHER)
    sidecars = [
        PA_SDIST.with_name(PA_SDIST.name + s)
        for s in (".provenance", ".publish.attestation", ".slsa.attestation")
    ]
    assert (
        gate(
            PA_SDIST,
            None,
            expected=[pub],
            require="always",
            sidecars=sidecars,
            name="pypi-attestations",
            version="0.0.19",
        )
        == set()
    )
    wrong = parse_publisher("github:trailofbits/pypi-attestations@other.yml")
    assert gate(
        PA_SDIST,
        None,
        expected=[wrong],
        require="always",
        sidecars=sidecars,
        name="pypi-attestations",
        version="0.0.19",
    ) == {"SIG-WRONG-PUBLISHER"}


def _wheel_with_model(tmp_path: Path, model: Path, tamper: bool = False) -> Path:
    whl = tmp_path / "acme_widget-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr("acme_widget/__init__.py", "")
        for p in sorted(model.iterdir()):
            data = p.read_bytes()
            if tamper and p.name == "signme-1":
                data += b"!"
            zf.writestr(f"acme_widget/weights/{p.name}", data)
    return whl


def test_gate_verifies_model_sig_inside_a_wheel(tmp_path: Path) -> None:
    ident = Identity(MODEL_SAN, MODEL_ISSUER)
    whl = _wheel_with_model(tmp_path, MODELS / "v1.1.0-sigstore")
    assert gate(whl, None, expected=[ident], require="available") == set()
    assert gate(
        whl, None, expected=[Identity("eve@example.com", MODEL_ISSUER)], require="available"
    ) == {"MODEL-SIG-INVALID"}
    bad = _wheel_with_model(tmp_path, MODELS / "v1.1.0-sigstore", tamper=True)
    assert gate(bad, None, expected=[ident], require="available") == {"MODEL-SIG-INVALID"}
    keyed = _wheel_with_model(tmp_path, MODELS / "v1.1.0-elliptic-key")
    assert gate(keyed, None, expected=[], require="available") == {"MODEL-SIG-UNVERIFIABLE"}


def test_gate_rejects_unknown_require(dist: Path) -> None:
    with pytest.raises(ValueError):
        gate(dist, None, expected=[], require="sometimes")


def test_fakesigstore_root_is_not_the_production_root(fake: tuple[fs.FakeSigstore, Path]) -> None:
    _, root = fake
    doc = json.loads(root.read_text())
    assert all(".invalid" in t["baseUrl"] for t in doc["tlogs"] + doc["ctlogs"])
