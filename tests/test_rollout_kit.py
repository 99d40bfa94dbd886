"""The admin rollout kit: the GitHub Action (action.yml) and the pre-commit hook.

Neither GitHub's runner nor pre-commit's hook environment is here, so each is run the way
they run it: the action's ``run:`` steps in bash with a runner's variables (``RUNNER_TEMP``,
``GITHUB_ACTION_PATH``, ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``) and its inputs as the
runner passes them, the hook's ``entry`` split as pre-commit splits it with the file names
appended; pre-commit itself validates the manifest.  Both vet real requirements against the
real local index: the clean one passes, the seed attack fails with its finding.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer
from tests.support.venvs import isolated_env
from tests.support.wheels import build_wheel

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project folder with good.txt and bad.txt, and the index both resolve from."""
    with IndexServer() as index:
        index.add(build_wheel(tmp_path / "w", "cleanpkg", "1.0"))
        index.add(evil_wheel(tmp_path / "w", tmp_path / "PWNED"))
        work = tmp_path / "project"
        work.mkdir()
        (work / "requirements.txt").write_text("cleanpkg==1.0\n")
        (work / "requirements-bad.txt").write_text("cleanpkg==1.0\nmodelzoo\n")
        yield work, index.simple_url
    assert not (tmp_path / "PWNED").exists()


# -- the GitHub Action ----------------------------------------------------------------------
def _inputs(given: dict[str, str]) -> dict[str, str]:
    spec: dict[str, dict[str, Any]] = ACTION["inputs"]
    unknown = set(given) - set(spec)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    return {name: given.get(name, str(s.get("default", ""))) for name, s in spec.items()}


_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _expand(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr.startswith("steps.vet.outputs."):
            return outputs.get(expr.removeprefix("steps.vet.outputs."), "")
        raise AssertionError(f"an expression the test runner does not know: {expr}")

    return _EXPR.sub(value, text)


def run_action(work: Path, home: Path, given: dict[str, str]) -> tuple[int, str, str, Path]:
    """Run the action's steps as a runner would; returns (job status, log, summary, temp)."""
    inputs = _inputs(given)
    temp = work.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    # The install step's result: safe-pip in its own venv (here, the one running the tests).
    (temp / "safe-pip").symlink_to(Path(sys.prefix), target_is_directory=True)
    output, summary = temp / "output", temp / "summary"
    log, status = "", 0
    outputs: dict[str, str] = {}
    for step in ACTION["runs"]["steps"]:
        if "uses" in step or step.get("id") == "install":
            continue  # setup-python, the SARIF upload, the pip install of this checkout
        env = isolated_env(
            home,
            RUNNER_TEMP=str(temp),
            GITHUB_ACTION_PATH=str(REPO),
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(summary),
            **{k: _expand(str(v), inputs, outputs) for k, v in step.get("env", {}).items()},
        )
        assert step["shell"] == "bash"
        proc = subprocess.run(
            ["bash", "-e", "-c", _expand(step["run"], inputs, outputs)],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=300,
        )
        log += proc.stdout + proc.stderr
        if output.exists():
            outputs = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
        if proc.returncode != 0:
            status = proc.returncode
            break
    return status, log, summary.read_text() if summary.exists() else "", temp


def test_the_action_is_a_composite_whose_inputs_are_all_used() -> None:
    assert ACTION["runs"]["using"] == "composite"
    text = (REPO / "action.yml").read_text()
    for name in ACTION["inputs"]:
        assert f"inputs.{name}" in text, f"input {name} is declared but never used"
    for step in ACTION["runs"]["steps"]:
        if "run" in step:  # inputs reach scripts through env, never pasted into the script
            assert "inputs." not in step["run"]


@pytest.mark.slow
def test_the_action_fails_on_the_attack_with_sarif_and_annotations(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    work, url = project
    status, log, summary, _ = run_action(
        work, tmp_path / "home", {"requirements": "requirements-bad.txt", "index-url": url}
    )
    assert status == 1, log
    sarif = json.loads((work / "safe-pip.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    rules = {r["ruleId"] for run in sarif["runs"] for r in run["results"]}
    assert "PICKLE-GLOBAL-DANGEROUS" in rules
    assert "::error file=requirements-bad.txt,title=PICKLE-GLOBAL-DANGEROUS::" in log
    assert "safe-pip blocked at least one file" in log
    assert "| BLOCK | `PICKLE-GLOBAL-DANGEROUS` |" in summary


@pytest.mark.slow
def test_the_action_passes_clean_requirements(project: tuple[Path, str], tmp_path: Path) -> None:
    work, url = project
    status, log, summary, _ = run_action(
        work, tmp_path / "home", {"requirements": "requirements.txt", "index-url": url}
    )
    assert status == 0, log
    assert "safe-pip: every file allowed" in log
    assert "::error" not in log
    assert json.loads((work / "safe-pip.sarif").read_text())["runs"][0]["results"] == []
    assert "Every file was allowed" in summary


# -- the pre-commit hook --------------------------------------------------------------------
def test_pre_commit_accepts_the_manifest() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", ".pre-commit-hooks.yaml"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_hook(
    work: Path, home: Path, args: list[str], files: list[str]
) -> subprocess.CompletedProcess[str]:
    """The hook's entry as pre-commit runs it: split, then args, then the file names."""
    (hook,) = HOOKS
    assert all(re.search(hook["files"], f) for f in files)
    env = isolated_env(home, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [*shlex.split(hook["entry"]), *args, *files],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_the_hook_stops_a_commit_that_adds_the_attack(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    work, url = project
    good = run_hook(work, tmp_path / "home", [f"--index-url={url}"], ["requirements.txt"])
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_hook(
        work,
        tmp_path / "home",
        [f"--index-url={url}", "--format=sarif", "--report=out.sarif"],
        ["requirements.txt", "requirements-bad.txt"],
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    rules = {
        r["ruleId"] for r in json.loads((work / "out.sarif").read_text())["runs"][0]["results"]
    }
    assert "PICKLE-GLOBAL-DANGEROUS" in rules
