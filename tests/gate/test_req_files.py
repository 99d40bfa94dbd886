"""``--hash`` pins in requirement files, read as pip reads them (gate/req_files.py through
read_inputs): continuation lines, nested files, editables; weak digests and missing files
refused. These assertions were first written for the reader in verify/hashes.py that this
one replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.errors import SafePipError
from safe_pip.gate.inputs import InstallRequest, PipTarget, probe_target, read_inputs

pytestmark = pytest.mark.slow  # a real pip is probed for its grammar


@pytest.fixture(scope="module")
def target(pip23: Path) -> PipTarget:
    return probe_target(pip23)


def _read(target: PipTarget, cwd: Path, *args: str) -> InstallRequest:
    env = {"HOME": str(cwd / "home"), "XDG_CONFIG_DIRS": str(cwd / "xdg"), "PATH": "/usr/bin"}
    return read_inputs(list(args), python=target.python, cwd=cwd, environ=env, target=target)


def test_hashes_from_nested_files_with_continuations(target: PipTarget, tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(
        "# comment\nalpha==1.0 \\\n  --hash=sha256:" + "a" * 64 + " \\\n"
        "  --hash=sha256:" + "B" * 64 + "\n--index-url http://127.0.0.1:9/simple\n"
    )
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (tmp_path / "req.txt").write_text(
        "-r base.txt\nbeta==2 --hash=sha256:" + "c" * 64 + "\n-e ./proj\n"
    )
    req = _read(target, tmp_path, "-r", str(tmp_path / "req.txt"))
    pins = {r.name: r.hashes for r in req.requirements if r.hashes}
    assert pins == {
        "alpha": frozenset({"sha256:" + "a" * 64, "sha256:" + "b" * 64}),
        "beta": frozenset({"sha256:" + "c" * 64}),
    }
    assert [r.editable for r in req.requirements] == [False, False, True]


def test_weak_hashes_are_refused(target: PipTarget, tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("alpha==1 --hash=md5:" + "a" * 32 + "\n")
    with pytest.raises(SafePipError, match="sha256"):
        _read(target, tmp_path, "-r", str(tmp_path / "r.txt"))


def test_missing_requirement_file_is_an_error(target: PipTarget, tmp_path: Path) -> None:
    with pytest.raises(SafePipError):
        _read(target, tmp_path, "-r", str(tmp_path / "missing.txt"))
