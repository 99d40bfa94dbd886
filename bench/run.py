"""Run safe-pip's speed benchmarks side by side with their yardsticks, in one run.

Why side by side: absolute seconds depend on the machine; the goals are ratios measured on the
same machine in the same run (bench/README.md):

* ``pickle``  - 20 MB state-dict-like pickle (an OrderedDict of 300,000 entries, protocol 2):
  ``safe-pip scan`` vs ``picklescan -p``; goal safe-pip at most 0.1x picklescan's time, and
  the same file with a payload appended still blocked.
* ``zip``     - 1 GiB torch zip checkpoint: ``safe-pip scan`` vs ``sha256sum``; goal safe-pip
  < 0.5x the sha256sum time and peak RSS < 150 MB (tensor bytes need no parsing).
* ``startup`` - ``safe-pip --help`` and a scan of a tiny pickle, against ``python -c pass``.

Each command runs ``--repeat`` times after one untimed warm-up (so every tool reads from the
page cache); the median wall time and the highest peak RSS (``os.wait4`` on that process) are
reported. ``--update-readme`` writes the table into bench/README.md between its markers.

    python bench/run.py                  # all three, prints a markdown table
    python bench/run.py pickle --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import ensure_inputs

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Timing:
    """Median wall time, worst peak RSS and the exit codes seen over the repeats."""

    label: str
    seconds: float
    peak_rss_mib: float
    exit_codes: tuple[int, ...]
    cpu_seconds: float = 0.0
    """Median user+sys time of the command and the processes it waited for: the work done,
    which a loaded machine stretches less than the wall time."""


def tool(name: str) -> str:
    """A console script from this interpreter's environment, else from PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found (install it: pip install -e '.[bench]')")
    return found


#: Runs argv[2:] and writes that child's peak RSS (KiB) and wall seconds to argv[1]. A child's
#: ru_maxrss starts at the high-water mark of the process that forked it (Linux counts the
#: pre-exec memory), so
#: measured straight from this runner - which may have just built a 20 MB pickle in memory -
#: every tool would look as big as the runner. A fresh small interpreter in between fixes that.
RSS_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "wall = time.perf_counter() - start\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{use.ru_maxrss} {wall} {use.ru_utime + use.ru_stime}')\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def run_once(argv: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MiB, exit code and CPU seconds (user+sys, with the processes
    it waited for) of one process (output discarded).

    Both are taken by the wrapper around the command alone, so the wrapper's own start-up is
    not in the time.
    """
    with tempfile.NamedTemporaryFile(prefix="safe-pip-bench-rss-") as out:
        code = subprocess.call(
            [sys.executable, "-c", RSS_WRAPPER, out.name, *argv],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        peak_kib, wall, cpu = Path(out.name).read_text().split()
    return float(wall), int(peak_kib) / 1024, code, float(cpu)


def measure(label: str, argv: list[str], repeat: int) -> Timing:
    """One warm-up run, then ``repeat`` timed runs."""
    run_once(argv)
    runs = [run_once(argv) for _ in range(repeat)]
    return Timing(
        label=label,
        seconds=statistics.median(r[0] for r in runs),
        peak_rss_mib=max(r[1] for r in runs),
        exit_codes=tuple(sorted({r[2] for r in runs})),
        cpu_seconds=statistics.median(r[3] for r in runs),
    )


def invalid(t: Timing) -> str | None:
    """Why a safe-pip timing measures nothing (it crashed or errored), else None."""
    bad = [c for c in t.exit_codes if c not in (0, 1)]
    return f"INVALID: safe-pip exited {bad[0]}" if bad else None


def fmt_row(t: Timing) -> str:
    codes = ",".join(map(str, t.exit_codes))
    return f"| {t.label} | {t.seconds:.3f} s | {t.peak_rss_mib:.0f} MiB | {codes} |"


def bench_pickle(path: Path, payload: Path, repeat: int) -> tuple[list[Timing], str]:
    ours = measure(f"`safe-pip scan` {path.name}", [tool("safe-pip"), "scan", str(path)], repeat)
    theirs = measure(f"`picklescan -p` {path.name}", [tool("picklescan"), "-p", str(path)], repeat)
    bad = measure(
        f"`safe-pip scan` {payload.name}", [tool("safe-pip"), "scan", str(payload)], repeat
    )
    ratio = ours.seconds / theirs.seconds
    blocked = bad.exit_codes == (1,)
    verdict = invalid(ours) or ("met" if ratio <= 0.1 and blocked else "NOT met")
    return [ours, bad, theirs], (
        f"safe-pip / picklescan = **{ratio:.3f}x**; with a payload appended safe-pip exits "
        f"{','.join(map(str, bad.exit_codes))} (goal <= 0.1x and blocked: {verdict})"
    )


def bench_zip(path: Path, repeat: int) -> tuple[list[Timing], str]:
    ours = measure(f"`safe-pip scan` {path.name}", [tool("safe-pip"), "scan", str(path)], repeat)
    sha = measure(f"`sha256sum` {path.name}", ["sha256sum", str(path)], repeat)
    ratio = ours.seconds / sha.seconds
    ok = ratio < 0.5 and ours.peak_rss_mib < 150
    verdict = invalid(ours) or ("met" if ok else "NOT met")
    return [ours, sha], (
        f"safe-pip / sha256sum = **{ratio:.2f}x**, safe-pip peak RSS "
        f"**{ours.peak_rss_mib:.0f} MiB** (goal < 0.5x and < 150 MB: {verdict})"
    )


def bench_startup(tiny: Path, repeat: int) -> tuple[list[Timing], str]:
    base = measure("`python -c pass`", [sys.executable, "-c", "pass"], repeat)
    helps = measure("`safe-pip --help`", [tool("safe-pip"), "--help"], repeat)
    scan = measure(f"`safe-pip scan` {tiny.name}", [tool("safe-pip"), "scan", str(tiny)], repeat)
    return [base, helps, scan], (
        (f"{invalid(scan)}; " if invalid(scan) else "")
        + f"safe-pip --help costs {helps.seconds - base.seconds:.3f} s over a bare interpreter, "
        f"a tiny scan {scan.seconds - base.seconds:.3f} s"
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def update_readme(section: str) -> None:
    """Replace the text between the README's bench markers with ``section``."""
    text = README.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{README} has no {BEGIN} marker")
    README.write_text(f"{head}{BEGIN}\n{section}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help="pickle, zip and/or startup (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    which: list[str] = args.which or ["pickle", "zip", "startup"]
    unknown = set(which) - {"pickle", "zip", "startup"}
    if unknown:
        parser.error(f"unknown bench: {', '.join(sorted(unknown))}")
    paths = ensure_inputs(("pickle", "payload", "zip", "tiny"))
    benches = {
        "pickle": lambda: bench_pickle(paths["pickle"], paths["payload"], args.repeat),
        "zip": lambda: bench_zip(paths["zip"], args.repeat),
        "startup": lambda: bench_startup(paths["tiny"], max(args.repeat, 5)),
    }
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; median of {args.repeat} runs "
        "after a warm-up (startup: at least 5).",
        "",
        "| command | median wall | peak RSS | exit |",
        "|---|---|---|---|",
    ]
    notes: list[str] = []
    for name in which:
        timings, note = benches[name]()
        lines.extend(fmt_row(t) for t in timings)
        notes.append(f"- {name}: {note}")
    section = "\n".join([*lines, "", *notes])
    print(section)
    if args.update_readme:
        update_readme(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
