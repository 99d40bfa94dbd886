"""Run the CLI with its output on a pseudo-terminal, to see what a person would see."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path


def run_on_tty(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run the CLI with stdout on a pseudo-terminal and return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safe_pip", *args], stdout=slave, stderr=slave, env=env, cwd=cwd
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")
