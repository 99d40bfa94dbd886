"""Where pip puts a member, by pip's own reading of the name (fast, no pip)."""

from __future__ import annotations

import pytest

from safe_pip.scan.dist.layout import installed_names, place


@pytest.mark.parametrize(
    ("name", "kind", "path"),
    [
        ("./x.pth", "site", "x.pth"),
        ("pkg/../x.pth", "site", "x.pth"),
        ("pkg//x.py", "site", "pkg/x.py"),
        ("p-1.0.data/purelib/./x.pth", "site", "x.pth"),
        ("p-1.0.data/purelib/../scripts/pip", "script", "pip"),
        ("p-1.0.data/data/a/../../purelib/x.pth", "site", "x.pth"),
        ("./p-1.0.data/purelib/x.pth", "site", "p-1.0.data/purelib/x.pth"),
        ("./p-1.0.dist-info/entry_points.txt", "meta", "p-1.0.dist-info/entry_points.txt"),
    ],
)
def test_place_reads_names_as_pip_joins_them(name: str, kind: str, path: str) -> None:
    where = place(name)
    assert where is not None
    assert (where.kind, where.path) == (kind, path)


@pytest.mark.parametrize("name", ["../x.pth", "/x.pth", "pkg/../../x.pth", "p-1.0.data/x"])
def test_names_pip_refuses_land_nowhere(name: str) -> None:
    where = place(name)
    assert where is None or where.kind == "meta"


def test_installed_names() -> None:
    assert installed_names("x.pth\x00/junk") == ("x.pth",)
    assert installed_names("pkg\\x.pth") == ("pkg/x.pth",)
    assert installed_names("plain.py") == ()


@pytest.mark.parametrize(
    ("name", "names"),
    [
        ("pkg/x.py", ()),
        ("pkg/x.py\x00", ("pkg/x.py",)),
        ("\x00", ("",)),
        ("a\\b\x00c\\d", ("a/b", "a\\b")),
        ("a\\b\\c", ("a/b/c",)),
    ],
)
def test_installed_names_besides_the_name(name: str, names: tuple[str, ...]) -> None:
    assert installed_names(name) == names
