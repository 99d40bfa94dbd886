"""Individual command-line flags are the top layer: validated, tighten-only, ignored when locked."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from tests.policy.policy_machine import Machine

EVIL_UNKNOWN = b"\x80\x02cbrand_new_gadget\nrun\nX\x01\x00\x00\x00x\x85R."


def _scan(machine: Machine, *args: str) -> subprocess.CompletedProcess[str]:
    target = machine.write(machine.project / "m.pkl", "")
    target.write_bytes(EVIL_UNKNOWN)
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", "scan", *args, str(target)],
        cwd=machine.project,
        env={**os.environ, **machine.env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flags_add_a_layer_above_files(machine: Machine) -> None:
    shown = machine.cli("show", "--deny", "evil-*", "--min-age", "3d")
    assert shown.returncode == 0, shown.stderr
    assert '"evil-*"' in shown.stdout
    assert "<command line>" in shown.stdout
    import argparse

    from safe_pip.commands.policy_flags import add_policy_flags, flags_toml

    parser = argparse.ArgumentParser()
    add_policy_flags(parser)
    text = flags_toml(parser.parse_args(["--deny", "evil-*", "--min-age", "3d"]))
    assert text is not None
    from safe_pip.policy import load_policy

    policy = load_policy(None, cwd=machine.project, env=machine.env, flags=text)
    assert policy.install.min_age == timedelta(days=3)
    assert policy.names.denied("evil-pkg") is not None


def test_scan_flags_decide(machine: Machine) -> None:
    assert _scan(machine).returncode == 1
    # One-run flags only tighten (issue 12): they cannot allow a global or soften a verdict.
    allowed = _scan(machine, "--allow-global", "brand_new_gadget.run")
    assert allowed.returncode == 2 and "scan.allow_globals" in allowed.stderr
    warned = _scan(machine, "--unknown-globals", "warn")
    assert warned.returncode == 2 and "scan.unknown_globals" in warned.stderr
    # The user's own policy may; a flag then narrows it again for one run.
    machine.write(
        machine.user,
        'version = 1\n[scan]\nallow_globals = ["brand_new_gadget.*"]\nunknown_globals = "warn"\n',
    )
    allowed = _scan(machine, "--allow-global", "brand_new_gadget.run")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    machine.write(machine.user, 'version = 1\n[scan]\nunknown_globals = "warn"\n')
    warned = _scan(machine)
    assert warned.returncode == 0 and "warn" in warned.stdout
    assert _scan(machine, "--unknown-globals", "block").returncode == 1


def test_flag_cannot_loosen_the_org(machine: Machine) -> None:
    machine.write(machine.org, 'version = 1\n\n[install]\nmin_age = "7d"\n')
    shown = machine.cli("show", "--min-age", "1d")
    assert shown.returncode == 1
    assert "min_age" in shown.stderr and str(machine.org) in shown.stderr
    scanned = _scan(machine, "--min-age", "1d")
    assert scanned.returncode == 2
    assert "loosen" in scanned.stderr


def test_locked_org_ignores_flags_with_a_note(machine: Machine) -> None:
    machine.write(machine.org, 'version = 1\nlocked = true\n\n[scan]\nunknown_globals = "block"\n')
    scanned = _scan(machine, "--unknown-globals", "warn")
    assert scanned.returncode == 1, scanned.stdout
    shown = machine.cli("show", "--unknown-globals", "warn")
    assert "command-line policy flags were ignored" in shown.stdout + shown.stderr


def test_bad_flag_value_names_the_command_line(machine: Machine) -> None:
    scanned = _scan(machine, "--min-age", "soon")
    assert scanned.returncode == 2
    assert "<command line>" in scanned.stderr and "min_age" in scanned.stderr
