"""Unit tests: pip command classification, shebang reading, shim files, shell snippets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.enforce import discover, shells, shims
from safe_pip.enforce.argv import classify, python_m_pip
from safe_pip.errors import SafePipError


@pytest.mark.parametrize(
    ("args", "kind", "install_args", "python"),
    [
        (["install", "x"], "gate", ("x",), None),
        (["-q", "--python", "/p", "install", "-r", "r.txt"], "gate", ("-q", "-r", "r.txt"), "/p"),
        (["--python=/p", "install", "x"], "gate", ("x",), "/p"),
        (["--log", "install", "install", "x"], "gate", ("--log", "install", "x"), None),
        (["-vv", "install", "x"], "gate", ("-vv", "x"), None),
        (["list"], "pass", (), None),
        (["freeze"], "pass", (), None),
        (["uninstall", "-y", "x"], "pass", (), None),
        (["show", "install"], "pass", (), None),
        (["install", "--help"], "pass", (), None),
        (["-V"], "pass", (), None),
        ([], "pass", (), None),
        # an unknown short option may take a value: unsure, and install is mentioned -> gate
        (["-Z", "foo", "install", "x"], "gate", ("-Z", "foo", "x"), None),
        (["download", "-d", "out", "x"], "vet-then-pass", ("x",), None),
        (["wheel", "-wout", "x"], "vet-then-pass", ("x",), None),
    ],
)
def test_classify(
    args: list[str], kind: str, install_args: tuple[str, ...], python: str | None
) -> None:
    route = classify(args, gate_download=True)
    assert (route.kind, route.install_args, route.python) == (kind, install_args, python)


def test_download_passes_unless_gated() -> None:
    assert classify(["download", "x"]).kind == "pass"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-m", "pip", "install", "x"], ("install", "x")),
        (["-mpip", "list"], ("list",)),
        (["-I", "-m", "pip", "install", "x"], ("install", "x")),
        (["-X", "dev", "-m", "pip"], ()),
        (["-c", "import pip"], None),
        (["script.py", "-m", "pip"], None),
        (["-m", "pipx"], None),
        (["-m", "venv", "pip"], None),
    ],
)
def test_python_m_pip(args: list[str], expected: tuple[str, ...] | None) -> None:
    assert python_m_pip(args) == expected


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_interpreter_from_shebangs(tmp_path: Path) -> None:
    plain = _script(tmp_path / "pip", "#!/venv/bin/python3.11\nimport sys\n")
    assert discover.interpreter_of(plain) == Path("/venv/bin/python3.11")
    long = _script(
        tmp_path / "pip3",
        "#!/bin/sh\n'''exec' \"/a long/path/bin/python\" \"$0\" \"$@\"\n' '''\n",
    )
    assert discover.interpreter_of(long) == Path("/a long/path/bin/python")


def test_find_real_skips_shims_and_shim_dirs(tmp_path: Path) -> None:
    shim_dir, other, real = tmp_path / "shims", tmp_path / "other", tmp_path / "real"
    for d in (shim_dir, other, real):
        d.mkdir()
    shims.install(shim_dir, names=("pip",))
    _script(other / "pip", f"#!/bin/sh\n# {discover.SHIM_MARKER.decode()}\n")
    _script(real / "pip", "#!/usr/bin/python3\n")
    path = os.pathsep.join(map(str, (shim_dir, other, real)))
    assert discover.find_real("pip", path_env=path, skip_dirs=(shim_dir,)) == real / "pip"
    assert discover.find_real("pip", path_env=str(shim_dir)) is None


def test_shim_install_refuses_to_overwrite_foreign_files(tmp_path: Path) -> None:
    _script(tmp_path / "pip", "#!/bin/sh\necho mine\n")
    with pytest.raises(SafePipError, match="not a safe-pip shim"):
        shims.install(tmp_path, names=("pip",))
    assert (tmp_path / "pip").read_text() == "#!/bin/sh\necho mine\n"


def test_shim_uninstall_removes_only_shims(tmp_path: Path) -> None:
    shims.install(tmp_path, names=("pip", "python3"))
    _script(tmp_path / "other", "#!/bin/sh\n")
    removed = shims.uninstall(tmp_path)
    assert sorted(p.name for p in removed) == ["pip", "python3"]
    assert (tmp_path / "other").exists()


def test_shim_status_reports_gating(tmp_path: Path) -> None:
    shims.install(tmp_path / "s", names=("pip",))
    st = shims.status(tmp_path / "s", path_env=str(tmp_path / "s"))
    assert st.on_path and st.shims == ("pip",) and "(safe-pip shim)" in st.resolves["pip"]
    st = shims.status(tmp_path / "s", path_env=str(tmp_path))
    assert not st.on_path and st.resolves["pip"] == "(not found)"


def test_python_shim_passes_ordinary_calls_to_the_real_interpreter(tmp_path: Path) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir, names=("python3",), python=tmp_path / "missing")
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (real_dir / "python3").symlink_to(sys.executable)
    env = {"PATH": os.pathsep.join([str(shim_dir), str(real_dir), "/usr/bin", "/bin"])}
    out = subprocess.run(
        [str(shim_dir / "python3"), "-c", "print(6 * 7)"], capture_output=True, text=True, env=env
    )
    assert out.stdout == "42\n"
    # ... but -m pip with safe-pip missing is refused, never run ungated
    out = subprocess.run(
        [str(shim_dir / "python3"), "-m", "pip", "install", "x"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2 and "fail closed" in out.stderr


@pytest.mark.parametrize("shell", shells.SHELLS)
def test_every_shell_snippet_wraps_pip_and_python(shell: str) -> None:
    text = shells.render(shell, Path("/opt/it's here/python"))
    for name in ("pip", "pip3", "pip3.12", "python", "python3"):
        assert name in text
    assert "safe_pip.enforce.dispatch" in text
    assert "fail closed" in text


def test_bash_snippet_is_valid_bash() -> None:
    text = shells.render("bash", Path("/opt/it's here/python"))
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
