"""Every layer below the user's (project file, ``--policy``, flags) only tightens (issue 12).

The attack: a checkout's ``[tool.safe-pip]`` turned sdists on and excepted every rule
(``rule = "*"``), so a package the user's own policy blocks installed.  A project file,
``--policy`` file or flag that loosens anything above it, built-in defaults included, is
an error naming its file and line, with or without an org policy.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.errors import PolicyError
from safe_pip.policy.discover import system_org_path
from tests.policy.policy_machine import Machine

PYPROJECT_ATTACK = """\
[project]
name = "innocent-looking"

[tool.safe-pip]
version = 1

[tool.safe-pip.install]
allow_sdist = true

[[tool.safe-pip.exception]]
package = "speedups"
rule = "*"
reason = "trust me"
expires = 2999-01-01
"""


def _error(machine: Machine, cli: Path | None = None) -> str:
    with pytest.raises(PolicyError) as info:
        machine.load(cli)
    return str(info.value)


@pytest.fixture(params=["empty org policy", "no org policy"])
def any_org(request: pytest.FixtureRequest, machine: Machine) -> Machine:
    """The same machine with an (empty) org policy, and with none at all."""
    if request.param == "no org policy":
        if system_org_path(machine.env).exists():
            pytest.skip("this machine has a system org policy")
        machine.env.pop("SAFE_PIP_ORG_POLICY")
    return machine


def test_checkout_cannot_loosen_the_defaults(any_org: Machine) -> None:
    pyproject = any_org.write(any_org.project / "pyproject.toml", PYPROJECT_ATTACK)
    message = _error(any_org)
    assert f"{pyproject}:8: install.allow_sdist = true would loosen the built-in default" in (
        message
    )
    assert f"{pyproject}:10: [[exception]] for speedups (*) would loosen the policy" in message
    result = any_org.resolve()  # policy show: the upper values still apply
    assert result.policy.install.allow_sdist is False and not result.policy.exceptions
    assert {c.key for c in result.conflicts} == {"install.allow_sdist", "exception"}


def test_checkout_cannot_loosen_the_users_policy(any_org: Machine) -> None:
    any_org.write(
        any_org.user,
        'version = 1\n[install]\nmin_age = "7d"\n[signatures]\nrequire = "listed"\n',
    )
    project = any_org.write(
        any_org.project / "safe-pip.toml",
        'version = 1\n[install]\nmin_age = "1d"\n[signatures]\nrequire = "off"\n',
    )
    message = _error(any_org)
    assert f'{project}:3: install.min_age = "1d" would loosen the user\'s' in message
    assert f"user rule at {any_org.user}:3" in message
    assert f"{project}:5: signatures.require" in message and f"{any_org.user}:5" in message


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('[names]\nallow = ["reqeusts"]\n', "names.allow", 3),
        ('[scan]\nallow_globals = ["os.*"]\n', "scan.allow_globals", 3),
        ('[scan]\nunknown_globals = "warn"\n', "scan.unknown_globals", 3),
        ("[scan.limits]\ndepth = 50\n", "scan.limits.depth", 3),
        ('[signatures]\ntrusted_root = "mine.json"\n', "signatures.trusted_root", 3),
        ('[audit]\nlog = "/dev/null"\n', "audit.log", 3),
        ('[names]\ntyposquat = "off"\n', "names.typosquat", 3),
        ('[hashes]\nrequire = "never"\n', None, 0),  # the default already: not a loosening
        ('[install]\nyanked = "allow"\n', "install.yanked", 3),
        ("[enforcement]\nescape_hatch = true\n", "enforcement.escape_hatch", 3),
        ('[[package]]\nname = "mine"\nallow_globals = ["mine.*"]\n', "scan.allow_globals", 2),
    ],
)
def test_each_kind_of_loosening_in_a_project_is_refused(
    machine: Machine, text: str, key: str | None, line: int
) -> None:
    project = machine.write(machine.project / "safe-pip.toml", "version = 1\n" + text)
    if key is None:
        machine.load()
        return
    result = machine.resolve()
    assert [c.key for c in result.conflicts] == [key]
    assert result.conflicts[0].lower.path == project and result.conflicts[0].lower.line == line
    with pytest.raises(PolicyError, match=str(project)):
        machine.load()


def test_what_the_user_allows_a_project_may_narrow(machine: Machine) -> None:
    machine.write(
        machine.user,
        'version = 1\n[names]\nallow = ["reqeusts", "numpi"]\n[scan]\n'
        'allow_globals = ["acme.*"]\nunknown_globals = "warn"\n',
    )
    machine.write(
        machine.project / "safe-pip.toml",
        'version = 1\n[names]\nallow = ["numpi"]\n[scan]\nallow_globals = ["acme.nn.Net"]\n'
        'unknown_globals = "block"\n[[package]]\nname = "acme"\nallow_globals = ["acme.nn.*"]\n',
    )
    policy = machine.load()
    assert [p.pattern for p in policy.names.allow] == ["numpi"]
    assert policy.scan.allow_globals == ("acme.nn.Net",)
    assert policy.scan.unknown_globals == "block"
    assert policy.for_package("acme", None).allow_globals == ("acme.nn.*",)


def test_a_project_may_tighten_anything(machine: Machine) -> None:
    a = "a" * 64
    machine.write(
        machine.project / "safe-pip.toml",
        'version = 1\n[names]\ndeny = ["shady-*"]\n[index]\nallowed = ["https://m.example/s/"]\n'
        '[install]\nmin_age = "3d"\n[signatures]\nrequire = "always"\n[scan.limits]\ndepth = 3\n'
        f'[[package]]\nname = "torch"\nhashes = ["{a}"]\n'
        'publisher = "github:pytorch/pytorch@release.yml"\n',
    )
    policy = machine.load()
    assert policy.names.denied("shady-thing") is not None
    assert policy.install.min_age == dt.timedelta(days=3)
    assert policy.signatures.require == "always" and policy.scan.limits.depth == 3
    assert policy.for_package("torch", "2").hashes == frozenset({a})


def test_cli_file_and_flags_only_tighten_too(machine: Machine) -> None:
    machine.write(machine.user, 'version = 1\n[install]\nmin_age = "7d"\n')
    cli = machine.write(
        machine.root / "ci.toml",
        'version = 1\n[[exception]]\npackage = "x"\nrule = "*"\nreason = "r"\n'
        "expires = 2999-01-01\n",
    )
    assert f"{cli}:2: [[exception]] for x (*)" in _error(machine, cli)
    shown = machine.cli("show", "--min-age", "1d")
    assert shown.returncode == 1
    assert "<command line>:" in shown.stderr and f"user rule at {machine.user}:3" in shown.stderr
    assert machine.cli("show", "--min-age", "14d").returncode == 0


def test_the_user_may_still_loosen_defaults_and_write_exceptions(machine: Machine) -> None:
    """The user's own policy is theirs: only the org bounds it."""
    machine.write(
        machine.user,
        'version = 1\n[install]\nallow_sdist = true\n[[exception]]\npackage = "x"\n'
        'rule = "*"\nreason = "mine"\nexpires = 2999-01-01\n',
    )
    policy = machine.load()
    assert policy.install.allow_sdist is True and len(policy.exceptions) == 1


