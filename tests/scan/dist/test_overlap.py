"""Two wheels of one install writing one file: the criterion, on real wheel files.

pip installs the wheels of a run one after another and lets the last one overwrite; these
tests pin down which destinations count (pip's scheme mapping, the scripts it generates),
that only different content does, and that anything unreadable counts as different. The
same destinations are checked against pip's own account (the RECORDs it writes) in
test_overlap_pip_oracle.py; the gate's use of it in tests/gate/test_overlap_e2e.py.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from safe_pip.models import Severity
from safe_pip.rules import get_rule
from safe_pip.scan.dist.overlap import RULE, Overlap, case_insensitive, findings, overlaps

from .wheelbytes import with_unicode_path
from .wheels import wheel_bytes

EVIL = b"import os\nos.system('id')\n"
REAL = b"__version__ = '2.32'\n"


def whl(tmp_path: Path, dist: str, files: dict[str, bytes], *, record: bool = True) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{dist}-1.0-py3-none-any.whl"
    path.write_bytes(wheel_bytes(dist, files))
    if not record:
        _rewrite(path, lambda name, data: _drop_rows(data, files) if "RECORD" in name else data)
    return path


def _drop_rows(record: bytes, files: dict[str, bytes]) -> bytes:
    rows = record.decode().splitlines()
    return ("\n".join(r for r in rows if r.split(",", 1)[0] not in files) + "\n").encode()


def _rewrite(path: Path, edit: object) -> None:
    assert callable(edit)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info)))
    tmp.replace(path)


def pair(
    tmp_path: Path,
    a: dict[str, bytes],
    b: dict[str, bytes],
    *,
    fold_case: bool = False,
    python: tuple[int, int] | None = (3, 12),
) -> list[Overlap]:
    wheels = {p.name: p for p in (whl(tmp_path, "helper", a), whl(tmp_path, "requests", b))}
    found, unreadable = overlaps(wheels, python=python, fold_case=fold_case)
    assert unreadable == []
    return found


def paths(found: list[Overlap]) -> set[tuple[str, str]]:
    return {(o.kind, o.path) for o in found}


def test_same_path_different_bytes_is_an_overlap(tmp_path: Path) -> None:
    found = pair(tmp_path, {"requests/__init__.py": EVIL}, {"requests/__init__.py": REAL})
    assert paths(found) == {("site", "requests/__init__.py")}
    assert found[0].wheels == ("helper-1.0-py3-none-any.whl", "requests-1.0-py3-none-any.whl")
    assert len({w.content for w in found[0].writes}) == 2


@pytest.mark.parametrize(
    "files",
    [
        {"ns/__init__.py": b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"},
        {"requests/py.typed": b""},
    ],
)
def test_identical_bytes_are_not_an_overlap(tmp_path: Path, files: dict[str, bytes]) -> None:
    assert pair(tmp_path, {**files, "helper/__init__.py": b""}, dict(files)) == []


def test_a_shared_namespace_folder_is_not_an_overlap(tmp_path: Path) -> None:
    a = {"ns/helper/__init__.py": EVIL}
    b = {"ns/requests/__init__.py": REAL}
    assert pair(tmp_path, a, b) == []


@pytest.mark.parametrize(
    "member",
    [
        "helper-1.0.data/purelib/requests/__init__.py",
        "helper-1.0.data/platlib/requests/__init__.py",
        "helper-1.0.data/data/lib/python3.12/site-packages/requests/__init__.py",
        "./requests/__init__.py",
        "helper/../requests/__init__.py",
    ],
)
def test_every_scheme_pip_maps_to_site_packages(tmp_path: Path, member: str) -> None:
    found = pair(tmp_path, {member: EVIL}, {"requests/__init__.py": REAL})
    assert paths(found) == {("site", "requests/__init__.py")}
    assert {w.source for w in found[0].writes} == {member, "requests/__init__.py"}


def test_scripts_scheme(tmp_path: Path) -> None:
    a = {"helper-1.0.data/scripts/tool": b"#!python\nprint('a')\n"}
    b = {"requests-1.0.data/data/bin/tool": b"#!/bin/sh\necho b\n"}
    assert paths(pair(tmp_path, a, b)) == {("script", "tool")}


def eps(text: str) -> dict[str, bytes]:
    return {"helper/__init__.py": b"", "helper-1.0.dist-info/entry_points.txt": text.encode()}


def test_generated_scripts(tmp_path: Path) -> None:
    """pip writes a script for each console entry point: another wheel's file of that name,
    or another value under that name, is an overlap; the same value is the same script."""
    mine = "[console_scripts]\ntool = helper:main\n"
    assert paths(pair(tmp_path, eps(mine), {"requests-1.0.data/scripts/tool": b"x"})) == {
        ("script", "tool")
    }
    theirs = {"requests-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntool = req:m\n"}
    assert paths(pair(tmp_path / "2", eps(mine), theirs)) == {("script", "tool")}
    same = {"requests-1.0.dist-info/entry_points.txt": mine.encode()}
    assert pair(tmp_path / "3", eps(mine), same) == []


def test_a_script_named_like_the_wheels_own_entry_point_is_dropped_as_pip_drops_it(
    tmp_path: Path,
) -> None:
    a = {**eps("[console_scripts]\ntool = helper:main\n"), "helper-1.0.data/scripts/tool": b"x"}
    b = {"requests-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntool = helper:main\n"}
    assert pair(tmp_path, a, b) == []


def test_pips_versioned_wrappers(tmp_path: Path) -> None:
    """A ``pip`` entry point makes pip write ``pip3`` and ``pip3.Y`` of the target too."""
    a = eps("[console_scripts]\npip = helper:main\n")
    b = {"requests-1.0.data/scripts/pip3.12": b"#!python\n"}
    assert paths(pair(tmp_path, a, b, python=(3, 12))) == {("script", "pip3.12")}
    assert pair(tmp_path / "2", a, b, python=(3, 11)) == []


def test_headers_go_into_a_folder_per_distribution(tmp_path: Path) -> None:
    a = {"helper-1.0.data/headers/config.h": b"#define A 1\n"}
    b = {"requests-1.0.data/headers/config.h": b"#define B 1\n"}
    assert pair(tmp_path, a, b) == []


def test_case_is_compared_as_the_file_system_compares_it(tmp_path: Path) -> None:
    """Linux: ``Foo.py`` and ``foo.py`` are two files; a case-folding file system (macOS,
    Windows) writes the second over the first."""
    a, b = {"requests/Api.py": EVIL}, {"requests/api.py": REAL}
    assert pair(tmp_path, a, b) == []
    assert paths(pair(tmp_path / "2", a, b, fold_case=True)) == {("site", "requests/Api.py")}


def test_case_sensitivity_is_probed_on_the_real_folder(tmp_path: Path) -> None:
    folder = tmp_path / "Target"
    folder.mkdir()
    folded = (tmp_path / "tARGET").exists()
    assert case_insensitive(folder) is folded
    assert case_insensitive(tmp_path / "gone" / "Missing") is folded  # its nearest ancestor


def test_without_a_record_row_the_bytes_are_hashed(tmp_path: Path) -> None:
    a = whl(tmp_path, "helper", {"requests/__init__.py": EVIL}, record=False)
    b = whl(tmp_path, "requests", {"requests/__init__.py": REAL}, record=False)
    c = whl(tmp_path / "c", "other", {"requests/__init__.py": REAL}, record=False)
    assert b"requests/__init__.py" not in zipfile.ZipFile(a).read("helper-1.0.dist-info/RECORD")
    assert paths(overlaps({p.name: p for p in (a, b)})[0]) == {("site", "requests/__init__.py")}
    assert overlaps({p.name: p for p in (b, c)})[0] == []


def test_a_record_that_lies_does_not_hide_an_overlap(tmp_path: Path) -> None:
    """RECORD claims the real file's hash; pip writes the bytes, and they differ."""
    real = whl(tmp_path, "requests", {"requests/__init__.py": REAL})
    evil = whl(tmp_path, "helper", {"requests/__init__.py": EVIL})
    honest = zipfile.ZipFile(real).read("requests-1.0.dist-info/RECORD").decode()
    row = next(r for r in honest.splitlines() if r.startswith("requests/__init__.py,"))
    _rewrite(
        evil,
        lambda name, data: (
            b"\n".join(
                row.encode() if line.startswith(b"requests/__init__.py,") else line
                for line in data.splitlines()
            )
            if name.endswith("RECORD")
            else data
        ),
    )
    assert row.encode() in zipfile.ZipFile(evil).read("helper-1.0.dist-info/RECORD")
    assert paths(overlaps({p.name: p for p in (evil, real)})[0]) == {
        ("site", "requests/__init__.py")
    }


