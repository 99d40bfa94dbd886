"""Run the real ``safe-pip`` command in a subprocess, the way a user or CI job does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def safe_pip(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m safe_pip ARGS``, without colour unless ``env`` says otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "safe_pip", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or dict(os.environ, NO_COLOR="1"),
        timeout=300,
    )
