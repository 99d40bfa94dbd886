"""Run the differential pickle fuzzer for longer than CI does, on fresh random seeds.

CI runs ``tests/scan/formats/pickle/test_differential.py`` on the same derandomized cases
every time (about 1,200, within its time share). This script runs the same test again and
again, each time on a new seed, until the time is up or a run finds a miss; it prints the
seed, so the failing run can be repeated exactly::

    python scripts/fuzz_pickles.py --minutes 60 --examples 3000
    SAFE_PIP_DIFF_SEED=<seed> SAFE_PIP_DIFF_EXAMPLES=3000 \\
        python -m pytest tests/scan/formats/pickle/test_differential.py

It needs the test extras (hypothesis, torch, numpy, joblib): the oracles are the real loaders.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

TEST = Path(__file__).resolve().parent.parent / "tests/scan/formats/pickle/test_differential.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="stop after this long")
    parser.add_argument("--examples", type=int, default=3000, help="cases per seed")
    args = parser.parse_args(argv)
    stop = time.monotonic() + args.minutes * 60
    runs = 0
    while time.monotonic() < stop:
        chosen = random.SystemRandom().randrange(2**32)
        env = dict(os.environ)
        env["SAFE_PIP_DIFF_SEED"] = str(chosen)
        env["SAFE_PIP_DIFF_EXAMPLES"] = str(args.examples)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", str(TEST)],
            env=env,
            check=False,
        )
        runs += 1
        if proc.returncode != 0:
            print(f"fuzz_pickles: a miss with SAFE_PIP_DIFF_SEED={chosen}", file=sys.stderr)
            return 1
        print(f"fuzz_pickles: seed {chosen}: no miss ({runs} runs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
