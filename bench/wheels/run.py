"""``safe-pip scan`` of 12 large real wheels against the inflate-and-hash floor, in one run.

The floor is what any scanner that reads every member must pay: one Python process per wheel
that inflates every member and hashes it (``zipfile`` + ``hashlib.sha256``, streaming). Goal
(issue 13): the 12 together at most 1.5x the floor, none above 3x, peak RSS at most 150 MB.

    python scripts/fetch_test_wheels.py      # the wheels (cached outside git)
    python bench/wheels/run.py [--repeat N] [--update-readme]

Each command runs once untimed (page cache), then ``--repeat`` times (median wall, highest
peak RSS of that process alone, median CPU time of it and the processes it waited for, as
bench/run.py measures). The goal is on wall time; the CPU column shows the work done, which a
machine shared with other jobs stretches less.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent / "scripts"))

import fetch_test_wheels as fetch  # noqa: E402
from run import Timing, fmt_row, invalid, machine, measure, tool  # noqa: E402

README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench-wheels:begin -->", "<!-- bench-wheels:end -->"

#: (project, exact file prefix) — the 12 wheels the issue measured.
WHEELS = (
    "tensorflow_cpu-2.21.0",
    "torch-2.13.0",
    "jaxlib-0.10.2",
    "xgboost-",
    "catboost-",
    "scipy-",
    "botocore-",
    "mlflow-",
    "numba-",
    "keras-",
    "babel-",
    "virtualenv-",
)

FLOOR = (
    "import hashlib, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as zf:\n"
    "    for info in zf.infolist():\n"
    "        h = hashlib.sha256()\n"
    "        with zf.open(info) as fh:\n"
    "            while chunk := fh.read(1 << 20):\n"
    "                h.update(chunk)\n"
)


def find(prefix: str) -> Path:
    cache = fetch.default_cache_dir()
    for folder in (cache, fetch.real_cache_dir(cache)):
        hits = sorted(folder.glob(f"{prefix}*.whl")) if folder.is_dir() else []
        if hits:
            return hits[-1]
    raise SystemExit(f"no {prefix}*.whl in {cache}: run scripts/fetch_test_wheels.py")


def main(argv: list[str] | None = None) -> int:
    # An installed safe-pip has its bytecode cached; a developer shell that forbids writing
    # it would charge every scan with compiling safe-pip itself.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    rows: list[str] = []
    ours_total = floor_total = ours_cpu = floor_cpu = 0.0
    worst_ratio, worst_rss, worst_name = 0.0, 0.0, ""
    errors: list[str] = []
    for prefix in WHEELS:
        path = find(prefix)
        short = path.name.split("-")[0] + "-" + path.name.split("-")[1]
        floor = measure(f"floor {short}", [sys.executable, "-c", FLOOR, str(path)], args.repeat)
        ours: Timing = measure(
            f"`safe-pip scan` {short}", [tool("safe-pip"), "scan", str(path)], args.repeat
        )
        if invalid(ours) or 1 in ours.exit_codes:
            errors.append(f"{short}: exit {ours.exit_codes}")
        ratio = ours.seconds / floor.seconds
        ours_total += ours.seconds
        floor_total += floor.seconds
        ours_cpu += ours.cpu_seconds
        floor_cpu += floor.cpu_seconds
        if ratio > worst_ratio:
            worst_ratio, worst_name = ratio, short
        worst_rss = max(worst_rss, ours.peak_rss_mib)
        cpu = f"{ours.cpu_seconds / floor.cpu_seconds:.2f}x" if floor.cpu_seconds else "?"
        rows += [
            fmt_row(floor) + f" {floor.cpu_seconds:.2f} s |  |  |",
            fmt_row(ours) + f" {ours.cpu_seconds:.2f} s | {ratio:.2f}x | {cpu} |",
        ]
        print(rows[-2], rows[-1], sep="\n", flush=True)
    total = ours_total / floor_total
    ok = total <= 1.5 and worst_ratio <= 3 and worst_rss <= 150 and not errors
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; median of {args.repeat} runs "
        "after a warm-up.",
        "",
        "| command | median wall | peak RSS | exit | CPU (user+sys) | ratio | CPU ratio |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- together: safe-pip {ours_total:.1f} s / floor {floor_total:.1f} s = **{total:.2f}x**; "
        f"worst single wheel **{worst_ratio:.2f}x** ({worst_name}); peak RSS "
        f"**{worst_rss:.0f} MiB** (goal <= 1.5x, none > 3x, <= 150 MB: "
        f"{'met' if ok else 'NOT met'})" + (f"; errors: {errors}" if errors else ""),
        f"- CPU (user+sys, all processes of one run): safe-pip {ours_cpu:.1f} s / floor "
        f"{floor_cpu:.1f} s = {ours_cpu / floor_cpu:.2f}x (the work done; a large wheel is "
        "read by two processes, so its wall time can be below its CPU time)",
    ]
    section = "\n".join(lines)
    print(section)
    if args.update_readme:
        text = README.read_text()
        if BEGIN not in text:
            text += f"\n## Wheels (bench/wheels)\n\n{BEGIN}\n{END}\n"
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        README.write_text(f"{head}{BEGIN}\n{section}\n{END}{tail}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
