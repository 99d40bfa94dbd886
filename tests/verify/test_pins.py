"""Signer pins bound to what matters (issue 18): the source repository, ref, build config and
deployment environment in the Fulcio certificate, not the subject alone.

Every certificate here is minted by the test-only CA (``tests/support/fakesigstore.py``) with
the real Fulcio extension OIDs (1.3.6.1.4.1.57264.1.9/.12/.14/.18/.23), and every check
runs through sigstore's real verifier against that CA's trusted root; sockets are blocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safe_pip.models import Finding
from safe_pip.policy.pins import Identity, identity_from, parse_publisher
from safe_pip.verify import Expected, verify_artifact_signatures
from safe_pip.verify.provenance import predicate_types
from tests.support import fakesigstore as fs
from tests.verify.conftest import run_verify as cli

PUBLISH = next(t for t in predicate_types() if t.endswith("/publish/v1"))
SIGNER_SAN = "https://github.com/acme/release/.github/workflows/sign.yml@refs/heads/main"
WIDGET = "github:acme/widget@release.yml"
UNSIGNED_PUBLISHER = {"kind": "GitHub", "repository": "acme/widget", "workflow": "release.yml"}


def bundle(fake: tuple[fs.FakeSigstore, Path], dist: Path, claims: fs.Claims) -> Path:
    f, _ = fake
    out = dist.with_name(dist.name + ".sigstore.json")
    out.write_bytes(f.hashedrekord_bundle(dist.read_bytes(), claims))
    return out


def by_identity(
    capsys: pytest.CaptureFixture[str],
    fake: tuple[fs.FakeSigstore, Path],
    dist: Path,
    claims: fs.Claims,
    *extra: str,
    san: str = SIGNER_SAN,
) -> tuple[int, str]:
    side = bundle(fake, dist, claims)
    return cli(
        capsys,
        dist,
        "--bundle",
        side,
        "--cert-identity",
        san,
        "--cert-oidc-issuer",
        fs.GITHUB_ISSUER,
        "--trusted-root",
        fake[1],
        *extra,
    )


# -- identity pins: the subject alone is not enough -------------------------------------------
def test_own_workflow_in_its_own_repository_verifies(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    claims = fs.Claims.github("acme/release", "sign.yml", ref="refs/heads/main")
    rc, out = by_identity(capsys, fake, dist, claims)
    assert rc == 0, out


def test_reusable_workflow_called_from_another_repository_is_refused(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    """The attack: mallory's repository calls acme's reusable workflow and gets its subject."""
    claims = fs.Claims.reusable("acme/release", "sign.yml", caller="mallory/pwn")
    assert claims.san == SIGNER_SAN
    rc, out = by_identity(capsys, fake, dist, claims)
    assert rc == 1 and "wrong-repository" in out and "mallory/pwn" in out, out


def test_a_named_caller_of_a_reusable_workflow_is_accepted_and_only_that_one(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    claims = fs.Claims.reusable("acme/release", "sign.yml", caller="acme/widget")
    ok = by_identity(
        capsys, fake, dist, claims, "--cert-repository", "https://github.com/acme/widget"
    )
    assert ok[0] == 0, ok[1]
    other = fs.Claims.reusable("acme/release", "sign.yml", caller="mallory/widget")
    rc, out = by_identity(
        capsys, fake, dist, other, "--cert-repository", "https://github.com/acme/widget"
    )
    assert rc == 1 and "wrong-repository" in out


def test_wrong_ref_is_refused(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    """A feature branch calling the pinned workflow at main: the run was not on main."""
    claims = fs.Claims.reusable(
        "acme/release", "sign.yml", caller="acme/release", ref="refs/heads/evil"
    )
    assert claims.san == SIGNER_SAN
    rc, out = by_identity(capsys, fake, dist, claims)
    assert rc == 1 and "wrong-ref" in out and "refs/heads/main" in out, out
    explicit = fs.Claims.github("acme/release", "sign.yml", ref="refs/heads/main")
    rc, out = by_identity(capsys, fake, dist, explicit, "--cert-ref", "refs/tags/v2")
    assert rc == 1 and "wrong-ref" in out


@pytest.mark.parametrize("missing", ["12", "14"])
def test_a_missing_extension_fails_closed(
    capsys: pytest.CaptureFixture[str],
    fake: tuple[fs.FakeSigstore, Path],
    dist: Path,
    missing: str,
) -> None:
    claims = fs.Claims.github("acme/release", "sign.yml", ref="refs/heads/main")
    claims.omit = (missing,)
    rc, out = by_identity(capsys, fake, dist, claims)
    reason = "wrong-repository" if missing == "12" else "wrong-ref"
    assert rc == 1 and reason in out, out


def test_ci_certificate_without_source_repository_fails_closed_even_when_unasked(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    """Build instructions (build signer .9) but no repository: anyone could have run them."""
    claims = fs.Claims(san=SIGNER_SAN, build_signer=SIGNER_SAN)
    rc, out = by_identity(capsys, fake, dist, claims)
    assert rc == 1 and "no source repository" in out, out


def test_a_person_is_still_just_subject_and_issuer(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    claims = fs.Claims(san="release@corp.example", issuer="https://sso.corp.example", email=True)
    side = bundle(fake, dist, claims)
    rc, out = cli(
        capsys,
        dist,
        "--bundle",
        side,
        "--cert-identity",
        "release@corp.example",
        "--cert-oidc-issuer",
        "https://sso.corp.example",
        "--trusted-root",
        fake[1],
    )
    assert rc == 0, out


def test_bad_repository_flag_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    claims = fs.Claims.github("acme/release", "sign.yml", ref="refs/heads/main")
    rc, out = by_identity(capsys, fake, dist, claims, "--cert-repository", "acme/release")
    assert rc == 2 and "https://" in out
    rc, out = cli(capsys, dist, "--cert-ref", "refs/heads/main")
    assert rc == 2


def test_workflow_in_an_identity_pin_is_the_build_config(
    fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    """A reusable generator signing for acme/widget's release.yml, and only that workflow."""
    f, root = fake
    prov = f.attestation(
        dist.name,
        dist.read_bytes(),
        fs.Claims.reusable(
            "slsa/generator", "gen.yml", caller="acme/widget", caller_workflow="release.yml"
        ),
        PUBLISH,
    )
    provenance = fs.FakeSigstore.provenance([prov], UNSIGNED_PUBLISHER)
    pin = identity_from(
        {
            "identity": "https://github.com/slsa/generator/.github/workflows/gen.yml"
            "@refs/heads/main",
            "issuer": fs.GITHUB_ISSUER,
            "repository": "https://github.com/acme/widget",
            "workflow": ".github/workflows/release.yml",
        }
    )
    assert rules(dist, root, [pin], provenance) == set()
    wrong = identity_from(
        {
            "identity": pin.san,
            "issuer": pin.issuer,
            "repository": "https://github.com/acme/widget",
            "workflow": ".github/workflows/nightly.yml",
        }
    )
    assert rules(dist, root, [wrong], provenance) == {"SIG-WRONG-PUBLISHER"}


