"""Side by side with pip-audit on one environment with known vulnerabilities.

pip-audit is pointed (``--osv-url``) at an OSV API on 127.0.0.1 that answers from the same
fixture records safe-pip synced, so both tools judge the same data; the findings must be the
same problems (an advisory and its aliases count once) with the same fixed versions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.intel.conftest import load_records, write_zip
from tests.intel.osv_api import OsvApi
from tests.support.venvs import isolated_env, make_template, venv_python
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

ENVIRONMENT = {"jinja2": "2.11.2", "urllib3": "1.26.4", "markupsafe": "2.1.5"}


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _problems(vulns: list[tuple[str, list[str], list[str]]]) -> set[tuple[frozenset[str], str]]:
    """Each problem once: its id with aliases, and the lowest fixed version."""
    groups: list[tuple[set[str], list[str]]] = []
    for vid, aliases, fixed in vulns:
        names = {vid, *aliases}
        for g in groups:
            if g[0] & names:
                g[0].update(names)
                g[1].extend(fixed)
                break
        else:
            groups.append((names, list(fixed)))
    return {(frozenset(n), min(f) if f else "") for n, f in groups}


def test_same_findings_as_pip_audit(tmp_path: Path) -> None:
    if shutil.which("pip-audit", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("pip-audit is not installed (it is in the test extra)")
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(home)
    python = venv_python(make_template(tmp_path / "venv"))
    wheels = [build_wheel(tmp_path / "w", n, v) for n, v in ENVIRONMENT.items()]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", *map(str, wheels)],
        check=True,
        env=env,
    )
    records = load_records()
    archive = write_zip(tmp_path / "osv.zip", records)
    subprocess.run(
        [sys.executable, "-m", "safe_pip", "intel", "sync", "--from", str(archive)],
        check=True,
        env=env,
        capture_output=True,
    )
    ours = subprocess.run(
        [sys.executable, "-m", "safe_pip", "audit", "--python", str(python), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    doc = json.loads(ours.stdout)
    mine: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    for subject in doc["targets"]:
        for f in subject["findings"]:
            if f["rule_id"] == "INTEL-VULNERABLE":
                d = f["detail"]
                mine.setdefault(d["package"], []).append(
                    (d["id"], list(d["aliases"]), list(d["fixed_versions"]))
                )

    with OsvApi(records) as api:
        theirs_run = subprocess.run(
            [
                str(Path(sys.executable).parent / "pip-audit"),
                "-s",
                "osv",
                "--osv-url",
                api.url,
                "--path",
                str(_site_packages(python)),
                "-f",
                "json",
                "--progress-spinner",
                "off",
                "--cache-dir",
                str(tmp_path / "pip-audit-cache"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert theirs_run.returncode in (0, 1), theirs_run.stderr
    theirs: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    report: dict[str, Any] = json.loads(theirs_run.stdout)
    for dep in report["dependencies"]:
        if dep["name"] in ENVIRONMENT and dep.get("vulns"):
            theirs[dep["name"]] = [
                (v["id"], list(v["aliases"]), list(v["fix_versions"])) for v in dep["vulns"]
            ]

    assert set(mine) == set(theirs) == {"jinja2", "urllib3"}
    for name in mine:
        assert _problems(mine[name]) == _problems(theirs[name]), name
