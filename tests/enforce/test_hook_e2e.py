"""The per-environment hook in real venvs: ordinary pip keeps working, and the hook holds.

- pip list / show / a clean vetted install work through the hook (pip 23.2 and 26.3);
- pip upgrading itself (23.2 -> 26.3, through the gate) leaves the hook in place and armed;
- a wheel with a start-up .pth from the index is blocked and never runs;
- ``pip download`` saves exactly the vetted file;
- another pip's ``--python`` into a protected venv, and a protected pip's ``--python`` into
  an unprotected one, are both gated;
- ``python -m venv`` and virtualenv (what tox, nox, hatch and pipenv create environments
  with) run by a protected interpreter protect the new environment;
- a modified hook is reported by ``shim status`` and ``audit``; a missing safe-pip makes
  pip refuse installs (fail closed) while ``pip list`` still works;
- the escape hatch works through the hook only where the policy allows it, and is logged;
- pip-compile, which drives pip's resolver as a library (no pip command runs), resolves
  wheels as before but cannot run an sdist's build backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.enforce.conftest import relocate, run_shell
from tests.enforce.hooked import PAYLOAD, Managed, manage, pth_payload, safe_pip
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, venv_python
from tests.support.wheels import build_wheel, sha256_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def pip26_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip 26.3's wheel, from the machine's package sources (skips where there is none)."""
    out = tmp_path_factory.mktemp("pipwheel")
    env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "pip==26.3", "-d", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    found = list(out.glob("pip-26.3-*.whl"))
    if proc.returncode != 0 or not found:
        pytest.skip(f"pip 26.3's wheel is not available here: {proc.stderr[-300:]}")
    return found[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[IndexServer]:
    with IndexServer() as server:
        server.add(build_wheel(tmp_path / "wheels", "cleanpkg", "1.0"))
        server.add(build_wheel(tmp_path / "wheels", "torchvision-optimized", "1.0"))
        yield server


def _sh(m: Managed, script: str, tmp_path: Path, **extra: str) -> tuple[int, str]:
    r = run_shell(["bash", "-c", script], m.env(**extra), tmp_path)
    return r.code, r.stdout + r.stderr


def _audit_log(home: Path) -> list[dict[str, object]]:
    log = home / "state" / "safe-pip" / "audit.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_ordinary_use_and_pip_upgrading_itself(
    pip23: Path, pip26_wheel: Path, served: IndexServer, tmp_path: Path, home: Path
) -> None:
    m = manage(pip23, tmp_path, home)
    served.add(pip26_wheel)
    url = served.simple_url
    code, out = _sh(m, "pip list && pip show pip", tmp_path)
    assert code == 0 and "Name: pip" in out and "safe-pip" not in out, out
    code, out = _sh(m, f"pip install --index-url {url} cleanpkg", tmp_path)
    assert code == 0 and "installed: cleanpkg 1.0" in out, out
    code, out = _sh(m, f"python -m pip install --index-url {url} -U pip==26.3", tmp_path)
    assert code == 0, out
    assert installed(m.python)["pip"] == "26.3"
    status = safe_pip(home, "shim", "status", "--env", m.venv)
    assert status.returncode == 0 and "PROTECTED" in status.stdout, status.stdout
    assert "pip 26.3" in status.stdout
    code, out = _sh(m, f"pip install {m.payload}", tmp_path)  # the upgraded pip is gated
    assert code == 1 and "goes through the safe-pip gate" in out, out
    assert m.clean()


def test_startup_hook_wheel_from_the_index_is_blocked_and_never_runs(
    pip26: Path, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home)
    with IndexServer() as server:
        server.add(pth_payload(tmp_path / "w", m.marker))
        code, out = _sh(m, f"{m.python} -m pip install --index-url {server.simple_url} "
                        f"{PAYLOAD}", tmp_path)  # fmt: skip
    assert code == 1 and "WHEEL-PTH-EXEC" in out, out
    assert m.clean()


def test_download_and_wheel_save_exactly_the_vetted_file(
    pip26: Path, served: IndexServer, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home)
    url = served.simple_url
    code, out = _sh(m, f"pip download -d dl --index-url {url} cleanpkg", tmp_path)
    assert code == 0, out
    (saved,) = (tmp_path / "dl").iterdir()
    assert sha256_file(saved) == sha256_file(tmp_path / "wheels" / saved.name)
    code, out = _sh(m, f"pip wheel -w wh --index-url {url} cleanpkg", tmp_path)
    assert code == 0, out
    (saved,) = (tmp_path / "wh").iterdir()
    assert sha256_file(saved) == sha256_file(tmp_path / "wheels" / saved.name)
    code, out = _sh(m, f"pip download -d dl2 --index-url {url} torchvision-optimized", tmp_path)
    assert code == 1 and "NAME-TYPOSQUAT" in out, out
    assert not (tmp_path / "dl2").exists() or not list((tmp_path / "dl2").iterdir())


def test_python_option_across_environments_is_gated(
    pip23: Path, venv_template: Path, tmp_path: Path, home: Path
) -> None:
    m = manage(pip23, tmp_path, home)
    other = relocate(venv_template, tmp_path / "other")  # not protected
    # an unprotected pip re-running itself in the protected venv
    code, out = _sh(m, f"{venv_python(other)} -m pip --python {m.python} install {m.payload}",
                    tmp_path)  # fmt: skip
    assert code == 1 and "goes through the safe-pip gate" in out, out
    # the protected pip re-running itself in the unprotected venv takes the hook along
    code, out = _sh(m, f"pip --python {venv_python(other)} install {m.payload}", tmp_path)
    assert code == 1 and f"in {other}" in out, out
    assert m.clean() and PAYLOAD not in installed(venv_python(other))


