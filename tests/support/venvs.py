"""Fresh virtual environments for end-to-end tests, fast.

``python -m venv`` with pip takes seconds; copying one template made once per
test session takes a fraction of that.  A copy works because a venv's
``bin/python`` is a symlink to the base interpreter and ``sys.prefix`` comes
from the ``pyvenv.cfg`` next to it; the tests always run ``python -m pip``,
never the copied ``bin/pip`` script whose shebang names the template.

Everything that runs pip here is isolated from the machine's pip
configuration (``PIP_CONFIG_FILE=os.devnull``, no inherited ``PIP_*``, own
HOME and XDG dirs) so results do not depend on where the suite runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a pip or safe-pip subprocess that ignores machine config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SAFE_PIP_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


def make_template(path: Path) -> Path:
    """Create the template venv (with pip) once."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return path


def copy_venv(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_LIST_DISTS = (
    "import importlib.metadata as m, json, sys\n"
    "kw = {'path': sys.argv[1:]} if sys.argv[1:] else {}\n"
    "print(json.dumps(sorted({d.metadata['Name'].lower(): d.version "
    "for d in m.distributions(**kw)}.items())))\n"
)


def installed(python: Path, *paths: Path) -> dict[str, str]:
    """Distributions visible to ``python`` (or in ``paths``), via its importlib.metadata."""
    out = subprocess.run(
        [str(python), "-c", _LIST_DISTS, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        env=isolated_env(Path(os.environ.get("HOME", "/tmp"))),
    )
    return dict(json.loads(out.stdout))
