"""The seed attack as real bytes: a pickle that would run a command, inside a real wheel.

Written from raw opcodes (no ``pickle.dumps`` of a real object), so nothing runs while the
fixture is made; if anything ever unpickled it, the command would create ``marker``, and
every test that uses it asserts the marker is absent.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.support.wheels import build_wheel


def evil_pickle(marker: Path) -> bytes:
    """Protocol-2 pickle calling os.system(f"touch {marker}"), written from raw opcodes."""
    cmd = f"touch {marker}".encode()
    return (
        b"\x80\x02"
        + b"cos\nsystem\n"
        + b"X"
        + struct.pack("<I", len(cmd))
        + cmd
        + b"\x85"  # TUPLE1
        + b"R"  # REDUCE
        + b"."
    )


def evil_wheel(tmp: Path, marker: Path, name: str = "modelzoo", version: str = "1.0") -> Path:
    """A wheel whose ``model.pt`` is :func:`evil_pickle` (the ``torchvision-optimized`` shape)."""
    mod = name.replace("-", "_")
    return build_wheel(
        tmp,
        name,
        version,
        {
            f"{mod}/__init__.py": b"",
            f"{mod}/model.pt": evil_pickle(marker),
        },
    )