def test_new_venv_of_a_protected_interpreter_is_protected(
    pip23: Path, tmp_path: Path, home: Path
) -> None:
    m = manage(pip23, tmp_path, home)
    code, out = _sh(m, f"python -m venv {tmp_path / 'fresh'}", tmp_path)
    assert code == 0, out
    status = safe_pip(home, "shim", "status", "--env", tmp_path / "fresh")
    assert status.returncode == 0 and "PROTECTED" in status.stdout, status.stdout
    code, out = _sh(m, f"{tmp_path / 'fresh/bin/pip'} install {m.payload}", tmp_path)
    assert code == 1 and "goes through the safe-pip gate" in out, out


def test_new_virtualenv_of_a_protected_interpreter_is_protected(
    pip26: Path, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home, preinstall=["virtualenv==21.15.11"])
    fresh = tmp_path / "fresh"
    code, out = _sh(m, f"python -m virtualenv -q --no-periodic-update {fresh}", tmp_path)
    assert code == 0, out
    status = safe_pip(home, "shim", "status", "--env", fresh)
    assert status.returncode == 0 and "PROTECTED" in status.stdout, status.stdout
    code, out = _sh(m, f"{venv_python(fresh)} -m pip install {m.payload}", tmp_path)
    assert code == 1 and "goes through the safe-pip gate" in out, out
    assert PAYLOAD not in installed(venv_python(fresh))


def test_modified_hook_is_reported_and_missing_safe_pip_fails_closed(
    pip26: Path, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home)
    module = m.site / "_safe_pip_hook.py"
    module.write_bytes(module.read_bytes() + b"\n# tampered\n")
    status = safe_pip(home, "shim", "status", "--env", m.venv)
    assert status.returncode == 1 and "MODIFIED" in status.stdout, status.stdout
    audit = safe_pip(home, "audit", "--python", m.python, "--format", "json")
    assert "AUDIT-HOOK-MODIFIED" in audit.stdout, audit.stdout[-2000:]
    repaired = safe_pip(home, "shim", "status", "--repair", "--env", m.venv)
    assert repaired.returncode == 0 and "REPAIRED" in repaired.stdout, repaired.stdout
    assert safe_pip(home, "shim", "status", "--env", m.venv).returncode == 0
    config = m.site / "_safe_pip_hook.json"
    settings = json.loads(config.read_text())
    settings["gatekeep"][0] = str(tmp_path / "gone" / "python")
    config.write_text(json.dumps(settings))
    code, out = _sh(m, f"pip install {m.payload}", tmp_path)
    assert code == 2 and "fail closed" in out, out
    code, out = _sh(m, "pip list", tmp_path)
    assert code == 0 and "pip" in out
    assert m.clean()


def _org(tmp_path: Path, allowed: bool) -> str:
    org = tmp_path / "org.toml"
    org.write_text(f"version = 1\n[enforcement]\nescape_hatch = {str(allowed).lower()}\n")
    return str(org)


def test_escape_hatch_through_the_hook(
    pip26: Path, served: IndexServer, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home)
    line = f"pip install --index-url {served.simple_url} torchvision-optimized"
    code, out = _sh(m, line, tmp_path, SAFE_PIP_ORG_POLICY=_org(tmp_path, False),
                    SAFE_PIP_BYPASS="please")  # fmt: skip
    assert code == 1 and "does not permit an escape hatch" in out, out
    assert "torchvision-optimized" not in installed(m.python)
    code, out = _sh(m, line, tmp_path, SAFE_PIP_ORG_POLICY=_org(tmp_path, True),
                    SAFE_PIP_BYPASS="INC-7 gate outage")  # fmt: skip
    assert code == 0, out
    assert "torchvision-optimized" in installed(m.python)
    outcomes = [(r["outcome"], r.get("via")) for r in _audit_log(home)]
    assert ("bypass-refused", "hook") in outcomes and ("bypassed", "hook") in outcomes


def test_pip_compile_resolves_wheels_but_cannot_build_an_sdist(
    pip26: Path, served: IndexServer, tmp_path: Path, home: Path
) -> None:
    m = manage(pip26, tmp_path, home, preinstall=["pip-tools==7.6.2"])
    (tmp_path / "wheels.in").write_text("cleanpkg\n")
    compile_ = "pip-compile -q --no-build-isolation --no-strip-extras"
    code, out = _sh(m, f"{compile_} --index-url {served.simple_url} wheels.in", tmp_path)
    assert code == 0 and "cleanpkg==1.0" in (tmp_path / "wheels.txt").read_text(), out
    # without the hook this runs the sdist's setup.py (the marker); with it, nothing runs
    (tmp_path / "req.in").write_text(f"{PAYLOAD} @ {m.payload.as_uri()}\n")
    code, out = _sh(m, f"{compile_} --no-index req.in", tmp_path)
    assert code != 0 and "refusing to run the build backend" in out, out
    assert not (tmp_path / "req.txt").exists()
    assert m.clean()
