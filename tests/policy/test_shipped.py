"""The shipped policies: valid, documented behaviour, and identical package copies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.policy import PROFILES, Policy, check_files, shipped_policy_text
from safe_pip.policy.layering import merge
from safe_pip.policy.parse import parse_file

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "policies"
PACKAGED = REPO / "src" / "safe_pip" / "data" / "policies"


def load(name: str) -> Policy:
    layer, problems = parse_file(SHIPPED / name, "org")
    assert layer is not None and problems == []
    return merge([layer]).policy


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_packaged_copy_is_identical(profile: str) -> None:
    name = PROFILES[profile]
    repo_copy = (SHIPPED / name).read_bytes()
    assert (PACKAGED / name).read_bytes() == repo_copy
    assert shipped_policy_text(profile).encode("utf-8") == repo_copy


def test_no_other_policy_files_drift() -> None:
    assert sorted(p.name for p in SHIPPED.glob("*.toml")) == sorted(PROFILES.values())
    assert sorted(p.name for p in PACKAGED.glob("*.toml")) == sorted(PROFILES.values())


def test_all_shipped_policies_are_valid() -> None:
    assert check_files(sorted(SHIPPED.glob("*.toml"))) == []


def test_default_is_what_you_get_without_a_file() -> None:
    policy = load("default.toml")
    assert policy == Policy()
    assert policy.digest() == Policy().digest()
    assert policy.install.allow_sdist is False
    assert policy.names.typosquat == "block"
    assert policy.install.min_age == dt.timedelta(0)
    assert policy.signatures.require == "available"
    assert policy.scan.unknown_globals == "block"


def test_strict() -> None:
    policy = load("strict.toml")
    assert policy.install.min_age == dt.timedelta(days=7)
    assert policy.hashes.require == "always"
    assert policy.signatures.require == "listed"
    torch = policy.for_package("torch", "2.3.0").publishers
    assert torch and torch[0].kind == "github"


def test_org_example() -> None:
    policy = load("org-example.toml")
    assert policy.index.allowed and policy.index.permits(policy.index.allowed[0] + "torch/")
    assert not policy.index.permits("https://pypi.org/simple/torch/")
    assert policy.for_package("torch", "2.3.0").publishers
    (exc,) = policy.exceptions
    assert exc.sha256 and exc.expires and exc.reason
    assert policy.names.denied("torchvision_optimized") is not None
    assert policy.lower_exceptions == ("PICKLE-GLOBAL-UNKNOWN",)
    # the lock is documented in the file (commented out, so the example stays usable)
    assert "locked = true" in (SHIPPED / "org-example.toml").read_text()
