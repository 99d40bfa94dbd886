"""OpenSSF model signatures on the real fixtures, and publisher-string parsing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safe_pip.cli import main
from safe_pip.verify import Identity, Publisher, PublisherSyntaxError, parse_publisher
from tests.verify.conftest import MODEL_ISSUER, MODEL_SAN, MODELS


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    rc = main(["verify", *map(str, argv)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out + out.err


def sig_args(model: Path) -> list[object]:
    return [
        model,
        "--model-signature",
        model / "model.sig",
        "--cert-identity",
        MODEL_SAN,
        "--cert-oidc-issuer",
        MODEL_ISSUER,
    ]


def test_sigstore_model_signature_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = cli(capsys, *sig_args(MODELS / "v1.1.0-sigstore"))
    assert rc == 0, out


def test_key_model_signature_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    m = MODELS / "v1.1.0-elliptic-key"
    rc, out = cli(
        capsys,
        m,
        "--model-signature",
        m / "model.sig",
        "--key",
        MODELS / "keys" / "signing-key-pub.pem",
    )
    assert rc == 0, out


def test_key_model_signature_wrong_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "k.pem").write_bytes(pem)
    m = MODELS / "v1.1.0-elliptic-key"
    rc, out = cli(capsys, m, "--model-signature", m / "model.sig", "--key", tmp_path / "k.pem")
    assert rc == 1 and "bad-signature" in out


def test_model_wrong_identity(capsys: pytest.CaptureFixture[str]) -> None:
    m = MODELS / "v1.1.0-sigstore"
    rc, out = cli(
        capsys,
        m,
        "--model-signature",
        m / "model.sig",
        "--cert-identity",
        "eve@example.com",
        "--cert-oidc-issuer",
        MODEL_ISSUER,
    )
    assert rc == 1 and "wrong-identity" in out


@pytest.mark.parametrize("change", ["tamper", "add", "remove", "ignored"])
def test_model_tampering(capsys: pytest.CaptureFixture[str], tmp_path: Path, change: str) -> None:
    m = tmp_path / "model"
    shutil.copytree(MODELS / "v1.1.0-sigstore", m)
    for p in m.iterdir():
        p.chmod(0o644)
    if change == "tamper":
        (m / "signme-1").write_bytes(b"changed!")
    elif change == "add":
        (m / "backdoor.pt").write_bytes(b"x")
    elif change == "remove":
        (m / "signme-2").unlink()
    else:
        (m / "ignore-me").write_bytes(b"anything")  # excluded by the signed ignore list
    rc, out = cli(capsys, *sig_args(m))
    if change == "ignored":
        assert rc == 0, out
    else:
        assert rc == 1 and "digest-mismatch" in out, out


def test_model_plain_key_without_key(capsys: pytest.CaptureFixture[str]) -> None:
    m = MODELS / "v1.1.0-elliptic-key"
    rc, out = cli(capsys, *sig_args(m))
    assert rc == 1 and "unsupported" in out


@pytest.mark.parametrize(
    "text,expected",
    [
        ("github:acme/widget@release.yml", Publisher("github", "acme/widget", "release.yml")),
        (
            "github:acme/widget@release.yaml#pypi",
            Publisher("github", "acme/widget", "release.yaml", "pypi"),
        ),
        (
            "gitlab:group/sub/proj@ci/.gitlab-ci.yml",
            Publisher("gitlab", "group/sub/proj", "ci/.gitlab-ci.yml"),
        ),
        (
            "google:svc@proj.iam.gserviceaccount.com",
            Publisher("google", email="svc@proj.iam.gserviceaccount.com"),
        ),
    ],
)
def test_parse_publisher(text: str, expected: Publisher) -> None:
    assert parse_publisher(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "github:acme@release.yml",
        "github:acme/widget",
        "github:acme/widget@release",
        "github:acme/widget/x@release.yml",
        "gitlab:proj@.gitlab-ci.yml",
        "google:not-an-email",
        "bitbucket:a/b@c.yml",
        "github:acme/wid get@release.yml",
    ],
)
def test_parse_publisher_rejects(text: str) -> None:
    with pytest.raises(PublisherSyntaxError):
        parse_publisher(text)


def test_identity_str() -> None:
    assert "issuer" in str(Identity("a@b.c", "https://x"))
