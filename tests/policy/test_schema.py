"""Strict validation: every problem, each with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.policy import check_files


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return [f"{p.line}: {p.message}" for p in check_files([path])]


def test_valid_minimal(tmp_path: Path) -> None:
    assert problems(tmp_path, "version = 1\n") == []


def test_version_required_and_checked(tmp_path: Path) -> None:
    assert "missing required 'version = 1'" in problems(tmp_path, "[names]\n")[0]
    found = problems(tmp_path, "x = 1\nversion = 2\n")
    assert any(p.startswith("2: unsupported policy version") for p in found)
    assert any(p.startswith("1: unknown key 'x'") for p in found)


def test_broken_toml_reports_its_line(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, 'version = 1\n[install]\nmin_age = "7d\n')
    assert problem.startswith("3: invalid TOML")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version = 1\n\n[install]\nalow_sdist = true\n", 4, "did you mean 'allow_sdist'"),
        ("version = 1\n[instal]\n", 2, "unknown key 'instal'"),
        ('version = 1\n[install]\nallow_sdist = "no"\n', 3, "expected true or false"),
        ('version = 1\n[install]\nmin_age = "7 days"\n', 3, "duration"),
        ('version = 1\n[names]\ntyposquat = "maybe"\n', 3, '"block", "warn", "off"'),
        ('version = 1\n[names]\ndeny = [\n  "ok",\n  "bad name!",\n]\n', 5, "bad name!"),
        ('version = 1\n[scan]\nallow_globals = ["*"]\n', 3, "module.qualname"),
        ("version = 1\n[scan.limits]\ndepth = -1\n", 3, "positive integer"),
        ('version = 1\n[index]\nallowed = ["ftp://x"]\n', 3, "URL prefix"),
        ('version = 1\n[[package]]\nname = "x"\nversions = "=>1"\n', 4, "specifier"),
        ('version = 1\n[[package]]\nname = "x"\npublisher = "github:nope"\n', 4, "publisher"),
        ('version = 1\n[[package]]\nname = "x"\nhashes = ["abc"]\n', 4, "sha256"),
        ("version = 1\n[enforcement]\nescape = true\n", 3, "escape_hatch"),
    ],
)
def test_schema_errors_have_lines(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    (problem,) = problems(tmp_path, text)
    assert problem.startswith(f"{line}: ") and fragment in problem, problem


def test_exception_requires_reason_and_a_real_date(tmp_path: Path) -> None:
    text = (
        'version = 1\n\n[[exception]]\npackage = "a"\nrule = "*"\nreason = "r"\n'
        'expires = 2025-01-01\n\n[[exception]]\npackage = "b"\nrule = "*"\n'
        'expires = "2025-01-01"\n\n[[exception]]\npackage = "c"\nrule = "*"\n'
        'reason = "r"\nexpires = 2025-01-01\nsha256 = "xyz"\n'
    )
    found = problems(tmp_path, text)
    assert any(p.startswith("9: ") and "missing required key 'reason'" in p for p in found)
    assert any(p.startswith("12: ") and "without quotes" in p for p in found)
    assert any(p.startswith("19: ") and "sha256" in p for p in found)
    assert len(found) == 3


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = 'version = 1\n[install]\nallow_sdist = 1\nmin_age = 3\n[scan]\nunknown_globals = "x"\n'
    assert [p.split(":")[0] for p in problems(tmp_path, text)] == ["3", "4", "6"]


def test_unreadable_file(tmp_path: Path) -> None:
    (problem,) = [str(p) for p in check_files([tmp_path / "nope.toml"])]
    assert "cannot read policy file" in problem
