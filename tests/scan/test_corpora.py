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

#: Cases the foundation issue lets wait for the breadth issue (Keras and TensorFlow readers).
#: Strict xfail: the day the scanner catches one, the test reports XPASS as a failure, so this
#: list cannot go stale.
DEFERRED: dict[str, str] = {
    "modelaudit/samples/keras/malicious_lambda.h5": "Keras .h5 Lambda layer: breadth issue",
    "modelaudit/samples/tensorflow/malicious_pyfunc/saved_model.pb": (
        "TensorFlow SavedModel PyFunc op: breadth issue"
    ),
}


def test_manifests_are_complete() -> None:
    """Both manifests load, label only malicious/benign, and name files that exist.

    The counts pin the suites as copied (picklescan 95 + 12, ModelAudit 22 + 11): a manifest
    that lost entries would quietly shrink the parametrised tests below.
    """
    counts: dict[tuple[str, str], int] = {}
    for corpus, rel, label in CASES:
        assert label in ("malicious", "benign"), (corpus, rel, label)
        assert (CORPORA / corpus / rel).is_file(), f"{corpus}/{rel} is missing"
        counts[corpus, label] = counts.get((corpus, label), 0) + 1
    assert counts == {
        ("picklescan", "malicious"): 95,
        ("picklescan", "benign"): 12,
        ("modelaudit", "malicious"): 22,
        ("modelaudit", "benign"): 11,
    }


def _case_id(case: tuple[str, str, str]) -> str:
    corpus, rel, label = case
    return f"{corpus}/{rel}[{label}]"


def _param(case: tuple[str, str, str]) -> object:
    corpus, rel, _ = case
    reason = DEFERRED.get(f"{corpus}/{rel}")
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, id=_case_id(case), marks=marks)


def test_deferred_cases_exist() -> None:
    """A typo in DEFERRED would silently un-defer nothing; every key must be a real case."""
    keys = {f"{corpus}/{rel}" for corpus, rel, _ in CASES}
    assert set(DEFERRED) <= keys, set(DEFERRED) - keys


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
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
