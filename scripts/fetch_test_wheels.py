"""Download the popular wheels that ``tests/scan/test_popular_wheels.py`` scans whole.

Why: a gate that blocks ``pip install numpy`` is useless whatever it catches, so the scanner is
run over the real wheels people install most (numpy ships test pickles with
``numpy.core._internal._reconstruct`` and py2 ``__builtin__.xrange``; torch ships its own
pickles and TorchScript bits). They are hundreds of MB, so they live in a cache folder outside
git, not in the repository:

    python scripts/fetch_test_wheels.py            # into $SAFE_PIP_TEST_WHEELS or
                                                   # ~/.cache/safe-pip-test-wheels
    python scripts/fetch_test_wheels.py --real     # only the pinned real-wheel list

Besides the popular wheels (newest release of each), the real-wheel list
``tests/fixtures/real-wheels/wheels.txt`` pins 122 more by file name and sha256 (the AI/ML stack
and the top of the registry). Those go into ``<cache>/real`` and are checked byte for byte: a
file whose sha256 differs from the pin is deleted and reported, never scanned.

This is a developer/CI script: it runs the user's own pip with the user's pip configuration
(index, find-links, certificates), unlike the tests, which isolate every pip they run. A wheel
already in the cache is not downloaded again. Exit status is 1 if any download failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
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

#: The user's own pip, wheels only, no dependencies (every wanted file is named).
PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check")  # fmt: skip

REAL_LIST = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real-wheels" / "wheels.txt"
)
"""The pinned real-wheel list: ``FILENAME SHA256 SPEC`` per line, ``#`` comments."""

#: The interpreter and platforms the pinned files were built for (the list's own header):
#: pip picks among a release's files by these, and the sha256 pin then proves it picked the
#: one on the list.
REAL_TARGET: tuple[str, ...] = (
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_27_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
)


@dataclass(frozen=True)
class RealWheel:
    """One pinned line of the real-wheel list."""

    filename: str
    sha256: str
    spec: str

    @property
    def name(self) -> str:
        return project_name(self.spec)


def real_wheels(path: Path = REAL_LIST) -> list[RealWheel]:
    """The pinned real wheels, in file order."""
    out: list[RealWheel] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        filename, sha256, spec = line.split()
        out.append(RealWheel(filename, sha256.lower(), spec))
    return out


def real_cache_dir(cache: Path | None = None) -> Path:
    """Where the pinned real wheels are kept: ``<cache>/real``."""
    return (cache or default_cache_dir()) / "real"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified(wheel: RealWheel, folder: Path) -> Path | None:
    """The cached file if it is there and its sha256 is the pinned one (else removed)."""
    path = folder / wheel.filename
    if not path.is_file():
        return None
    if sha256_of(path) == wheel.sha256:
        return path
    print(f"{wheel.filename}: sha256 differs from the pin; deleted", file=sys.stderr)
    path.unlink()
    return None


def _download_pinned(batch: list[RealWheel], folder: Path) -> int:
    """One ``pip download`` of ``batch``, each requirement bound to its pinned sha256.

    The user's pip configuration applies (index, find-links, certificates); only
    ``constraint`` is cleared, because a pin by hash is narrower than any constraint and a
    site-wide cap (say ``torchvision<=0.29.1``) would otherwise refuse a pinned file.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        for w in batch:
            req.write(f"{w.spec} --hash=sha256:{w.sha256}\n")
    # An empty constraint file replaces the configured one (an empty value would not).
    env = {**os.environ, "PIP_CONSTRAINT": os.devnull}
    cmd = [
        *PIP_DOWNLOAD,
        "--require-hashes",
        *REAL_TARGET,
        "--dest",
        str(folder),
        "-r",
        req.name,
    ]
    try:
        return subprocess.run(cmd, check=False, env=env).returncode
    finally:
        os.unlink(req.name)


def fetch_real(cache: Path) -> list[str]:
    """Download every pinned real wheel not yet cached; returns the files still missing."""
    folder = real_cache_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    todo = [w for w in real_wheels() if verified(w, folder) is None]
    # pip refuses two versions of one name in a single run (jaxlib, tensorflow-cpu are
    # pinned twice), so each batch holds a name once.
    while todo:
        seen: set[str] = set()
        batch = [w for w in todo if not (w.name in seen or seen.add(w.name))]
        print(f"real wheels: downloading {len(batch)} pinned file(s)", flush=True)
        if _download_pinned(batch, folder) != 0 and len(batch) > 1:
            for w in batch:  # find the one that failed, keep the others
                if verified(w, folder) is None:
                    _download_pinned([w], folder)
        todo = [w for w in todo if w not in batch]
    missing = [w.filename for w in real_wheels() if verified(w, folder) is None]
    have = len(real_wheels()) - len(missing)
    print(f"{folder}: {have} pinned real wheels verified by sha256")
    return missing


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
    cmd = [*PIP_DOWNLOAD, "--dest", str(cache), spec]
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
    parser.add_argument(
        "--real", action="store_true", help="only the pinned real-wheel list (into <cache>/real)"
    )
    parser.add_argument("specs", nargs="*", help="requirement specifiers (default: all popular)")
    args = parser.parse_args(argv)
    cache: Path = args.dest or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    specs: list[str] = args.specs or ([] if args.real else list(POPULAR))
    failed = [spec for spec in specs if not fetch(spec, cache)]
    if not args.specs:
        failed += fetch_real(cache)
    total = sum(p.stat().st_size for p in cache.glob("*.whl"))
    print(f"{cache}: {len(list(cache.glob('*.whl')))} wheels, {total / 2**20:.0f} MiB")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
