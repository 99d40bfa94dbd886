"""Input attacks end to end: ``safe-pip install`` never lets pip build what it did not read.

Each spelling once made pip run a project's ``setup.py`` during safe-pip's resolve
step. The payload touches a marker file; each test asserts the marker never
appears, nothing is installed, the run exits non-zero and an audit record is
written. The default policy refuses local builds, so every build candidate must
be recognised as one however it was written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate.conftest import Runner

pytestmark = pytest.mark.slow


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder ``x`` whose build touches ``MARKER``."""
    project = tmp_path / "x"
    project.mkdir()
    marker = tmp_path / "MARKER"
    (project / "setup.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from setuptools import setup\nsetup(name='evilx', version='1.0')\n"
    )
    return project, marker


def _audit_records(home: Path) -> list[dict[str, object]]:
    logs = list(home.rglob("audit.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines() if line]


ATTACKS = [
    ("req-file -e./x", {"req.txt": "-e./x\n"}, ["-r", "req.txt"], {}),
    ("req-file --edit", {"req.txt": "--edit ./x\n"}, ["-r", "req.txt"], {}),
    ("req-file name @ file URL", {"req.txt": "evilx @ file://{x}\n"}, ["-r", "req.txt"], {}),
    ("cli -qe./x", {}, ["-qe./x"], {}),
    ("cli abbreviation", {}, ["--edita", "./x"], {}),
    ("constraint with URL", {"c.txt": "evilx @ file://{x}\n"}, ["-c", "c.txt", "evilx"], {}),
    ("PIP_EDITABLE", {}, ["six"], {"PIP_EDITABLE": "./x"}),
    ("PIP_REQUIREMENT", {"r.txt": "./x\n"}, [], {"PIP_REQUIREMENT": "{tmp}/r.txt"}),
    ("pip.conf editable", {"pip.conf": "[global]\neditable = ./x\n"}, ["six"],
     {"PIP_CONFIG_FILE": "{tmp}/pip.conf"}),
    ("pip.conf requirement", {"pip.conf": "[install]\nrequirement = {tmp}/r.txt\n",
                              "r.txt": "-e ./x\n"}, [], {"PIP_CONFIG_FILE": "{tmp}/pip.conf"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "files", "args", "env"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_input_spelling_never_builds(
    name: str,
    files: dict[str, str],
    args: list[str],
    env: dict[str, str],
    payload: tuple[Path, Path],
    venv: Path,
    safe_pip: Runner,
    dists: object,
    home: Path,
    tmp_path: Path,
) -> None:
    project, marker = payload
    for fname, text in files.items():
        (tmp_path / fname).write_text(text.format(x=project, tmp=tmp_path))
    extra = {k: v.format(x=project, tmp=tmp_path) for k, v in env.items()}
    # Local builds forbidden, so every spelling must be recognised as a build and refused:
    # none may reach a resolver or pip (pipeline's builds go through the gate when allowed).
    result = safe_pip(
        "--python",
        venv,
        "--format",
        "json",
        "--",
        *args,
        env=extra,
        policy="[install]\nlocal_builds = false\n",
    )
    assert result.code in (1, 2), (result.stdout, result.stderr)
    assert not marker.exists()
    from tests.support.venvs import installed

    assert "evilx" not in installed(venv)
    assert _audit_records(home), "no audit record written"


def test_pip_folder_in_working_directory_never_runs(
    venv: Path, safe_pip: Runner, home: Path, tmp_path: Path
) -> None:
    evil = tmp_path / "pip"
    evil.mkdir()
    marker = tmp_path / "MARKER"
    for name in ("__init__.py", "__main__.py"):
        (evil / name).write_text(f"open({str(marker)!r}, 'w').close()\n")
    safe_pip("--python", venv, "--dry-run", "--", "--no-index", "six")
    assert not marker.exists()