def test_a_name_from_the_unicode_path_field_counts(tmp_path: Path) -> None:
    """Python 3.12+'s zipfile (so pip there) installs the member under the field's name."""
    evil = with_unicode_path(
        tmp_path / "a", "helper", {"helper/x.py": EVIL}, "helper/x.py", "requests/__init__.py"
    )
    real = whl(tmp_path, "requests", {"requests/__init__.py": REAL})
    found, _ = overlaps({evil.name: evil, real.name: real})
    assert paths(found) == {("site", "requests/__init__.py")}


def test_an_unreadable_member_counts_as_different(tmp_path: Path) -> None:
    """Its data is damaged: zipfile (so pip) refuses it; never taken for identical."""
    a = whl(tmp_path, "helper", {"requests/__init__.py": REAL})
    b = whl(tmp_path, "requests", {"requests/__init__.py": REAL})
    assert overlaps({a.name: a, b.name: b})[0] == []
    raw = bytearray(a.read_bytes())
    with zipfile.ZipFile(a) as zf:
        info = zf.getinfo("requests/__init__.py")
    raw[info.header_offset + 30 + len(info.filename) + len(info.extra)] ^= 0xFF
    a.write_bytes(bytes(raw))
    found, _ = overlaps({a.name: a, b.name: b})
    assert [w.content is None for w in found[0].writes] == [True, False]