def test_org_only_keys_in_a_project_are_ignored_with_a_note(machine: Machine) -> None:
    machine.write(machine.project / "safe-pip.toml", 'version = 1\nlower_exceptions = ["*"]\n')
    policy = machine.load()
    assert any("only has an effect in the org policy" in n for n in policy.notes)


@pytest.mark.slow
def test_checkout_policy_cannot_install_a_blocked_pth_package(machine: Machine) -> None:
    """End to end: the checkout's loosening stops the install; nothing runs, nothing lands."""
    from tests.support.index_server import IndexServer
    from tests.support.venvs import installed, isolated_env, make_template, venv_python
    from tests.support.wheels import build_wheel

    marker = machine.root / "PWNED"
    hook = f"import os; os.system('touch {marker}')\n".encode()
    wheel = build_wheel(
        machine.root / "w", "speedups", "1.0", {"speedups/__init__.py": b"", "speedups.pth": hook}
    )
    machine.write(machine.project / "pyproject.toml", PYPROJECT_ATTACK)
    venv = venv_python(make_template(machine.root / "venv"))
    home = machine.root / "home"
    home.mkdir()
    server = IndexServer().start()
    try:
        server.add(wheel)
        env = isolated_env(home, SAFE_PIP_ORG_POLICY=str(machine.org))
        command = [sys.executable, "-m", "safe_pip", "install", "--python", str(venv)]
        result = subprocess.run(
            [*command, "-i", server.simple_url, "speedups"],
            cwd=machine.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.stop()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pyproject.toml:8" in result.stderr and "pyproject.toml:10" in result.stderr
    assert "speedups" not in installed(venv)
    subprocess.run([str(venv), "-c", "pass"], check=True, env=dict(os.environ))
    assert not marker.exists()


@pytest.mark.parametrize(("value", "ok"), [('"1d"', True), ('"30d"', False)])
def test_durations_that_may_only_be_lowered(machine: Machine, value: str, ok: bool) -> None:
    """LOWER and HIGHER compare durations as well as numbers (intel.max_age, install.min_age)."""
    machine.write(machine.project / "safe-pip.toml", f"version = 1\n[intel]\nmax_age = {value}\n")
    if ok:
        assert machine.load().intel.max_age == dt.timedelta(days=1)
    else:
        assert [c.key for c in machine.resolve().conflicts] == ["intel.max_age"]
