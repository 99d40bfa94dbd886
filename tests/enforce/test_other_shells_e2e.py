"""zsh and fish, live: the functions ``shell-init`` prints gate installs and pass the rest.

Same checks as the bash test (``test_shells_e2e.py``): a blocked package through
``pip install`` and ``python -m pip install`` is blocked with nothing installed,
and ``pip list`` prints exactly what the real pip prints.  Skipped where the
shell is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.enforce.conftest import BLOCKED, EnvMaker, run_shell
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, venv_python

pytestmark = pytest.mark.slow

SHELLS = {
    # shell: (rc file under HOME, how the rc loads the functions, interactive argv)
    "zsh": (".zshrc", 'eval "$({py} -m safe_pip shell-init zsh)"\n', ["zsh", "-ic"]),
    "fish": (
        "config/fish/config.fish",  # fish reads $XDG_CONFIG_HOME (HOME/config here)
        "{py} -m safe_pip shell-init fish | source\n",
        ["fish", "-c"],
    ),
}


def _setup(shell: str, home: Path) -> list[str]:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    rc, line, argv = SHELLS[shell]
    path = home / rc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line.format(py=sys.executable))
    return argv


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_functions_block_pip_and_python_m_pip(
    shell: str,
    blocked_index: IndexServer,
    shell_env: EnvMaker,
    home: Path,
    venv_dir: Path,
    tmp_path: Path,
) -> None:
    argv = _setup(shell, home)
    url = blocked_index.simple_url
    script = (
        f"pip install --index-url {url} {BLOCKED}; echo pip-rc=$status$?; "
        f"python -m pip install --index-url {url} {BLOCKED}; echo python-rc=$status$?"
    )
    if shell == "zsh":
        script = script.replace("$status$?", "$?")
    else:
        script = script.replace("$status$?", "$status")
    r = run_shell([*argv, script], shell_env(), tmp_path)
    assert "pip-rc=1" in r.stdout, r.stdout + r.stderr
    assert "python-rc=1" in r.stdout, r.stdout + r.stderr
    assert "NAME-TYPOSQUAT" in r.stdout
    assert BLOCKED not in installed(venv_python(venv_dir))


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_functions_pass_pip_list_through(
    shell: str, shell_env: EnvMaker, home: Path, venv_dir: Path, tmp_path: Path
) -> None:
    argv = _setup(shell, home)
    env = shell_env()
    direct = subprocess.run(
        [str(venv_python(venv_dir)), "-m", "pip", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    via = run_shell([*argv, "pip list"], env, tmp_path)
    assert via.code == 0, via.stderr
    assert via.stdout == direct.stdout
