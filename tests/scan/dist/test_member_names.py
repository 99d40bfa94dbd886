"""The scanner judges a member under every name pip may install it as (fast: no pip).

The same wheels are installed and run for real in ``test_member_names_e2e.py``.
"""

from __future__ import annotations

from pathlib import Path

from safe_pip.scan.core.engine import scan_path
from tests.scan.dist.wheelbytes import with_nul_in_name, with_unicode_path
from tests.support.wheels import build_wheel

HOOK = b"import os; os.system('id')\n"


def _rules(wheel: Path) -> set[str]:
    return {f.rule_id for f in scan_path(wheel).findings if f.severity.name != "LOW"}


def test_dot_slash_pth(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "a", files={"a/__init__.py": b"", "./a.pth": HOOK})
    assert "WHEEL-PTH-EXEC" in _rules(wheel)


def test_unicode_path_field(tmp_path: Path) -> None:
    files = {"b/__init__.py": b"", "b/notes.txt": HOOK}
    wheel = with_unicode_path(tmp_path, "b", files, "b/notes.txt", "b.pth")
    assert {"WHEEL-PTH-EXEC", "ZIP-NAME-MISMATCH"} <= _rules(wheel)


def test_unicode_path_field_ignored_when_its_crc_is_another_names(tmp_path: Path) -> None:
    """zipfile ignores a field whose CRC does not match the raw name: so does the reader."""
    files = {"c/__init__.py": b"", "c/notes.txt": HOOK}
    wheel = with_unicode_path(tmp_path, "c", files, "c/notes.txt", "c.pth")
    data = bytearray(wheel.read_bytes())
    at = data.rfind(b"c.pth") - 4  # the CRC just before the name, in the central directory
    data[at] ^= 0xFF
    wheel.write_bytes(bytes(data))
    assert "WHEEL-PTH-EXEC" not in _rules(wheel)


def test_nul_in_name(tmp_path: Path) -> None:
    member = "d.pth\x01/x.txt"
    wheel = with_nul_in_name(tmp_path, "d", {"d/__init__.py": b"", member: HOOK}, member)
    assert "WHEEL-PTH-EXEC" in _rules(wheel)


def test_entry_points_under_a_dot_path_are_read(tmp_path: Path) -> None:
    """pip copies ``./d-1.0.dist-info/entry_points.txt`` into the installed dist-info, where
    importlib.metadata reads it at run time."""
    eps = b"[pytest11]\nx = evil_elsewhere\n"
    wheel = build_wheel(
        tmp_path, "e", files={"e/__init__.py": b"", "./e-1.0.dist-info/entry_points.txt": eps}
    )
    assert "WHEEL-PLUGIN-AUTOLOAD" in _rules(wheel)