def test_a_member_above_the_cap_counts_as_different(tmp_path: Path) -> None:
    a = whl(tmp_path, "helper", {"requests/__init__.py": REAL})
    b = whl(tmp_path, "requests", {"requests/__init__.py": REAL})
    found, _ = overlaps({a.name: a, b.name: b}, max_member_bytes=len(REAL) - 1)
    assert paths(found) == {("site", "requests/__init__.py")}


def test_a_wheel_that_cannot_be_listed_is_a_finding(tmp_path: Path) -> None:
    good = whl(tmp_path, "requests", {"requests/__init__.py": REAL})
    bad = tmp_path / "helper-1.0-py3-none-any.whl"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    found, unreadable = overlaps({good.name: good, bad.name: bad})
    assert found == [] and [u.wheel for u in unreadable] == [bad.name]
    (finding,) = findings(found, unreadable)[bad.name]
    assert finding.rule_id == RULE and finding.severity is Severity.HIGH


def test_the_finding_names_both_wheels_and_the_path(tmp_path: Path) -> None:
    found = pair(tmp_path, {"requests/__init__.py": EVIL}, {"requests/__init__.py": REAL})
    out = findings(found, [])
    assert set(out) == {"helper-1.0-py3-none-any.whl", "requests-1.0-py3-none-any.whl"}
    (mine,) = out["helper-1.0-py3-none-any.whl"]
    assert mine.rule_id == RULE and mine.severity is Severity.HIGH
    assert mine.location == "helper-1.0-py3-none-any.whl!requests/__init__.py"
    assert "requests-1.0-py3-none-any.whl" in mine.message
    assert "'requests/__init__.py'" in mine.message
    assert mine.detail["wheels"] == list(found[0].wheels)
    rule = get_rule(RULE)
    assert rule is not None and rule.severity is Severity.HIGH


def test_three_wheels_one_path(tmp_path: Path) -> None:
    wheels = {
        p.name: p
        for p in (
            whl(tmp_path, "a", {"x/__init__.py": b"1"}),
            whl(tmp_path, "b", {"x/__init__.py": b"1"}),
            whl(tmp_path, "c", {"x/__init__.py": b"2"}),
        )
    }
    (found,), _ = overlaps(wheels)
    assert len(found.wheels) == 3
    assert len(findings([found], [])) == 3


REQUESTS = {"requests/__init__.py": REAL, "requests/adapters.py": b"class HTTPAdapter: ...\n"}


@pytest.mark.parametrize(
    ("member", "kind", "into"),
    [
        # the same module by another file: a package folder is imported before a module,
        # an extension module before source
        ("requests/adapters/__init__.py", "module", "requests/adapters.py"),
        ("requests/adapters.cpython-311-x86_64-linux-gnu.so", "module", "requests/adapters.py"),
        # new code in another's package, as WHEEL-FOREIGN-PACKAGE judges installed owners
        ("requests/extra.py", "package", "requests"),
    ],
)
def test_code_by_another_path_in_another_wheels_package(
    tmp_path: Path, member: str, kind: str, into: str
) -> None:
    found = pair(tmp_path, {"helper/__init__.py": b"", member: EVIL}, REQUESTS)
    both = {(kind, member, into), (kind, into, member)}  # a module clash is on both sides
    assert {(o.kind, o.path, o.into) for o in found} == (
        both if kind == "module" else {(kind, member, into)}
    )
    (mine,) = findings(found, [])["helper-1.0-py3-none-any.whl"]
    assert "requests-1.0-py3-none-any.whl" in mine.message and member in mine.message
    assert mine.location == f"helper-1.0-py3-none-any.whl!{member}"


def test_a_byte_identical_init_does_not_hide_a_module_taken_over(tmp_path: Path) -> None:
    """Copying the owner's ``__init__.py`` exactly makes the root shared (judged per file),
    but ``requests/adapters/__init__.py`` is still the module ``requests.adapters``."""
    a = {"requests/__init__.py": REAL, "requests/adapters/__init__.py": EVIL}
    found = pair(tmp_path, a, REQUESTS)
    assert {(o.kind, o.path, o.into) for o in found} == {
        ("module", "requests/adapters/__init__.py", "requests/adapters.py"),
        ("module", "requests/adapters.py", "requests/adapters/__init__.py"),
    }
    assert set(findings(found, [])) == {
        "helper-1.0-py3-none-any.whl",
        "requests-1.0-py3-none-any.whl",
    }


def test_a_package_over_a_top_level_module(tmp_path: Path) -> None:
    found = pair(tmp_path, {"six/__init__.py": EVIL}, {"six.py": REAL})
    assert {(o.kind, o.path) for o in found} == {
        ("module", "six/__init__.py"),
        ("module", "six.py"),
    }


def test_a_root_both_wheels_claim_is_judged_per_file(tmp_path: Path) -> None:
    """pkgutil-style namespaces (``backports/__init__.py`` in every backports.* wheel)."""
    ns = b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    a = {"backports/__init__.py": ns, "backports/a/__init__.py": EVIL}
    b = {"backports/__init__.py": ns, "backports/b/__init__.py": REAL}
    assert pair(tmp_path, a, b) == []
