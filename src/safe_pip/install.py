"""Install: the final pip call, which can only install the vetted files.

``pip install --no-index --no-deps --require-hashes -r vetted.txt`` where
``vetted.txt`` names each quarantined file by absolute path with the sha256
safe-pip computed while downloading it.  ``--no-index`` means pip cannot fetch
anything else, ``--no-deps`` that it cannot add anything the resolver did not
report, and ``--require-hashes`` that the bytes pip reads are the bytes that
were scanned (a file swapped in the quarantine after the scan fails here).
The user's install-location options (``--target``, ``--prefix``, ``--user``,
``--upgrade``...) are passed through unchanged.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from safe_pip.errors import SafePipError


class InstallError(SafePipError):
    """pip failed to install the vetted files."""


@dataclass(frozen=True)
class VettedFile:
    path: Path
    sha256: str


def requirements_text(files: Sequence[VettedFile]) -> str:
    lines = []
    for f in files:
        if any(c in str(f.path) for c in "\n\r"):
            raise InstallError(f"refusing a quarantine path with a line break: {f.path!r}")
        lines.append(f"{f.path.resolve().as_uri()} --hash=sha256:{f.sha256}")
    return "\n".join(lines) + "\n"


def install_command(python: Path, requirements: Path, install_args: Sequence[str]) -> list[str]:
    return [
        str(python),
        "-m",
        "pip",
        "install",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        "--only-binary",
        ":all:",
        *install_args,
        "-r",
        str(requirements),
    ]


def install(
    python: Path,
    files: Sequence[VettedFile],
    install_args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    allow_sdist: bool = False,
    timeout: float = 3600.0,
) -> subprocess.CompletedProcess[str]:
    """Run pip on exactly ``files``.  Raises :class:`InstallError` if pip fails."""
    if not files:
        raise InstallError("nothing to install")
    with tempfile.TemporaryDirectory(prefix="safe-pip-install-") as tmp:
        req = Path(tmp) / "vetted-requirements.txt"
        req.write_text(requirements_text(files), encoding="utf-8")
        cmd = install_command(python, req, install_args)
        if allow_sdist:
            cmd.remove("--only-binary")
            cmd.remove(":all:")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise InstallError(f"pip install did not finish within {timeout:.0f}s") from exc
        except OSError as exc:
            raise InstallError(f"cannot run pip with {python}: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join(ln for ln in proc.stderr.strip().splitlines()[-5:])
        raise InstallError(
            f"pip install of the vetted files failed (exit {proc.returncode}): {tail}"
        )
    return proc
