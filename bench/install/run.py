"""Benchmark: ``safe-pip install`` against plain ``pip install``, both pips, one run.

20 wheels (a dependency chain among them; one carries a 40 MB safetensors model, one a
torch checkpoint) are served by the test index on 127.0.0.1 as a *plain PEP 503 index*:
HTML project pages only, no PEP 691 JSON and no PEP 658 ``.metadata`` files, as many private
indexes are. They are installed into fresh copies of a virtual environment with cold caches
(new pip cache, new safe-pip quarantine and scan-result cache) and warm caches (both reused),
once with the interpreter's bundled pip in the target and once with a current pip (the newest
pip wheel in the test-wheel cache). Ratios are taken against plain pip in the same run and
with the same target pip, so machine speed cancels out; safe-pip's stage timings come from
its JSON output.

    python bench/install/run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.venvs import copy_venv, isolated_env, make_template, venv_python  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

N = 20
GOAL = {"cold": 1.3, "warm": 1.1}


def safetensors_blob(size: int) -> bytes:
    n = size // 4
    header = json.dumps(
        {"weight": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + os.urandom(n * 4)


def torch_checkpoint() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"layer.weight": torch.randn(256, 256), "layer.bias": torch.zeros(256)}, buf)
    return buf.getvalue()


def build_wheels(out: Path) -> list[str]:
    names = [f"benchpkg{i:02d}" for i in range(N)]
    for i, name in enumerate(names):
        files = {f"{name}/__init__.py": f"VALUE = {i}\n".encode()}
        files.update({f"{name}/mod{j}.py": (b"x = 1\n" * 200) for j in range(5)})
        if i == 0:
            files[f"{name}/model.safetensors"] = safetensors_blob(40 * 1024 * 1024)
        if i == 1:
            files[f"{name}/checkpoint.pt"] = torch_checkpoint()
        # A dependency chain: every package needs the next one.
        requires = [names[i + 1]] if i + 1 < N else []
        build_wheel(out, name, "1.0", files, requires=requires)
    return names


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc


def _cached_pip_wheel() -> Path | None:
    """The newest pip wheel that scripts/fetch_test_wheels.py cached, if any."""
    cache = Path(
        os.environ.get("SAFE_PIP_TEST_WHEELS", Path.home() / ".cache/safe-pip-test-wheels")
    )
    wheels = sorted(cache.glob("pip-*-py3-none-any.whl"))
    return wheels[-1] if wheels else None


def make_target(work: Path, wheel: Path | None) -> tuple[Path, str]:
    """A template venv with the bundled pip, or with ``wheel`` installed over it."""
    template = make_template(work / f"template-{wheel.stem if wheel else 'bundled'}")
    py = str(venv_python(template))
    if wheel is not None:
        subprocess.run(
            [py, "-m", "pip", "install", "-q", "--no-index", str(wheel)],
            check=True,
            env=isolated_env(work),
            capture_output=True,
        )
    out = subprocess.run([py, "-m", "pip", "--version"], check=True, capture_output=True, text=True)
    return template, out.stdout.split(" from ")[0]


def measure(
    work: Path, template: Path, tag: str, index: IndexServer, top: str, repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[dict[str, float]]]]:
    results: dict[str, list[float]] = {
        k: [] for k in ("pip-cold", "pip-warm", "safe-cold", "safe-warm")
    }
    stages: dict[str, list[dict[str, float]]] = {"safe-cold": [], "safe-warm": []}
    for r in range(repeat):
        for tool in ("pip", "safe"):
            home = work / f"home-{tag}-{tool}-{r}"
            home.mkdir()
            env = isolated_env(home)
            for phase in ("cold", "warm"):
                py = venv_python(copy_venv(template, work / f"venv-{tag}-{tool}-{r}-{phase}"))
                if tool == "pip":
                    cmd = [str(py), "-m", "pip", "install", "-q", "-i", index.simple_url, top]
                else:
                    cmd = [sys.executable, "-m", "safe_pip", "install", "--python", str(py)]
                    cmd += ["--format", "json", "-i", index.simple_url, top]
                elapsed, proc = timed(cmd, env)
                results[f"{tool}-{phase}"].append(elapsed)
                if tool == "safe":
                    stages[f"safe-{phase}"].append(json.loads(proc.stdout)["run"]["timings"])
    return results, stages


def report(
    label: str, results: dict[str, list[float]], stages: dict[str, list[dict[str, float]]]
) -> None:
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n## target {label}")
    print(f"{'case':<10} {'median s':>9}  runs")
    for k, v in results.items():
        print(f"{k:<10} {med[k]:9.2f}  {', '.join(f'{x:.2f}' for x in v)}")
    for phase in ("cold", "warm"):
        ratio = med[f"safe-{phase}"] / med[f"pip-{phase}"]
        print(f"ratio {phase}: {ratio:.2f}x  (goal <= {GOAL[phase]}x)")
    for phase, runs in stages.items():
        keys = sorted({k for t in runs for k in t})
        parts = [f"{k} {statistics.median(t.get(k, 0.0) for t in runs):.2f}" for k in keys]
        print(f"{phase} stages (median s): " + ", ".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pip-wheel",
        type=Path,
        default=_cached_pip_wheel(),
        help="current pip wheel for the second target (default: the newest in the test-wheel "
        "cache; without one only the bundled pip is measured)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="safe-pip-bench-"))
    try:
        names = build_wheels(work / "wheels")
        with IndexServer() as index:
            index.json_api = False  # plain PEP 503: HTML only
            for wheel in sorted((work / "wheels").iterdir()):
                index.add(wheel, metadata=False)  # and no PEP 658 .metadata files
            pips: list[Path | None] = [None] + ([args.pip_wheel] if args.pip_wheel else [])
            for wheel in pips:
                template, version = make_target(work, wheel)
                tag = wheel.stem if wheel else "bundled"
                results, stages = measure(work, template, tag, index, names[0], args.repeat)
                report(version, results, stages)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
