"""Requirement files as verify/hashes.py reads them: --hash pins, nesting, weak hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.errors import SafePipError
from safe_pip.verify.hashes import pins_from_requirements, read_requirement_files


def test_requirement_files_with_hashes_and_nesting(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(
        "# comment\nalpha==1.0 \\\n  --hash=sha256:" + "a" * 64 + " \\\n"
        "  --hash=sha256:" + "B" * 64 + "\n--index-url https://idx/simple\n"
    )
    (tmp_path / "req.txt").write_text("-r base.txt\nbeta==2 --hash=sha256:" + "c" * 64 + "\n-e .\n")
    lines = read_requirement_files([tmp_path / "req.txt"])
    pins = pins_from_requirements(lines)
    assert pins == {"alpha": frozenset({"a" * 64, "b" * 64}), "beta": frozenset({"c" * 64})}
    assert [ln.editable for ln in lines] == [False, False, True]


def test_requirement_files_refuse_weak_hashes(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("alpha==1 --hash=md5:" + "a" * 32 + "\n")
    with pytest.raises(SafePipError, match="sha256"):
        read_requirement_files([tmp_path / "r.txt"])


def test_missing_requirement_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SafePipError):
        read_requirement_files([tmp_path / "missing.txt"])
