"""Test-folder judgements on member locations: the quick answer for names without ``test``
is the full reading's answer."""

from __future__ import annotations

import itertools

import pytest

from safe_pip.scan.core.paths import (
    _TEST_DIRS,
    _TEST_FILE,
    is_test_path,
    member_path,
    package_test_member,
)

ROOT = "/home/u/test-wheels/pkg-1.0-py3-none-any.whl"
"""A wheel in a folder named like a test folder: only the member path counts."""
OWN = frozenset({"pkg", "other"})
SEGMENTS = ["pkg", "other", "tests", "test", "testing", "Tests", "TEST", "contest", "attest",
            "test_x.py", "x_test.py", "conftest.py", "m.py", "testdata", "te\\st",
            "a\\tests"]  # fmt: skip


def _is_test_path(location: str) -> bool:
    """The reading without a shortcut: every folder of the member path, then its name."""
    parts = [p for p in member_path(location).split("/") if p]
    if not parts:
        return False
    return any(p in _TEST_DIRS for p in parts[:-1]) or bool(_TEST_FILE.match(parts[-1]))


def _package_test_member(location: str, wheel_root: str, own: frozenset[str]) -> bool:
    """The wheel's own member, in a test folder below one of its own packages."""
    prefix = f"{wheel_root}!"
    inner = location[len(prefix) :]
    if not wheel_root or not location.startswith(prefix) or "!" in inner:
        return False
    top, *folders = inner.split("/")[:-1] or [""]
    return (
        bool(folders) and top in own and top not in _TEST_DIRS and bool(_TEST_DIRS & set(folders))
    )


def _locations() -> list[str]:
    out = []
    for n in range(1, 4):
        for parts in itertools.product(SEGMENTS, repeat=n):
            inner = "/".join(parts)
            out += [f"{ROOT}!{inner}", f"{ROOT}!{inner}@12", f"{ROOT}!x.zip!{inner}", inner]
    return out


def test_shortcut_agrees_with_the_full_reading() -> None:
    locations = _locations()
    assert len(locations) > 10000
    tests = sum(_is_test_path(loc) for loc in locations)
    members = sum(_package_test_member(loc, ROOT, OWN) for loc in locations)
    assert tests > 1000 and members > 100  # both answers exercised
    for loc in locations:
        assert is_test_path(loc) == _is_test_path(loc), loc
        for root in (ROOT, "", ROOT[:-4]):
            assert package_test_member(loc, root, OWN) == _package_test_member(loc, root, OWN)


@pytest.mark.parametrize(
    ("location", "test", "member"),
    [
        (f"{ROOT}!pkg/tests/data.pkl", True, True),
        (f"{ROOT}!pkg/Tests/data.pkl", False, False),  # folders match case-sensitively
        (f"{ROOT}!pkg/sub/test_x.py", True, False),
        (f"{ROOT}!tests/pkg/data.pkl", True, False),  # a top-level tests folder is not a package
        (f"{ROOT}!pkg/contest/data.pkl", False, False),
        (f"{ROOT}!pkg/data.pkl", False, False),
    ],
)
def test_examples(location: str, test: bool, member: bool) -> None:
    assert is_test_path(location) is test
    assert package_test_member(location, ROOT, OWN) is member