# -- environments come from the certificate only ---------------------------------------------
def rules(*args: Any, **kw: Any) -> set[str]:
    """The rule ids ``verify_artifact_signatures`` reports (see ``findings``)."""
    return {f.rule_id for f in findings(*args, **kw)}


def findings(
    dist: Path,
    root: Path | None,
    expected: list[Expected],
    prov: bytes | None,
    *,
    require: str = "available",
    pinned: bool = False,
) -> list[Finding]:
    return verify_artifact_signatures(
        dist,
        name="acme-widget",
        version="1.0",
        sidecars=(),
        provenance_json=prov,
        expected=expected,
        require=require,
        trusted_root=root,
        pinned=pinned,
    )


def reasons(dist: Path, root: Path, expected: list[Expected], prov: bytes) -> set[str]:
    return {str(f.detail.get("reason")) for f in findings(dist, root, expected, prov)}


def test_environment_is_accepted_only_from_the_certificate(
    fake: tuple[fs.FakeSigstore, Path], dist: Path
) -> None:
    f, root = fake
    unsigned_claim = UNSIGNED_PUBLISHER
    plain = f.attestation(
        dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    # The provenance's (unsigned) publisher object says "pypi"; the certificate says nothing.
    lying = fs.FakeSigstore.provenance([plain], {**unsigned_claim, "environment": "pypi"})
    pin = parse_publisher(WIDGET + "#pypi")
    assert reasons(dist, root, [pin], lying) == {"wrong-environment"}
    signed = f.attestation(
        dist.name,
        dist.read_bytes(),
        fs.Claims.github("acme/widget", "release.yml", environment="pypi"),
        PUBLISH,
    )
    good = fs.FakeSigstore.provenance([signed], {**unsigned_claim, "environment": "staging"})
    assert rules(dist, root, [pin], good) == set()
    other = parse_publisher(WIDGET + "#release")
    assert reasons(dist, root, [other], good) == {"wrong-environment"}


def test_environment_in_an_identity_pin(fake: tuple[fs.FakeSigstore, Path], dist: Path) -> None:
    f, root = fake
    claims = fs.Claims.github("acme/widget", "release.yml", environment="prod")
    att = f.attestation(dist.name, dist.read_bytes(), claims, PUBLISH)
    prov = fs.FakeSigstore.provenance([att], UNSIGNED_PUBLISHER)
    base = {"identity": claims.san, "issuer": fs.GITHUB_ISSUER}
    assert rules(dist, root, [identity_from({**base, "environment": "prod"})], prov) == set()
    assert reasons(dist, root, [identity_from({**base, "environment": "dev"})], prov) == {
        "wrong-environment"
    }


# -- a publisher pin: signed by it or blocked, whatever require says ---------------------------
@pytest.mark.parametrize("require", ["off", "available", "listed", "always"])
def test_a_pinned_package_without_any_signature_blocks(
    dist: Path, fake: tuple[fs.FakeSigstore, Path], require: str
) -> None:
    """The attack: a mirror strips the provenance; "available" must not read that as fine."""
    _, root = fake
    pin = parse_publisher(WIDGET)
    assert rules(dist, root, [pin], None, require=require, pinned=True) == {"SIG-MISSING"}
    assert rules(dist, root, [], None, require=require) == (
        {"SIG-MISSING"} if require == "always" else set()
    )


def test_pinned_to_nothing_blocks(dist: Path, fake: tuple[fs.FakeSigstore, Path]) -> None:
    f, root = fake
    att = f.attestation(
        dist.name, dist.read_bytes(), fs.Claims.github("acme/widget", "release.yml"), PUBLISH
    )
    prov = fs.FakeSigstore.provenance([att], UNSIGNED_PUBLISHER)
    assert rules(dist, root, [], prov, pinned=True) == {"SIG-WRONG-PUBLISHER"}
    assert rules(dist, root, [], prov, pinned=True, require="off") == {"SIG-WRONG-PUBLISHER"}


def test_identity_pin_str_names_what_binds_it() -> None:
    pin = Identity("s", "https://i", repository="https://github.com/a/b", ref="refs/heads/x")
    assert str(pin) == "s (issuer https://i, repository https://github.com/a/b, ref refs/heads/x)"
