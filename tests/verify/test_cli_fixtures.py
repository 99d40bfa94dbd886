"""``safe-pip verify`` on the real published fixtures: every one verifies offline,
and each tampering from the issue exits 1 with the reason in words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from safe_pip.cli import main
from tests.support.report_schema import load_report
from tests.verify.conftest import (
    GH_ISSUER,
    GL_PUBLISHER,
    GL_SDIST,
    MODELS_SDIST,
    PA_PUBLISHER,
    PA_SDIST,
    RFC_SAN,
    RFC_WHEEL,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    rc = main(["verify", *map(str, argv)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out + out.err


def side(dist: Path, suffix: str) -> Path:
    return dist.with_name(dist.name + suffix)


# -- every fixture verifies ------------------------------------------------------------


def test_hashedrekord_bundle_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        side(RFC_WHEEL, ".sigstore"),
        "--cert-identity",
        RFC_SAN,
        "--cert-oidc-issuer",
        GH_ISSUER,
    )
    assert rc == 0, out
    assert "verified" in out


def test_bundle_verifies_against_github_publisher(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        side(RFC_WHEEL, ".sigstore"),
        "--publisher",
        "github:trailofbits/rfc8785.py@release.yml",
    )
    assert rc == 0, out


def test_dsse_bundle_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        MODELS_SDIST,
        "--bundle",
        side(MODELS_SDIST, ".sigstore"),
        "--publisher",
        "github:trailofbits/pypi-attestation-models@release.yml",
    )
    assert rc == 0, out


@pytest.mark.parametrize(
    "flag,suffix",
    [
        ("--provenance", ".provenance"),
        ("--attestation", ".publish.attestation"),
        ("--attestation", ".slsa.attestation"),
    ],
)
def test_pep740_fixtures_verify(capsys: pytest.CaptureFixture[str], flag: str, suffix: str) -> None:
    rc, out = run(capsys, PA_SDIST, flag, side(PA_SDIST, suffix), "--publisher", PA_PUBLISHER)
    assert rc == 0, out


def test_gitlab_attestation_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        GL_SDIST,
        "--attestation",
        side(GL_SDIST, ".publish.attestation"),
        "--publisher",
        GL_PUBLISHER,
    )
    assert rc == 0, out


def test_sidecars_are_discovered_and_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(capsys, PA_SDIST, "--publisher", PA_PUBLISHER, "--format", "json")
    doc = load_report(out)
    assert rc == 0 and doc["outcome"] == "verified" and doc["schema_version"] == "2"
    assert {r["source"] for r in doc["targets"][0]["signatures"]} == {
        "pypi_attestations-0.0.19.tar.gz.provenance#0",
        "pypi_attestations-0.0.19.tar.gz.publish.attestation",
        "pypi_attestations-0.0.19.tar.gz.slsa.attestation",
    }


# -- negative cases from the issue -------------------------------------------------------


def test_flipped_byte_is_digest_mismatch(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    for dist, flag, suffix, who in [
        (
            work / "sigstore/bundles" / RFC_WHEEL.name,
            "--bundle",
            ".sigstore",
            ("--cert-identity", RFC_SAN, "--cert-oidc-issuer", GH_ISSUER),
        ),
        (
            work / "sigstore/pep740" / PA_SDIST.name,
            "--provenance",
            ".provenance",
            ("--publisher", PA_PUBLISHER),
        ),
        (
            work / "sigstore/pep740" / GL_SDIST.name,
            "--attestation",
            ".publish.attestation",
            ("--publisher", GL_PUBLISHER),
        ),
    ]:
        data = bytearray(dist.read_bytes())
        data[len(data) // 2] ^= 0x01
        dist.write_bytes(bytes(data))
        rc, out = run(capsys, dist, flag, side(dist, suffix), *who)
        assert rc == 1 and "digest-mismatch" in out, out


def test_renamed_distribution(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    src = work / "sigstore/pep740" / PA_SDIST.name
    renamed = src.with_name("pypi_attestations-0.0.20.tar.gz")
    shutil.copy(src, renamed)
    rc, out = run(
        capsys,
        renamed,
        "--attestation",
        side(src, ".publish.attestation"),
        "--publisher",
        PA_PUBLISHER,
    )
    assert rc == 1 and "name-mismatch" in out, out


def test_wrong_repository(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        PA_SDIST,
        "--provenance",
        side(PA_SDIST, ".provenance"),
        "--publisher",
        "github:attacker/pypi-attestations@release.yml",
    )
    assert rc == 1 and "wrong-repository" in out and "attacker/pypi-attestations" in out, out


def test_wrong_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        PA_SDIST,
        "--provenance",
        side(PA_SDIST, ".provenance"),
        "--publisher",
        "github:trailofbits/pypi-attestations@nightly.yml",
    )
    assert rc == 1 and "wrong-workflow" in out, out


def test_wrong_gitlab_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        GL_SDIST,
        "--attestation",
        side(GL_SDIST, ".publish.attestation"),
        "--publisher",
        "gitlab:facutuesca/gitlab-oidc-project@ci/other.yml",
    )
    assert rc == 1 and "wrong-workflow" in out, out


def test_wrong_identity_on_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        side(RFC_WHEEL, ".sigstore"),
        "--cert-identity",
        RFC_SAN.replace("v0.1.2", "v9"),
        "--cert-oidc-issuer",
        GH_ISSUER,
    )
    assert rc == 1 and "wrong-identity" in out, out


def test_staging_bundle_against_production_root(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        side(RFC_WHEEL, ".staging.sigstore"),
        "--cert-identity",
        "william@yossarian.net",
        "--cert-oidc-issuer",
        "https://github.com/login/oauth",
    )
    assert rc == 1 and "wrong-root" in out, out


def test_bundle_for_a_different_file(capsys: pytest.CaptureFixture[str]) -> None:
    # a hashedrekord bundle over the wheel, presented for the sdist
    rc, out = run(
        capsys,
        MODELS_SDIST,
        "--bundle",
        side(RFC_WHEEL, ".sigstore"),
        "--cert-identity",
        RFC_SAN,
        "--cert-oidc-issuer",
        GH_ISSUER,
    )
    assert rc == 1 and "digest-mismatch" in out, out
    # a DSSE bundle naming the sdist, presented for the wheel
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        side(MODELS_SDIST, ".sigstore"),
        "--publisher",
        "github:trailofbits/pypi-attestation-models@release.yml",
    )
    assert rc == 1 and "name-mismatch" in out, out


@pytest.mark.parametrize("content", [b"", b"not json at all", b"\xff\xfe\x00binary", b"[1, 2]"])
def test_non_json_bundle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.sigstore"
    bad.write_bytes(content)
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        bad,
        "--cert-identity",
        RFC_SAN,
        "--cert-oidc-issuer",
        GH_ISSUER,
    )
    assert rc == 1 and "malformed" in out, out


@pytest.mark.parametrize(
    "suffix,flag",
    [
        (".sigstore", "--bundle"),
        (".provenance", "--provenance"),
        (".publish.attestation", "--attestation"),
    ],
)
def test_truncated_signature_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str, flag: str
) -> None:
    dist = RFC_WHEEL if suffix == ".sigstore" else PA_SDIST
    raw = side(dist, suffix).read_bytes()
    cut = tmp_path / ("cut" + suffix)
    cut.write_bytes(raw[: len(raw) // 2])
    who = (
        ("--cert-identity", RFC_SAN, "--cert-oidc-issuer", GH_ISSUER)
        if dist is RFC_WHEEL
        else ("--publisher", PA_PUBLISHER)
    )
    rc, out = run(capsys, dist, flag, cut, *who)
    assert rc == 1 and "malformed" in out and "truncated" in out, out


def test_valid_json_but_broken_bundle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = json.loads(side(RFC_WHEEL, ".sigstore").read_bytes())
    doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1710888077"
    bad = tmp_path / "x.sigstore"
    bad.write_text(json.dumps(doc))
    rc, out = run(
        capsys,
        RFC_WHEEL,
        "--bundle",
        bad,
        "--cert-identity",
        RFC_SAN,
        "--cert-oidc-issuer",
        GH_ISSUER,
    )
    assert rc == 1 and "bad-signature" in out, out


def test_no_attestation(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    lonely = work / "lonely-1.0.tar.gz"
    lonely.write_bytes(b"x")
    rc, out = run(capsys, lonely, "--publisher", PA_PUBLISHER)
    assert rc == 1 and "no-signature" in out, out


def test_empty_provenance(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "p.provenance"
    empty.write_text(json.dumps({"version": 1, "attestation_bundles": []}))
    rc, out = run(capsys, PA_SDIST, "--provenance", empty, "--publisher", PA_PUBLISHER)
    assert rc == 1, out


# -- usage errors exit 2 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["missing.whl", "--publisher", PA_PUBLISHER],
        [str(PA_SDIST), "--publisher", "bitbucket:x/y@z.yml"],
        [str(PA_SDIST), "--cert-identity", "x"],
        [str(PA_SDIST)],
        [str(PA_SDIST), "--provenance", "nope.provenance", "--publisher", PA_PUBLISHER],
        [str(PA_SDIST), "--publisher", PA_PUBLISHER, "--trusted-root", "nope.json"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    rc, out = run(capsys, *argv)
    assert rc == 2, out


def test_bad_trusted_root_file_is_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "root.json"
    root.write_text("{}")
    rc, out = run(capsys, PA_SDIST, "--publisher", PA_PUBLISHER, "--trusted-root", root)
    assert rc == 2 and "trusted root" in out, out


@pytest.mark.parametrize(
    "publisher,rc",
    [
        ("github:trailofbits/pypi-attestations@release.yml", 0),
        ("github:evil/pypi-attestations@release.yml", 1),
    ],
)
def test_policy_names_the_publisher(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, publisher: str, rc: int
) -> None:
    policy = tmp_path / "safe-pip.toml"
    policy.write_text(
        f'version = 1\n[[package]]\nname = "pypi-attestations"\npublisher = "{publisher}"\n'
    )
    got, out = run(capsys, PA_SDIST, "--policy", policy)
    assert got == rc, out
