"""The real CLI, run as a subprocess: exit codes and what a person reads."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.policy.policy_machine import Machine


def test_check_valid_and_invalid(machine: Machine) -> None:
    good = machine.write(machine.root / "good.toml", "version = 1\n")
    broken = machine.write(machine.root / "broken.toml", "version = 1\n[install\n")
    schema = machine.write(machine.root / "schema.toml", "version = 1\n\n[install]\nmin_age = 7\n")
    ok = machine.cli("check", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = machine.cli("check", str(good), str(broken), str(schema))
    assert bad.returncode == 1
    assert f"{broken}:2: invalid TOML" in bad.stderr
    assert f"{schema}:4: install.min_age" in bad.stderr


def test_check_usage_error(machine: Machine) -> None:
    assert machine.cli("check").returncode == 2
    assert machine.cli().returncode == 2


def test_check_warns_about_unknown_rule_ids(machine: Machine) -> None:
    path = machine.write(
        machine.root / "p.toml",
        'version = 1\n[[exception]]\npackage = "a"\n'
        'rule = "NO-SUCH-RULE"\nreason = "r"\nexpires = 2099-01-01\n',
    )
    result = machine.cli("check", str(path))
    assert result.returncode == 0 and "NO-SUCH-RULE" in result.stderr


def test_init_profiles(machine: Machine) -> None:
    result = machine.cli("init")
    assert result.returncode == 0
    written = machine.project / "safe-pip.toml"
    assert "version = 1" in written.read_text()
    assert machine.cli("init").returncode == 2  # refuses to overwrite
    folder = machine.root / "org"
    folder.mkdir()
    assert machine.cli("init", str(folder), "--profile", "org").returncode == 0
    assert machine.cli("check", str(folder / "safe-pip.toml")).returncode == 0
    assert machine.cli("init", "--profile", "nope").returncode == 2


def test_show_names_the_layer_of_each_value(machine: Machine) -> None:
    machine.write(machine.org, 'version = 1\n[install]\nmin_age = "3d"\n')
    machine.write(machine.user, 'version = 1\n[names]\ndeny = ["evil"]\n')
    cli = machine.write(machine.root / "cli.toml", 'version = 1\n[hashes]\nrequire = "always"\n')
    sub = machine.project / "a" / "b"
    sub.mkdir(parents=True)
    machine.write(machine.project / "safe-pip.toml", "version = 1\n[scan]\nallow_globals = []\n")
    result = machine.cli("show", "--policy", str(cli), cwd=sub)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def line_for(prefix: str) -> str:
        return next(line for line in lines if line.startswith(prefix))

    assert f"org {machine.org}:3" in line_for("min_age")
    assert f"user {machine.user}:3" in line_for('  "evil"')
    assert f"cli {cli}:3" in line_for('require = "always"')
    assert f"project {machine.project / 'safe-pip.toml'}:3" in line_for("allow_globals")
    assert "built-in default" in line_for("allow_sdist")
    # the output is itself a valid single-layer policy
    flat = machine.write(machine.root / "flat.toml", result.stdout)
    assert machine.cli("check", str(flat)).returncode == 0


def test_show_reports_conflicts_and_locks(machine: Machine) -> None:
    machine.write(machine.org, "version = 1\n[install]\nallow_sdist = false\n")
    machine.write(machine.user, "version = 1\n[install]\nallow_sdist = true\n")
    result = machine.cli("show")
    assert result.returncode == 1
    assert f"{machine.user}:3" in result.stderr and f"{machine.org}:3" in result.stderr
    machine.write(machine.org, "version = 1\nlocked = true\n")
    locked = machine.cli("show")
    assert locked.returncode == 0 and "is locked" in locked.stdout


def test_show_with_broken_policy_is_an_error(machine: Machine) -> None:
    machine.write(machine.user, "version = 1\n[install]\nallow_sdist = 1\n")
    result = machine.cli("show")
    assert result.returncode == 2 and f"{machine.user}:3" in result.stderr


def test_explain(machine: Machine) -> None:
    result = machine.cli("explain", "PICKLE-GLOBAL-UNKNOWN")
    assert result.returncode == 0 and "allow_globals" in result.stdout
    assert machine.cli("explain", "policy-exception-expired").returncode == 0
    missing = machine.cli("explain", "PICKLE-GLOBAL-UNKNOWNN")
    assert missing.returncode == 2 and "did you mean" in missing.stderr


def test_help_starts_without_heavy_imports(machine: Machine) -> None:
    import subprocess

    code = (
        "import sys; from safe_pip.cli import build_parser; build_parser(); "
        "print('sigstore' in sys.modules, 'safe_pip.policy.load' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path.cwd()
    )
    assert out.stdout.split()[1] == "False"


def test_install_with_a_broken_policy_refuses(machine: Machine) -> None:
    """The install gate loads the layered policy first; a broken one stops it (exit 2)."""
    import os
    import subprocess

    machine.write(machine.user, "version = 1\n[install]\nallow_sdist = maybe\n")
    env = {
        **os.environ,
        **machine.env,
        "XDG_CACHE_HOME": str(machine.root / "cache"),
        "XDG_STATE_HOME": str(machine.root / "state"),
        "XDG_DATA_HOME": str(machine.root / "d"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "safe_pip", "install", "--dry-run", "six"],
        cwd=machine.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert f"{machine.user}:3" in result.stderr
