"""Every layer interaction the issue lists, on real files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.errors import PolicyError
from tests.policy.policy_machine import Machine

ORG = """\
version = 1
[names]
deny = ["evil-pkg", "torch-*"]
[install]
allow_sdist = false
min_age = "3d"
[scan]
allow_globals = ["acme.*"]
"""


def test_no_files_gives_the_builtin_default(machine: Machine) -> None:
    policy = machine.load()
    assert policy.install.allow_sdist is False
    assert policy.scan.unknown_globals == "block"
    assert policy.origin("install.allow_sdist").where == "built-in default"


def test_org_deny_beats_user_allow(machine: Machine) -> None:
    machine.write(machine.org, ORG)
    machine.write(machine.user, 'version = 1\n[names]\nallow = ["evil-pkg"]\n')
    with pytest.raises(PolicyError) as err:
        machine.load()
    message = str(err.value)
    assert f"{machine.user}:3" in message
    assert f"{machine.org}:3" in message  # names the org rule
    assert "evil-pkg" in message
    # policy show still shows the merge, with the org's decision in force
    result = machine.resolve()
    assert result.conflicts
    assert result.policy.names.denied("evil_pkg") is not None
    assert not result.policy.names.typosquat_exempt("evil-pkg")


def test_user_can_add_a_deny(machine: Machine) -> None:
    machine.write(machine.org, ORG)
    machine.write(machine.user, 'version = 1\n[names]\ndeny = ["Other.Pkg"]\n')
    policy = machine.load()
    hit = policy.names.denied("other-pkg")
    assert hit is not None and hit.source.layer == "user" and hit.source.line == 3
    assert policy.names.denied("torch-evil") is not None  # org's still there
    assert policy.names.denied("torch") is None


@pytest.mark.parametrize(
    ("user_text", "key"),
    [
        ("[install]\nallow_sdist = true\n", "install.allow_sdist"),
        ('[install]\nmin_age = "1d"\n', "install.min_age"),
        ('[scan]\nallow_globals = ["os.*"]\n', "scan.allow_globals"),
    ],
)
def test_lower_layer_cannot_loosen_org_rules(machine: Machine, user_text: str, key: str) -> None:
    machine.write(machine.org, ORG)
    machine.write(machine.user, "version = 1\n" + user_text)
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        machine.load()
    result = machine.resolve()
    assert [c.key for c in result.conflicts] == [key]
    assert result.policy.origin(key).layer == "org"


def test_lower_layer_may_tighten_org_rules(machine: Machine) -> None:
    machine.write(machine.org, ORG)
    machine.write(
        machine.user,
        'version = 1\n[install]\nmin_age = "7d"\n[scan]\nallow_globals = ["acme.models.Net"]\n',
    )
    policy = machine.load()
    assert policy.install.min_age == dt.timedelta(days=7)
    assert policy.origin("install.min_age").layer == "user"
    assert policy.scan.allow_globals == ("acme.models.Net",)  # removed acme.* widening


def test_project_found_from_a_subfolder(machine: Machine) -> None:
    machine.write(machine.project / "safe-pip.toml", 'version = 1\n[install]\nmin_age = "2d"\n')
    deep = machine.project / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    policy = machine.load(cwd=deep)
    assert policy.install.min_age == dt.timedelta(days=2)
    assert policy.origin("install.min_age").layer == "project"
    assert [s.layer for s in policy.sources] == ["org", "project"]


def test_project_policy_in_pyproject(machine: Machine) -> None:
    machine.write(
        machine.project / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.safe-pip]\nversion = 1\n\n'
        '[tool.safe-pip.install]\nmin_age = "5d"\nbogus = 1\n',
    )
    with pytest.raises(PolicyError) as err:
        machine.load()
    assert f"{machine.project / 'pyproject.toml'}:9" in str(err.value)


def test_the_project_may_only_tighten_what_the_user_set(machine: Machine) -> None:
    machine.write(machine.user, 'version = 1\n[install]\nmin_age = "7d"\n')
    project = machine.write(
        machine.project / "safe-pip.toml", 'version = 1\n[install]\nmin_age = "1d"\n'
    )
    # the org set nothing, yet a checkout cannot loosen the user's own rule (issue 12)
    with pytest.raises(PolicyError, match=rf"{project}:3: install.min_age"):
        machine.load()
    machine.write(project, 'version = 1\n[install]\nmin_age = "14d"\n')
    assert machine.load().install.min_age == dt.timedelta(days=14)


def test_cli_policy_adds_a_layer(machine: Machine) -> None:
    machine.write(machine.user, 'version = 1\n[names]\ndeny = ["a"]\n')
    cli = machine.write(
        machine.root / "ci.toml",
        'version = 1\n[names]\ndeny = ["b"]\n[hashes]\nrequire = "always"\n',
    )
    policy = machine.load(cli)
    assert policy.names.denied("a") and policy.names.denied("b")
    assert policy.hashes.require == "always"
    assert policy.origin("hashes.require").layer == "cli"
    assert [s.layer for s in policy.sources] == ["org", "user", "cli"]


def test_missing_cli_policy_is_an_error(machine: Machine) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        machine.load(machine.root / "missing.toml")


def test_locked_org_ignores_lower_layers_with_a_message(machine: Machine) -> None:
    machine.write(machine.org, 'version = 1\nlocked = true\n[install]\nmin_age = "3d"\n')
    machine.write(machine.user, "this is not even TOML [")
    machine.write(machine.project / "safe-pip.toml", 'version = 1\n[names]\ndeny = ["x"]\n')
    cli = machine.write(machine.root / "cli.toml", "version = 1\n[install]\nallow_sdist = true\n")
    policy = machine.load(cli)
    assert policy.names.denied("x") is None
    assert policy.install.allow_sdist is False
    assert len(policy.notes) == 1
    note = policy.notes[0]
    assert "locked" in note and str(machine.user) in note and str(cli) in note
    assert [(s.layer, s.used) for s in policy.sources] == [
        ("org", True),
        ("user", False),
        ("project", False),
        ("cli", False),
    ]


def test_org_env_pointing_nowhere_fails_closed(machine: Machine) -> None:
    machine.env["SAFE_PIP_ORG_POLICY"] = str(machine.root / "gone.toml")
    with pytest.raises(PolicyError, match="SAFE_PIP_ORG_POLICY"):
        machine.load()


def test_broken_org_policy_is_an_error_not_the_default(machine: Machine) -> None:
    machine.write(machine.org, "version = 1\n[install]\nallow_sdist = maybe\n")
    with pytest.raises(PolicyError, match=rf"{machine.org}:3"):
        machine.load()


def test_lower_exceptions_restricted_by_org(machine: Machine) -> None:
    machine.write(
        machine.org,
        'version = 1\nlower_exceptions = ["PICKLE-GLOBAL-UNKNOWN"]\n[names]\ndeny = ["evil"]\n',
    )
    ok = (
        '[[exception]]\npackage = "mine"\nrule = "PICKLE-GLOBAL-UNKNOWN"\n'
        'reason = "own classes"\nexpires = 2099-01-01\n'
    )
    machine.write(machine.user, "version = 1\n" + ok)
    assert len(machine.load().exceptions) == 1
    bad = ok.replace("PICKLE-GLOBAL-UNKNOWN", "PICKLE-GLOBAL-DANGEROUS")
    machine.write(machine.user, "version = 1\n" + bad)
    with pytest.raises(PolicyError, match="lower_exceptions"):
        machine.load()
    denied = ok.replace('"mine"', '"evil"')
    machine.write(machine.user, "version = 1\n" + denied)
    result = machine.resolve()
    assert result.conflicts and not result.policy.exceptions


def test_lower_package_globals_bounded_by_org(machine: Machine) -> None:
    machine.write(machine.org, ORG)
    machine.write(
        machine.user,
        'version = 1\n[[package]]\nname = "x"\nallow_globals = ["acme.nn.Net", "evil.Thing"]\n',
    )
    result = machine.resolve()
    assert len(result.conflicts) == 1 and "evil.Thing" in str(result.conflicts[0])
    assert result.policy.for_package("x", None).allow_globals == ("acme.nn.Net",)


def test_pins_and_publishers_intersect_across_layers(machine: Machine) -> None:
    a, b = "a" * 64, "b" * 64
    machine.write(
        machine.org,
        f'version = 1\n[[package]]\nname = "torch"\nhashes = ["{a}", "{b}"]\n'
        'publisher = "github:pytorch/pytorch@release.yml"\n',
    )
    machine.write(
        machine.user,
        f'version = 1\n[[package]]\nname = "Torch"\nversions = ">=2"\n'
        f'hashes = ["sha256:{b.upper()}"]\n',
    )
    policy = machine.load()
    assert policy.for_package("torch", "2.1").hashes == frozenset({b})
    assert policy.for_package("torch", "1.0").hashes == frozenset({a, b})
    pubs = policy.for_package("torch", "2.1").publishers
    assert pubs is not None and str(pubs[0]) == "github:pytorch/pytorch@release.yml"
    assert policy.for_package("numpy", "1").hashes is None


def test_digest_is_stable_and_tracks_rules_not_files(machine: Machine, tmp_path: Path) -> None:
    first = machine.load().digest()
    assert first == machine.load().digest()
    machine.write(machine.user, 'version = 1\n[install]\nmin_age = "1d"\n')
    changed = machine.load().digest()
    assert changed != first
    machine.user.unlink()
    machine.write(machine.project / "safe-pip.toml", 'version = 1\n[install]\nmin_age = "24h"\n')
    assert machine.load().digest() == changed  # same rule, other file, other spelling
