"""Where a target interpreter keeps its packages, without letting it run them.

The interpreter is started with ``-I -S``: isolated mode ignores ``PYTHON*``
variables and the user site, and ``-S`` skips ``site``, so no ``.pth`` line and
no ``sitecustomize`` of the environment under audit executes.  Because ``site``
is what normally turns a venv's ``pyvenv.cfg`` into ``sys.prefix``, the probe
reads ``pyvenv.cfg`` itself, exactly as ``site.venv()`` would.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from safe_pip.errors import SafePipError

_PROBE = r"""
import json, os, site, sys, sysconfig
exe_dir = os.path.dirname(sys.executable)
cfg = None
for base in (exe_dir, os.path.dirname(exe_dir)):
    cand = os.path.join(base, "pyvenv.cfg")
    if os.path.isfile(cand):
        cfg = cand
        break
system = cfg is None
if cfg:
    with open(cfg, encoding="utf-8") as fh:
        for line in fh:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "include-system-site-packages":
                system = value.strip().lower() == "true"
prefix = os.path.dirname(cfg) if cfg else sys.prefix
paths = sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})
dirs = [paths["purelib"], paths["platlib"]]
if cfg and system:
    dirs += site.getsitepackages([sys.base_prefix])
elif not cfg:
    dirs += site.getsitepackages()
print(json.dumps({"prefix": prefix, "venv": cfg is not None, "dirs": dirs,
                  "version": "%d.%d.%d" % sys.version_info[:3]}))
"""


@dataclass(frozen=True)
class Environment:
    """A target environment: its interpreter (if known) and its package folders."""

    description: str
    site_dirs: tuple[Path, ...]
    python: Path | None = None
    prefix: Path | None = None
    python_version: str | None = None


def from_python(python: Path, timeout: float = 60) -> Environment:
    """Ask ``python -I -S`` for its prefix and site-packages folders."""
    try:
        out = subprocess.run(
            [str(python), "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        info = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise SafePipError(f"cannot ask {python} where its packages are: {exc}") from exc
    dirs = tuple(dict.fromkeys(Path(d) for d in info["dirs"] if Path(d).is_dir()))
    return Environment(
        description=str(python),
        site_dirs=dirs,
        python=python,
        prefix=Path(info["prefix"]),
        python_version=str(info["version"]),
    )


def from_path(site_dir: Path) -> Environment:
    if not site_dir.is_dir():
        raise SafePipError(f"{site_dir} is not a directory")
    return Environment(description=str(site_dir), site_dirs=(site_dir,))
