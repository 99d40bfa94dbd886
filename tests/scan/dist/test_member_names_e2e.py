"""Member names pip installs somewhere else than they read: proven with real pip and Python.

pip joins ``os.path.normpath(name)`` to the scheme folder, so ``./x.pth`` is a top-level
``.pth``; CPython's zipfile ends a name at NUL and, from 3.12 on, takes the Unicode Path
extra field's name. Each case: pip installs the wheel, the interpreter starts, the payload's
marker appears — and the scanner blocks the wheel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scan.dist.realenv import blocked, make_venv, payload
from tests.scan.dist.wheelbytes import with_nul_in_name, with_unicode_path
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def _proves(tmp_path: Path, wheel: Path, minor: int, marker: Path) -> None:
    venv = make_venv(tmp_path, minor)
    venv.install(wheel)
    venv.start()
    assert marker.exists(), f"3.{minor}: the payload did not run, so the test proves nothing"


@pytest.mark.parametrize(
    ("member", "rule"),
    [
        ("./dothook.pth", "WHEEL-PTH-EXEC"),
        ("./sitecustomize.py", "WHEEL-STARTUP-HOOK"),
        ("dothook/./../sitecustomize.py", "WHEEL-STARTUP-HOOK"),
    ],
)
def test_dot_segments_land_at_the_top(tmp_path: Path, member: str, rule: str) -> None:
    marker = tmp_path / "ran"
    body = f"import os; {payload(marker)}\n" if member.endswith(".pth") else payload(marker)
    wheel = build_wheel(
        tmp_path / "dist",
        "dothook",
        files={"dothook/__init__.py": b"", member: body.encode() + b"\n"},
    )
    _proves(tmp_path, wheel, 11, marker)
    assert blocked(wheel, rule)


def test_unicode_path_field_renames_the_member_on_3_12(tmp_path: Path) -> None:
    """Python 3.12+ zipfile takes the 0x7075 name: pip there installs ``uphook.pth``."""
    marker = tmp_path / "ran"
    wheel = with_unicode_path(
        tmp_path / "dist",
        "uphook",
        {"uphook/__init__.py": b"", "uphook/notes.txt": f"import os; {payload(marker)}\n".encode()},
        "uphook/notes.txt",
        "uphook.pth",
    )
    old = make_venv(tmp_path, 11)
    old.install(wheel)
    old.start()
    assert not marker.exists(), "3.11 honoured the field too: then the test explains nothing"
    _proves(tmp_path, wheel, 12, marker)
    assert blocked(wheel, "WHEEL-PTH-EXEC")
    assert blocked(wheel, "ZIP-NAME-MISMATCH")


def test_nul_byte_ends_the_name(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    member = "nulhook.pth\x01/notes.txt"
    wheel = with_nul_in_name(
        tmp_path / "dist",
        "nulhook",
        {"nulhook/__init__.py": b"", member: f"import os; {payload(marker)}\n".encode()},
        member,
    )
    _proves(tmp_path, wheel, 13, marker)
    assert blocked(wheel, "WHEEL-PTH-EXEC")
