"""Real bash, real pip, real index: typed pip commands are gated or passed through.

``bash -ic`` reads the test HOME's ``.bashrc``, which evals ``safe-pip
shell-init bash`` exactly as a user's would; the PATH-shim tests run a
non-interactive ``sh -c`` with the shim directory first on PATH.  Each blocked
install must leave the environment without the package, and ``pip list`` must
print what the real pip prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.enforce import shims
from tests.enforce.conftest import BLOCKED, EnvMaker, run_shell
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, venv_python
from tests.support.wheels import build_sdist

pytestmark = pytest.mark.slow


def _audit_records(home: Path) -> list[dict[str, object]]:
    log = home / "state" / "safe-pip" / "audit.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _write_bashrc(home: Path) -> None:
    (home / ".bashrc").write_text(f'eval "$({sys.executable} -m safe_pip shell-init bash)"\n')


def test_bash_functions_block_pip_and_python_m_pip(
    blocked_index: IndexServer, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    _write_bashrc(home)
    url = blocked_index.simple_url
    script = (
        f"pip install --index-url {url} {BLOCKED}; echo pip-rc=$?; "
        f"pip3 install --index-url {url} {BLOCKED}; echo pip3-rc=$?; "
        f"python -m pip install --index-url {url} {BLOCKED}; echo python-rc=$?; "
        "type pip | head -1"
    )
    r = run_shell(["bash", "-ic", script], shell_env(), tmp_path)
    assert "pip-rc=1" in r.stdout, r.stdout + r.stderr
    assert "pip3-rc=1" in r.stdout, r.stdout + r.stderr
    assert "python-rc=1" in r.stdout, r.stdout + r.stderr
    assert "pip is a function" in r.stdout
    assert "NAME-TYPOSQUAT" in r.stdout
    assert BLOCKED not in installed(venv_python(venv_dir))
    records = _audit_records(home)
    assert [rec["outcome"] for rec in records] == ["blocked"] * 3
    # the gate targeted the environment whose pip the function replaced
    assert {Path(str(rec["target"])).parent for rec in records} == {venv_dir / "bin"}


def test_bash_functions_pass_pip_list_through_untouched(
    shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    _write_bashrc(home)
    env = shell_env()
    py = venv_python(venv_dir)
    direct = subprocess.run(
        [str(py), "-m", "pip", "list"], capture_output=True, text=True, env=env, check=True
    )
    via_pip = run_shell(["bash", "-ic", "pip list"], env, tmp_path)
    via_python = run_shell(["bash", "-ic", "python -m pip list"], env, tmp_path)
    assert via_pip.code == 0 and via_python.code == 0
    assert via_pip.stdout == direct.stdout
    assert via_python.stdout == direct.stdout
    assert _audit_records(home) == []  # nothing went through the gate


def test_path_shims_block_in_a_non_interactive_shell(
    blocked_index: IndexServer, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir)
    env = shell_env(shim_dir)
    url = blocked_index.simple_url
    script = (
        f"pip install -q --index-url {url} {BLOCKED}; echo pip-rc=$?; "
        f"python3 -m pip install --index-url={url} {BLOCKED}; echo python-rc=$?; "
        "pip list; python -c 'print(40 + 2)'"
    )
    r = run_shell(["sh", "-c", script], env, tmp_path)
    assert "pip-rc=1" in r.stdout, r.stdout + r.stderr
    assert "python-rc=1" in r.stdout, r.stdout + r.stderr
    assert "\n42\n" in r.stdout
    assert "pip " in r.stdout  # pip list's own output, passed through
    py = venv_python(venv_dir)
    assert BLOCKED not in installed(py)
    records = _audit_records(home)
    assert len(records) == 2
    assert {Path(str(rec["target"])).parent for rec in records} == {venv_dir / "bin"}


def test_shim_without_safe_pip_fails_closed(
    blocked_index: IndexServer, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir, python=tmp_path / "gone" / "python")
    env = shell_env(shim_dir)
    r = run_shell(
        ["sh", "-c", f"pip install --index-url {blocked_index.simple_url} {BLOCKED}"],
        env,
        tmp_path,
    )
    assert r.code == 2
    assert "refusing to run pip" in r.stderr
    assert BLOCKED not in installed(venv_python(venv_dir))
    assert blocked_index.requests == []  # the real pip never ran


def test_bash_function_without_safe_pip_fails_closed(
    shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "safe_pip",
            "shell-init",
            "bash",
            "--safe-pip-python",
            str(tmp_path / "gone" / "python"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (home / ".bashrc").write_text(out)
    r = run_shell(["bash", "-ic", f"pip install {BLOCKED}; echo rc=$?"], shell_env(), tmp_path)
    assert "rc=2" in r.stdout
    assert "fail closed" in r.stderr


def test_bash_functions_read_pip_as_pip_does_in_an_unprotected_venv(
    shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    """No hook here: the functions decide with the venv pip's own grammar (pip 23.2)."""
    _write_bashrc(home)
    payload = build_sdist(tmp_path / "p", "payload-marker", "1.0")
    marker = tmp_path / "MARKER"
    site = next((venv_dir / "lib").glob("python3*/site-packages"))
    lines = [
        f"pip install -V {payload}",  # pip 23.2 installs on -V inside install
        f"pip install --log --help {payload}",
        f"pip --time 5 install {payload}",
        f"python -Impip install {payload}",
        f"python -sEm pip install {payload}",
        f"python {site}/pip install {payload}",
    ]
    env = shell_env(SAFE_PIP_TEST_MARKER=str(marker))
    for line in lines:
        r = run_shell(["bash", "-ic", line], env, tmp_path)
        assert r.code == 1 and "SDIST-REFUSED" in r.stdout, (line, r.stdout + r.stderr)
    assert not marker.exists()
    assert "payload-marker" not in installed(venv_python(venv_dir))


def test_python_without_site_is_gated_by_the_functions_even_in_a_protected_venv(
    shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    """-S: no .pth runs, so the hook cannot; the shell function gates it itself."""
    _write_bashrc(home)
    env = shell_env()
    done = subprocess.run(
        [sys.executable, "-m", "safe_pip", "shim", "install", "--no-path-shims", "--env",
         str(venv_dir)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = build_sdist(tmp_path / "p", "payload-marker", "1.0")
    marker = tmp_path / "MARKER"
    site = next((venv_dir / "lib").glob("python3*/site-packages"))
    line = f"python -S {site}/pip install {payload}"
    r = run_shell(["bash", "-ic", line], shell_env(SAFE_PIP_TEST_MARKER=str(marker)), tmp_path)
    assert r.code == 1 and "python -S runs pip without site" in r.stderr, r.stdout + r.stderr
    assert not marker.exists()
