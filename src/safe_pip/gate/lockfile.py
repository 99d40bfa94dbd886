"""A hash-pinned requirements file from the files one gate run vetted (``safe-pip lock``).

The strict profile wants every artifact pinned by hash; writing those pins by hand, or with a
tool that hashes whatever the index serves, pins files nobody looked at.  A lock written here
pins only files this run fetched, hashed, verified, scanned and allowed under enforcement:
the gate's dry run with ``--ignore-installed`` (every requirement resolved, whatever the
target has), and nothing when anything would be blocked — pilot mode included, since a lock
outlives the pilot.  pip, and ``safe-pip install -r``, then install exactly those bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.gate.state import ArtifactRun


def unlockable(runs: Sequence[ArtifactRun]) -> list[str]:
    """Why these runs cannot be locked, one line each (empty: they can)."""
    reasons = []
    for run in runs:
        art = run.artifact
        if art is None or run.for_build is not None:
            continue
        if run.verdict is not None and run.verdict.would_block:
            rules = ", ".join(dict.fromkeys(f.rule_id for f in run.verdict.would_block))
            reasons.append(
                f"{art.name} {art.version} is allowed only by pilot mode ({rules}); a lock "
                "pins only what enforcement allows"
            )
        elif run.built_from is not None or (art.kind != "wheel" and art.index_url is None):
            reasons.append(
                f"{art.name} {art.version} is built from {run.built_from or art.url}; a lock "
                "pins files an index serves"
            )
    return reasons


_USERINFO = re.compile(r"(\w+://)[^/@\s]+@")


def redact(args: Sequence[str]) -> str:
    """The command's arguments for the header, without credentials in any URL."""
    return " ".join(_USERINFO.sub(r"\1***@", arg) for arg in args)


def render(runs: Sequence[ArtifactRun], *, source: str, target: Path) -> str:
    """The requirements file: ``name==version --hash=sha256:…`` for each installed file."""
    pins = sorted(
        (run for run in runs if run.artifact is not None and run.for_build is None),
        key=lambda run: run.name,
    )
    today = dt.date.today().isoformat()
    lines = [
        f"# Written by safe-pip lock from: {source}",
        f"# Every file below was fetched, verified, scanned and allowed on {today},",
        f"# resolved for {target}. Install exactly these files with:",
        "#   safe-pip install -r THIS-FILE",
    ]
    for run in pins:
        assert run.artifact is not None and run.sha256 is not None  # vetted runs only
        lines.append(f"{run.artifact.name}=={run.artifact.version} \\")
        lines.append(f"    --hash=sha256:{run.sha256}")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` whole or not at all: a blocked or failed lock leaves the old file."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
