"""The peers' own labelled test suites (picklescan, ModelAudit): every file judged right.

Why: these are the bypasses and gadgets other scanners were already caught out by (40 GHSA
advisories among them). A malicious file must be blocked *by a finding* (exit 1 with at least
one finding: an exit caused by a crash does not count), and a benign one must pass (exit 0).
One test per file, so a failure names the file.

The files are only ever handed to the scanner subprocess: nothing here unpickles them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .scan_harness import EXIT_BLOCKED, EXIT_CLEAN, FIXTURES, run_scan

CORPORA = FIXTURES / "corpora"
CORPUS_NAMES = ("picklescan", "modelaudit")


def load_cases() -> list[tuple[str, str, str]]:
    """(corpus, relative path, label) for every manifest entry of both corpora."""
    cases: list[tuple[str, str, str]] = []
    for corpus in CORPUS_NAMES:
        manifest = json.loads((CORPORA / corpus / "manifest.json").read_text())
        cases.extend((corpus, rel, entry["label"]) for rel, entry in sorted(manifest.items()))
    return cases


CASES = load_cases()


def _case_id(case: tuple[str, str, str]) -> str:
    corpus, rel, label = case
    return f"{corpus}/{rel}[{label}]"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_corpus_file(case: tuple[str, str, str]) -> None:
    """Malicious: exit 1 with at least one finding. Benign: exit 0."""
    corpus, rel, label = case
    path: Path = CORPORA / corpus / rel
    run = run_scan([path], timeout=120)
    assert not run.timed_out, run.describe()
    assert run.json_error is None, run.describe()
    if label == "malicious":
        assert run.returncode == EXIT_BLOCKED, run.describe()
        assert run.findings(), "blocked without a finding\n" + run.describe()
    else:
        assert run.returncode == EXIT_CLEAN, run.describe()
