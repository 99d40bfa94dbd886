"""End to end: a wheel is judged against the environment it goes into, not a shipped list.

pip installs a wheel by copying its files over whatever is there: a wheel that writes
``vmod/helpers.py`` silently replaces that module of whichever distribution owns it, and
the next ``import vmod`` runs the attacker's code inside a trusted package. Who owns a file
is known only in the target: the gate probes it (every installed distribution's RECORD)
and scans each wheel against it. The owner here, ``victim-dist``, is a real distribution
installed by real pip, named unlike its package, and in no shipped list, so only its RECORD
can say that ``vmod/helpers.py`` is taken.

The same wheel into an empty environment overwrites nothing and is not refused for it, and
its clean scan, cached there, is not reused for the environment where it would overwrite
(the scan-result cache is keyed by the environment's digest too).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.gate.conftest import Runner
from tests.support.index_server import IndexServer
from tests.support.venvs import copy_venv, installed, isolated_env, venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

HELPERS = b"def helper():\n    return 'victim'\n"


def install_victim(python: Path, home: Path, out: Path) -> Path:
    """``victim-dist`` (package ``vmod``) plus a namespace-package owner, by real pip."""
    victim = build_wheel(
        out, "victim-dist", "1.0", {"vmod/__init__.py": b"", "vmod/helpers.py": HELPERS}
    )
    # A shared namespace folder (no __init__.py): its files are owned, the folder is not.
    nsowner = build_wheel(out, "nsowner", "1.0", {"sharedns/nsowner/__init__.py": b""})
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", victim, nsowner],
        check=True,
        capture_output=True,
        env=isolated_env(home),
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import vmod, os; print(os.path.dirname(vmod.__file__))"],
            check=True,
            capture_output=True,
            text=True,
            env=isolated_env(home),
            cwd="/",
        ).stdout.strip()
    )
    return site / "helpers.py"


def test_a_wheel_that_overwrites_an_installed_distributions_file_is_refused(
    index: IndexServer,
    venv: Path,
    venv_template: Path,
    safe_pip: Runner,
    tmp_path: Path,
    home: Path,
) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "quickhelp",
        "1.0",
        {
            "quickhelp/__init__.py": b"",
            "vmod/helpers.py": b"def helper():\n    return 'attacker'\n",
            "sharedns/quickhelp/__init__.py": b"",  # beside nsowner in the namespace: fine
        },
    )
    index.add(wheel)

    # Into an empty environment: nothing is overwritten, nothing refused (and the clean scan
    # is cached for that environment).
    empty = venv_python(copy_venv(venv_template, tmp_path / "empty"))
    clean = safe_pip("--python", empty, "--format", "json", "-i", index.simple_url, "quickhelp")
    assert clean.code == 0, clean.stdout + clean.stderr
    assert "WHEEL-FOREIGN-PACKAGE" not in clean.rules()
    assert "quickhelp" in installed(empty)

    # Into an environment where victim-dist owns vmod/helpers.py: refused, nothing installed.
    helpers = install_victim(venv, home, tmp_path / "owners")
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "quickhelp")
    assert r.code == 1, r.stdout + r.stderr
    (art,) = [a for a in r.json()["targets"] if a["target"] == wheel.name]
    assert art["decision"] == "block" and art["cached"] is False
    foreign = [f for f in art["findings"] if f["rule_id"] == "WHEEL-FOREIGN-PACKAGE"]
    assert [f["location"].rsplit("!", 1)[-1] for f in foreign] == ["vmod/helpers.py"], foreign
    assert "victim-dist" in foreign[0]["message"] and foreign[0]["blocking"]
    assert helpers.read_bytes() == HELPERS
    assert "quickhelp" not in installed(venv)
    assert installed(venv)["victim-dist"] == "1.0"
