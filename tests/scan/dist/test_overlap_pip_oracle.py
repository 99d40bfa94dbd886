"""pip itself says which files two wheels both write: the RECORDs it leaves in a real venv.

Every case is a pair of wheels with different bytes at the destinations in question; all
pairs go into one fresh venv with one real pip run (``--no-deps``), and pip's RECORD of each
distribution lists every file pip wrote for it, generated scripts and headers included. A
pair overlaps by pip's account exactly when their RECORDs share a path;
:func:`~safe_pip.scan.dist.overlap.overlaps` must say the same for every case, so the
scheme mapping, the generated scripts and the dropped wrappers are pip's, not a guess.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safe_pip.scan.dist.overlap import case_insensitive, overlaps
from tests.scan.dist.realenv import make_venv
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

Files = dict[str, bytes]


def ep(dist: str, text: str) -> Files:
    return {f"{dist}-1.0.dist-info/entry_points.txt": text.encode()}


def cases(py: str) -> list[tuple[str, Files, Files]]:
    """(label, files of ``oraN``, files of ``orbN``); ``{a}``/``{b}``/``{i}`` are filled in."""
    return [
        ("root", {"p{i}/x.py": b"a"}, {"p{i}/x.py": b"b"}),
        ("purelib", {"p{i}/x.py": b"a"}, {"{b}-1.0.data/purelib/p{i}/x.py": b"b"}),
        ("platlib", {"{a}-1.0.data/platlib/p{i}/x.py": b"a"}, {"p{i}/x.py": b"b"}),
        (
            "data into site-packages",
            {f"{{a}}-1.0.data/data/lib/python{py}/site-packages/p{{i}}/x.py": b"a"},
            {"p{i}/x.py": b"b"},
        ),
        ("scripts", {"{a}-1.0.data/scripts/tool{i}": b"a"}, {"{b}-1.0.data/scripts/tool{i}": b"b"}),
        (
            "data into bin",
            {"{a}-1.0.data/data/bin/tool{i}": b"a"},
            {"{b}-1.0.data/scripts/tool{i}": b"b"},
        ),
        (
            "script vs entry point",
            {"{a}-1.0.data/scripts/tool{i}": b"a"},
            {"ep": b"[console_scripts]\ntool{i} = q:main\n"},
        ),
        (
            "two entry points",
            {"ep": b"[console_scripts]\ntool{i} = p:main\n"},
            {"ep": b"[console_scripts]\ntool{i} = q:main\n"},
        ),
        (
            "wrapper dropped",
            {
                "ep": b"[console_scripts]\ntool{i} = p:main\n",
                "{a}-1.0.data/scripts/tool{i}-script.py": b"a",
            },
            {"{b}-1.0.data/scripts/tool{i}-script.py": b"b"},
        ),
        ("headers", {"{a}-1.0.data/headers/h{i}.h": b"a"}, {"{b}-1.0.data/headers/h{i}.h": b"b"}),
        ("namespace", {"ns{i}/a/x.py": b"a"}, {"ns{i}/b/x.py": b"b"}),
        ("case", {"p{i}/Foo.py": b"a"}, {"p{i}/foo.py": b"b"}),
        (
            "prefix",
            {"{a}-1.0.data/data/share/d{i}/f.txt": b"a"},
            {"{b}-1.0.data/data/share/d{i}/f.txt": b"b"},
        ),
    ]


def build(out: Path, dist: str, files: Files, i: int) -> Path:
    made: Files = {}
    for name, data in files.items():
        text = data.decode().replace("{i}", str(i))
        if name == "ep":
            made.update(ep(dist, text))
        else:
            made[name.format(a=dist, b=dist, i=i)] = text.encode()
    made.setdefault(f"{dist}/__init__.py", b"")
    return build_wheel(out, dist, "1.0", made)


def recorded(site: Path, dist: str) -> set[str]:
    (info,) = site.glob(f"{dist}-1.0.dist-info")
    out = set()
    for line in (info / "RECORD").read_text().splitlines():
        rel = line.rsplit(",", 2)[0]
        if ".dist-info/" in rel or rel.endswith(".pyc"):
            continue
        out.add(os.path.normpath(site / rel))
    return out


def test_overlaps_agree_with_the_files_pip_writes(tmp_path: Path) -> None:
    venv = make_venv(tmp_path, 11)
    site = venv.root / "lib" / "python3.11" / "site-packages"
    table = cases("3.11")
    pairs = [
        (label, build(tmp_path / "w", f"ora{i}", a, i), build(tmp_path / "w", f"orb{i}", b, i))
        for i, (label, a, b) in enumerate(table)
    ]
    venv.install(*(w for _, a, b in pairs for w in (a, b)))
    fold = case_insensitive(site)
    assert not fold  # the cases below are Linux's reading (Foo.py and foo.py are two files)
    got, want = {}, {}
    for i, (label, a, b) in enumerate(pairs):
        want[label] = sorted(recorded(site, f"ora{i}") & recorded(site, f"orb{i}"))
        found, unreadable = overlaps({a.name: a, b.name: b}, python=(3, 11), fold_case=fold)
        assert unreadable == []
        got[label] = bool(found)
    assert got == {label: bool(paths) for label, paths in want.items()}, want
    # and the table is not one-sided: pip writes shared files in most cases, not in all
    assert {label for label, hit in got.items() if not hit} == {
        "wrapper dropped",
        "headers",
        "namespace",
        "case",
    }
