"""Differential fuzzing: safe-pip must report every global the real loaders resolve.

Hypothesis generates pickles and the containers that carry them (``fuzzcases``); each file
goes to the real loaders — the C and pure-Python unpicklers through a file, ``io.BytesIO``
and memory, ``torch.load``, ``numpy.load``, ``joblib.load`` — run as oracles in a subprocess
with name resolution intercepted (``oracle_worker.py``: nothing of the file is ever run),
and to safe-pip's scanner in this process.  Every name an oracle resolves must be either on
safe-pip's allowlist or among the names safe-pip reports for that file.

The cases are drawn deterministically (``derandomize``) so CI always checks the same few
thousand; ``scripts/fuzz_pickles.py`` runs random seeds for as long as it is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.formats.pickle.allowlist import is_allowed
from safe_pip.scan.formats.pickle.names import canonical

from .fuzzcases import Case, cases

ORACLE = Path(__file__).with_name("oracle_worker.py")
EXAMPLES = int(os.environ.get("SAFE_PIP_DIFF_EXAMPLES", "1200"))
SEED = os.environ.get("SAFE_PIP_DIFF_SEED")
"""Unset in CI (the same derandomized cases every run); ``scripts/fuzz_pickles.py`` sets it."""
BATCH = 400


def run_oracles(jobs: Sequence[tuple[str, str]], cwd: Path) -> list[dict[str, Any]]:
    """Each ``(path, loader)`` through the oracle worker, many per subprocess; a batch
    whose worker dies (a loader crashing the interpreter) is re-run one job at a time."""
    results: list[dict[str, Any]] = []
    for i in range(0, len(jobs), BATCH):
        results.extend(_batch(jobs[i : i + BATCH], cwd))
    return results


def _batch(jobs: Sequence[tuple[str, str]], cwd: Path) -> list[dict[str, Any]]:
    payload = json.dumps([{"path": p, "loader": loader} for p, loader in jobs])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SAFE_PIP_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, str(ORACLE)],
        input=payload,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )
    if proc.returncode == 0:
        out: list[dict[str, Any]] = json.loads(proc.stdout)
        return out
    if len(jobs) == 1:
        return [{"resolved": [], "outcome": f"oracle crashed ({proc.returncode})"}]
    half = len(jobs) // 2
    return _batch(jobs[:half], cwd) + _batch(jobs[half:], cwd)


def reported_names(path: Path) -> set[tuple[str, str]]:
    """Every (module, name) safe-pip names in a finding for ``path``."""
    result = scan_path(path)
    names = set()
    for finding in result.findings:
        module, name = finding.detail.get("module"), finding.detail.get("name")
        if isinstance(module, str) and isinstance(name, str):
            names.add((module, name))
    return names


def covered(module: str, name: str, reported: set[tuple[str, str]]) -> bool:
    mapped = canonical(module, name)
    return (
        is_allowed(*mapped)
        or mapped in reported
        or (module, name) in reported
        or ("*", "*") in reported
    )


def misses(generated: Sequence[Case], tmp_path: Path) -> list[str]:
    """Names some oracle resolved that safe-pip neither allows nor reports."""
    jobs: list[tuple[str, str]] = []
    owner: list[int] = []
    paths: list[Path] = []
    for index, case in enumerate(generated):
        folder = tmp_path / f"c{index}"
        folder.mkdir()
        path = folder / case.name
        path.write_bytes(case.data)
        paths.append(path)
        for loader in case.loaders:
            jobs.append((str(path), loader))
            owner.append(index)
    results = run_oracles(jobs, tmp_path)
    reported: dict[int, set[tuple[str, str]]] = {}
    found: list[str] = []
    for (_, loader), index, result in zip(jobs, owner, results, strict=True):
        if index not in reported:
            reported[index] = reported_names(paths[index])
        for resolved in result["resolved"]:
            module, _, name = resolved.partition(":")
            if not covered(module, name, reported[index]):
                found.append(
                    f"{loader} resolves {module}.{name} ({result['outcome']}) in "
                    f"{generated[index].name} = {generated[index].data!r}"
                )
    return found


def test_safe_pip_reports_every_global_the_loaders_resolve(tmp_path: Path) -> None:
    generated: list[Case] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def collect(case: Case) -> None:
        generated.append(case)

    if SEED is not None:
        collect = seed(int(SEED))(collect)
    collect()
    assert len(generated) >= EXAMPLES // 2
    found = misses(generated, tmp_path)
    assert not found, f"{len(found)} misses, first ones:\n" + "\n".join(found[:40])
