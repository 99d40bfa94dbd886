"""Start-up hooks, entry points and shadowing, judged by what executes them (in-process scans).

The real-interpreter proofs of the same readings are in test_startup_hooks_e2e.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from safe_pip.models import Severity, TargetEnvironment
from safe_pip.scan.dist import entrypoints, pth
from safe_pip.scan.dist.shadowing import ownership_from_records

from .wheels import blocks, found, scan_wheel, wheel_bytes

PKG = {"mypkg/__init__.py": b""}


@pytest.mark.parametrize(
    ("raw", "python", "runs"),
    [
        (b"\xef\xbb\xbfimport os\n", (3, 13), True),
        (b"\xef\xbb\xbfimport os\n", (3, 12), False),
        (b"x\x0cimport os\n", (3, 13), True),
        (b"x\x0cimport os\n", (3, 12), False),
        (b"x\xe2\x80\xa8import os\n", (3, 14), True),  # U+2028
        (b"x\rimport os\n", (3, 10), True),  # universal newlines everywhere
        (b"import\tos\n", (3, 11), True),
        (b"  import os\n", (3, 13), False),  # must start the line
        (b"#import os\n", (3, 13), False),
    ],
)
def test_pth_readings(raw: bytes, python: tuple[int, int], runs: bool) -> None:
    assert any(line.runs for line in pth.read_lines(raw, python)) is runs


def test_pth_without_target_takes_every_reading() -> None:
    lines = pth.read_lines(b"\xef\xbb\xbfimport os\n")
    assert [(line.runs, line.readings) for line in lines if line.runs] == [(True, (pth.MODERN,))]


def test_dot_pth_is_skipped_like_site_skips_it(tmp_path: Path) -> None:
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, ".hidden.pth": b"import os\n"}))
    assert found(res, "WHEEL-PTH-EXEC") == []


@pytest.mark.parametrize(
    "member",
    [
        "evil.pth",
        "mypkg-1.0.data/purelib/evil.pth",
        "mypkg-1.0.data/platlib/evil.pth",
        "mypkg-1.0.data/data/lib/python3.12/site-packages/evil.pth",
        "mypkg-1.0.data/data/lib/python3/dist-packages/evil.pth",
    ],
)
def test_pth_in_every_site_directory(tmp_path: Path, member: str) -> None:
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, member: b"import os\n"}))
    assert "WHEEL-PTH-EXEC" in blocks(res)


@pytest.mark.parametrize(
    "files",
    [
        {"x.pth": b"boot\n", "boot/sitecustomize.py": b""},
        {"x.pth": b"./boot/\n", "boot/usercustomize.py": b""},
        {"x.pth": b"boot\n", "boot/sitecustomize/__init__.py": b""},
        {"x.pth": b"../../../share/boot\n", "mypkg-1.0.data/data/share/boot/sitecustomize.py": b""},
        {"x.pth": b"mypkg/../boot\n", "boot/sitecustomize.cpython-311-x86_64-linux-gnu.so": b"\0"},
    ],
)
def test_path_line_to_start_up_module(tmp_path: Path, files: dict[str, bytes]) -> None:
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, **files}))
    assert "WHEEL-STARTUP-HOOK" in blocks(res)


def test_path_line_to_an_ordinary_folder_passes(tmp_path: Path) -> None:
    files = {"x.pth": b"mypkg/vendor\n", "mypkg/vendor/six.py": b""}
    assert blocks(scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, **files}))) == set()


def test_stdlib_folder_of_the_prefix(tmp_path: Path) -> None:
    files = {"mypkg-1.0.data/data/lib/python3.11/json/__init__.py": b""}
    assert "WHEEL-FOREIGN-PACKAGE" in blocks(scan_wheel(tmp_path, wheel_bytes("mypkg", files)))


# -- entry points ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        b"[[console_scripts]]\npip = mypkg:main\n",
        b"[console_scripts]]\npip = mypkg:main\n",
        b"[ console_scripts ]\npip=mypkg:main\n",  # pip's pkg_resources reading (3.10)
    ],
)
def test_entry_point_headers_as_pip_reads_them(text: bytes) -> None:
    assert ("console_scripts", "pip") in {(e.group, e.name) for e in entrypoints.parse(text)}


def test_script_path_for_a_name_blocks(tmp_path: Path) -> None:
    eps = b"[console_scripts]\n../../lib/python3.11/site-packages/sitecustomize.py = mypkg:m\n"
    files = {**PKG, "mypkg-1.0.dist-info/entry_points.txt": eps}
    assert "WHEEL-SCRIPT-SHADOW" in blocks(scan_wheel(tmp_path, wheel_bytes("mypkg", files)))


@pytest.mark.parametrize(("value", "severity"), [("mypkg.plugin", "low"), ("os", "high")])
def test_autoloaded_plugin_group(tmp_path: Path, value: str, severity: str) -> None:
    eps = f"[pytest11]\nmine = {value}\n".encode()
    files = {**PKG, "mypkg/plugin.py": b"", "mypkg-1.0.dist-info/entry_points.txt": eps}
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", files))
    assert [str(s) for s in found(res, "WHEEL-PLUGIN-AUTOLOAD")] == [severity]


def test_plugin_groups_data_has_a_reason_for_each() -> None:
    groups = entrypoints.autoload_groups()
    assert {"pytest11", "torch.backends"} <= set(groups)
    assert all(g.tool and len(g.why) > 20 for g in groups.values())


# -- shadowing against a target -------------------------------------------------------

TARGET = TargetEnvironment(
    python_version=(3, 12),
    owned_paths=ownership_from_records(
        [
            ("protobuf", ["google/protobuf/__init__.py", "google/protobuf/message.py"]),
            ("mpmath", ["mpmath/__init__.py", "mpmath/ctx_base.py"]),
            ("nvidia-cublas", ["nvidia/__init__.py", "nvidia/cublas/lib/libcublas.so"]),
            ("nvidia-cudnn", ["nvidia/__init__.py", "nvidia/cudnn/lib/libcudnn.so"]),
        ]
    ),
    scripts={"torchrun": "torch", "pip": "pip", "python": ""},
    path_commands=frozenset({"sudo", "git"}),
)


@pytest.mark.parametrize(
    "files",
    [
        {"google/protobuf/message.py": b"x = 1\n"},  # overwrites protobuf's file
        {"google/protobuf/extra.py": b""},  # writes into protobuf's package
        {"mpmath/ctx_base.py": b""},  # a package no hand list names
        {"nvidia/cudnn/lib/libcudnn.so": b"\0"},  # per file inside a shared namespace
        {"mypkg-1.0.data/scripts/torchrun": b"#!/bin/sh\n"},
        {"mypkg-1.0.data/scripts/sudo": b"#!/bin/sh\n"},
        {"mypkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\npython = mypkg:m\n"},
    ],
)
def test_shadowing_computed_against_the_target(tmp_path: Path, files: dict[str, bytes]) -> None:
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, **files}), TARGET)
    assert blocks(res) & {"WHEEL-FOREIGN-PACKAGE", "WHEEL-SCRIPT-SHADOW"}, res.findings


def test_shared_namespace_new_subpackage_passes(tmp_path: Path) -> None:
    files = {"google/mylib/__init__.py": b"", "nvidia/mylib/lib/x.so": b"\0"}
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, **files}), TARGET)
    assert blocks(res) == set()


def test_upgrade_of_the_owner_passes(tmp_path: Path) -> None:
    files = {"mpmath/__init__.py": b"", "mpmath/ctx_base.py": b"y = 2\n"}
    res = scan_wheel(tmp_path, wheel_bytes("mpmath", files), TARGET)
    assert blocks(res) == set()


def test_default_environment_covers_a_package_outside_any_hand_list(tmp_path: Path) -> None:
    """Without a target: the shipped data, generated from the pinned wheels' RECORDs."""
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", {**PKG, "torch/__init__.py": b""}))
    assert "WHEEL-FOREIGN-PACKAGE" in blocks(res)


def test_severity_ordering_sanity() -> None:
    assert Severity.LOW < Severity.MEDIUM


def test_environment_digest_changes_with_the_target() -> None:
    from safe_pip.scan.dist.shadowing import environment_digest

    other = TargetEnvironment(python_version=(3, 12), scripts={"torchrun": "torch"})
    assert environment_digest(None) == ""
    assert environment_digest(TARGET) == environment_digest(TARGET)
    assert environment_digest(TARGET) != environment_digest(other)


def test_environment_digest_follows_the_interpreter_not_the_venv_path(tmp_path: Path) -> None:
    """Two venvs of one interpreter share scan results; another interpreter does not."""
    from safe_pip.scan.dist.shadowing import environment_digest

    base, other = tmp_path / "python3.12", tmp_path / "python3.12-other"
    base.write_bytes(b"interpreter")
    other.write_bytes(b"another interpreter")
    envs = []
    for name, target in (("venv-a", base), ("venv-b", base), ("venv-c", other)):
        link = tmp_path / name / "python"
        link.parent.mkdir()
        link.symlink_to(target)
        envs.append(replace(TARGET, python_executable=str(link)))
    a, b, c = (environment_digest(e) for e in envs)
    assert a == b != c
