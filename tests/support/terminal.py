"""Run the CLI with its output on a pseudo-terminal, to see what a person would see."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path


def run_on_tty(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run the CLI with stdout on a pseudo-terminal and return what it printed."""
    return _run(args, env, cwd, piped_stdout=False)[0]


def run_piped_on_tty(args: list[str], env: dict[str, str]) -> tuple[str, str]:
    """Run the CLI as ``safe-pip ... | tail`` in a terminal: stdout a pipe, stderr the
    terminal.  Returns (what the terminal showed, what went down the pipe)."""
    return _run(args, env, None, piped_stdout=True)


def _run(
    args: list[str], env: dict[str, str], cwd: Path | None, *, piped_stdout: bool
) -> tuple[str, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safe_pip", *args],
        stdout=subprocess.PIPE if piped_stdout else slave,
        stderr=slave,
        env=env,
        cwd=cwd,
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
    piped = proc.communicate(timeout=60)[0] or b""  # small: a pipe's buffer holds it
    os.close(master)
    return b"".join(chunks).decode(errors="replace"), piped.decode()
