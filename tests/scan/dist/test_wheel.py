"""Wheel layout rules on wheels built here; real wheels stay clean (see test_popular_wheels)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from safe_pip.scan.dist.pth import PTH_ALLOWED

from tests.scan.formats.helpers import blocking, rules, scan_bytes, zip_bytes

FIXTURE_WHEELS = Path(__file__).resolve().parents[2] / "fixtures" / "wheels"


def _wheel(
    dist: str, files: dict[str, bytes], *, record: bool = True, tamper: str | None = None
) -> bytes:
    di = f"{dist}-1.0.dist-info"
    files = dict(files)
    files[f"{di}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
    files[f"{di}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n".encode()
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{di}/RECORD,,")
    if record:
        files[f"{di}/RECORD"] = ("\n".join(rows) + "\n").encode()
    if tamper:
        files[tamper] = files[tamper] + b"\n# changed after build\n"
    return zip_bytes(files)


GOOD = {"mypkg/__init__.py": b"VERSION = '1.0'\n", "mypkg/model.py": b"def f():\n    return 1\n"}


def test_clean_wheel_passes(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "mypkg-1.0-py3-none-any.whl", _wheel("mypkg", GOOD))
    assert res.findings == () and res.inventory.get("wheel") == 1


def test_wheel_is_detected_by_content_not_name(tmp_path: Path) -> None:
    data = _wheel("mypkg", {**GOOD, "evil.pth": b"import os; os.system('id')\n"})
    assert "WHEEL-PTH-EXEC" in rules(scan_bytes(tmp_path, "innocent.zip", data))


def test_pth_import_line_blocks(tmp_path: Path) -> None:
    data = _wheel("mypkg", {**GOOD, "mypkg.pth": b"/some/path\nimport mypkg._boot\n"})
    assert "WHEEL-PTH-EXEC" in rules(scan_bytes(tmp_path, "w.whl", data))


def test_pth_path_lines_pass(tmp_path: Path) -> None:
    data = _wheel("mypkg", {**GOOD, "mypkg.pth": b"# comment\nmypkg/vendor\n"})
    assert blocking(scan_bytes(tmp_path, "w.whl", data)) == set()


def test_setuptools_distutils_precedence_is_allowed(tmp_path: Path) -> None:
    line = next(iter(PTH_ALLOWED)).encode() + b"\n"
    data = _wheel(
        "setuptools",
        {
            "distutils-precedence.pth": line,
            "_distutils_hack/__init__.py": b"",
            "setuptools/__init__.py": b"",
        },
    )
    assert blocking(scan_bytes(tmp_path, "w.whl", data)) == set()


def test_nspkg_pth_is_allowed(tmp_path: Path) -> None:
    line = (
        "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join("
        "sys._getframe(1).f_locals['sitedir'], *('google', 'cloud'));importlib = has_mfs and "
        "__import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs "
        "and sys.modules.setdefault('google.cloud', importlib.util.module_from_spec("
        "importlib.machinery.PathFinder.find_spec('google.cloud', [os.path.dirname(p)])));"
        "m = m or sys.modules.setdefault('google.cloud', types.ModuleType('google.cloud'));"
        "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n"
    )
    data = _wheel(
        "google-cloud-x",
        {"google_cloud_x-1.0-py3.9-nspkg.pth": line.encode(), "google/cloud/x/__init__.py": b""},
    )
    assert blocking(scan_bytes(tmp_path, "w.whl", data)) == set()


@pytest.mark.parametrize(
    ("files", "rule"),
    [
        ({"sitecustomize.py": b"print(1)\n"}, "WHEEL-STARTUP-HOOK"),
        ({"mypkg-1.0.data/purelib/usercustomize.py": b""}, "WHEEL-STARTUP-HOOK"),
        ({"torch/__init__.py": b""}, "WHEEL-FOREIGN-PACKAGE"),
        ({"pip/_internal/cli/main.py": b""}, "WHEEL-FOREIGN-PACKAGE"),
        ({"json/__init__.py": b""}, "WHEEL-FOREIGN-PACKAGE"),
        ({"mypkg-1.0.data/scripts/pip": b"#!python\n"}, "WHEEL-SCRIPT-SHADOW"),
        ({"mypkg-1.0.data/scripts/ls": b"#!/bin/sh\n"}, "WHEEL-SCRIPT-SHADOW"),
        (
            {"mypkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\npython3 = mypkg:main\n"},
            "WHEEL-SCRIPT-SHADOW",
        ),
        (
            {"mypkg-1.0.data/data/lib/python3.11/site-packages/x.pth": b"import evil\n"},
            "WHEEL-PTH-EXEC",
        ),
    ],
)
def test_layout_rules(tmp_path: Path, files: dict[str, bytes], rule: str) -> None:
    assert rule in rules(scan_bytes(tmp_path, "w.whl", _wheel("mypkg", {**GOOD, **files})))


def test_own_console_script_passes(tmp_path: Path) -> None:
    files = {
        **GOOD,
        "mypkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\nmypkg = mypkg:main\n",
    }
    assert blocking(scan_bytes(tmp_path, "w.whl", _wheel("mypkg", files))) == set()


def test_record_tampering_blocks(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "w.whl", _wheel("mypkg", GOOD, tamper="mypkg/model.py"))
    assert "WHEEL-RECORD-MISMATCH" in rules(res)


def test_missing_record_blocks(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "w.whl", _wheel("mypkg", GOOD, record=False))
    assert "WHEEL-RECORD-MISMATCH" in rules(res)


def test_file_not_in_record_blocks(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO(_wheel("mypkg", GOOD))
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("mypkg/extra.py", b"x = 1\n")
    res = scan_bytes(tmp_path, "w.whl", buf.getvalue())
    finding = next(f for f in res.findings if f.rule_id == "WHEEL-RECORD-MISMATCH")
    assert "mypkg/extra.py: not listed in RECORD" in finding.detail["problems"]


@pytest.mark.parametrize("wheel", sorted(FIXTURE_WHEELS.glob("*.whl")), ids=lambda p: p.name)
def test_real_fixture_wheels_have_no_blocking_findings(wheel: Path, tmp_path: Path) -> None:
    assert blocking(scan_bytes(tmp_path, wheel.name, wheel.read_bytes())) == set()
