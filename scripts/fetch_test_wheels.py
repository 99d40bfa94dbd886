"""Download the popular wheels that ``tests/scan/test_popular_wheels.py`` scans whole.

Why: a gate that blocks ``pip install numpy`` is useless whatever it catches, so the scanner is
run over the real wheels people install most (numpy ships test pickles with
``numpy.core._internal._reconstruct`` and py2 ``__builtin__.xrange``; torch ships its own
pickles and TorchScript bits). They are hundreds of MB, so they live in a cache folder outside
git, not in the repository:

    python scripts/fetch_test_wheels.py            # into $SAFE_PIP_TEST_WHEELS or
                                                   # ~/.cache/safe-pip-test-wheels

This is a developer/CI script: it runs the user's own pip with the user's pip configuration
(index, find-links, certificates), unlike the tests, which isolate every pip they run. A wheel
already in the cache is not downloaded again. Exit status is 1 if any download failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

#: Requirement specifiers, one per distribution. torch is pinned to the version whose wheel is
#: on disk here (pip's find-links), so fetching it does not pull ~200 MB over the network.
POPULAR: tuple[str, ...] = (
    "setuptools",
    "pip",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "transformers",
    "torch==2.13.0",
    # Dependencies of the above that ship pickled test data (graphs, old joblib dumps).
    "networkx",
    "joblib",
)

ENV_VAR = "SAFE_PIP_TEST_WHEELS"


def default_cache_dir() -> Path:
    """``$SAFE_PIP_TEST_WHEELS`` if set, else ``~/.cache/safe-pip-test-wheels``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "safe-pip-test-wheels"


def project_name(spec: str) -> str:
    """The distribution name of a requirement specifier (``torch==2.13.0`` -> ``torch``)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    if not match:
        raise ValueError(f"not a requirement: {spec!r}")
    return match.group(0)


def wheel_prefix(name: str) -> str:
    """The file-name prefix of a wheel for ``name`` (PEP 427: runs of ``-_.`` become ``_``)."""
    return re.sub(r"[-_.]+", "_", name).lower() + "-"


def find_wheels(cache: Path, name: str) -> list[Path]:
    """Every wheel for ``name`` in ``cache`` (case-insensitive, normalised name)."""
    if not cache.is_dir():
        return []
    prefix = wheel_prefix(name)
    return sorted(
        p for p in cache.iterdir() if p.suffix == ".whl" and p.name.lower().startswith(prefix)
    )


def fetch(spec: str, cache: Path) -> bool:
    """Download one wheel (no dependencies, binary only) unless one is already cached."""
    name = project_name(spec)
    have = find_wheels(cache, name)
    version = spec.partition("==")[2]
    if have and (not version or any(f"-{version}" in p.name for p in have)):
        print(f"{name}: cached ({have[-1].name})")
        return True
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(cache),
        spec,
    ]
    print(f"{name}: {' '.join(cmd[3:])}", flush=True)
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        print(f"{name}: pip download failed with exit {result.returncode}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Fetch every popular wheel (or the ones named) into the cache folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest", type=Path, default=None, help=f"cache folder (default: ${ENV_VAR} or ~/.cache)"
    )
    parser.add_argument("specs", nargs="*", help="requirement specifiers (default: all popular)")
    args = parser.parse_args(argv)
    cache: Path = args.dest or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    specs: list[str] = args.specs or list(POPULAR)
    failed = [spec for spec in specs if not fetch(spec, cache)]
    total = sum(p.stat().st_size for p in cache.glob("*.whl"))
    print(f"{cache}: {len(list(cache.glob('*.whl')))} wheels, {total / 2**20:.0f} MiB")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
