"""Reading member paths out of locations (``pkg.whl!pkg/tests/data.pkl@12``).

Some judgements depend on where a member sits inside its distribution: a test
suite's data is loaded by the test runner, not by an import.
"""

from __future__ import annotations

import re

_TEST_DIRS = frozenset({"test", "tests", "testing"})
_TEST_FILE = re.compile(r"(?:test_.*|.*_test|conftest)\.py\Z")


def unsafe_member_name(name: str) -> bool:
    """Absolute paths, drive letters and ``..`` segments escape the extraction folder."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return True
    return ".." in norm.split("/")


def member_path(location: str) -> str:
    """The innermost member's path, without container prefix or byte offset."""
    inner = location.rsplit("!", 1)[-1]
    inner = inner.rsplit("@", 1)[0] if "@" in inner else inner
    return inner.replace("\\", "/")


def is_test_path(location: str) -> bool:
    """True for members of a ``tests``/``test``/``testing`` folder or a test module."""
    path = member_path(location)
    if "test" not in path:
        return False  # every test folder and test module name holds it; most members do not
    parts = [p for p in path.split("/") if p]
    if not parts:
        return False
    return any(p in _TEST_DIRS for p in parts[:-1]) or bool(_TEST_FILE.match(parts[-1]))


def package_test_member(location: str, wheel_root: str, own: frozenset[str]) -> bool:
    """A file directly in the wheel at ``<package>/.../tests/...`` (``test``, ``testing``).

    The folder must sit inside one of the wheel's own top-level packages ``own``: a
    top-level ``tests`` folder, the ``.data``/``.dist-info`` folders and members of an
    archive inside the wheel do not count.  Names are taken as the zip spells them (pip
    does not turn a backslash into a folder separator, so neither does this).
    """
    if not wheel_root or not location.startswith(wheel_root):
        return False
    inner = location[len(wheel_root) :]
    if inner[:1] != "!" or "test" not in inner:
        return False  # not the wheel's own member; no test folder (most members)
    inner = inner[1:]
    if "!" in inner:
        return False
    parts = inner.split("/")
    return (
        len(parts) >= 3
        and parts[0] in own
        and parts[0] not in _TEST_DIRS
        and any(p in _TEST_DIRS for p in parts[1:-1])
    )
