"""The wheels people install most, scanned whole: nothing blocks them.

Why: a gate that blocks ``pip install numpy`` is useless, whatever it catches. numpy ships test
pickles (``numpy.core._internal._reconstruct``, py2 ``__builtin__.xrange``), scipy/matplotlib
ship ``.npy``/``.npz`` data, setuptools a ``.pth`` hook, torch its own ``.pt`` files.

The wheels are large, so they are not in git: ``python scripts/fetch_test_wheels.py`` puts them
in ``$SAFE_PIP_TEST_WHEELS`` (default ``~/.cache/safe-pip-test-wheels``). A wheel that is not
there is skipped with a message saying how to get it, never silently passed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from .scan_harness import EXIT_CLEAN, REPO, run_scan

pytestmark = pytest.mark.slow


def _load_fetch_script() -> ModuleType:
    """The fetch script owns the list of wheels and the cache location; reuse, don't copy."""
    path = REPO / "scripts" / "fetch_test_wheels.py"
    spec = importlib.util.spec_from_file_location("fetch_test_wheels", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FETCH = _load_fetch_script()
NAMES: list[str] = [FETCH.project_name(spec) for spec in FETCH.POPULAR]

#: Blocking decisions as the report may spell them.
BLOCKING_WORDS = ("block", "deny", "reject", "fail")


@pytest.mark.parametrize("name", NAMES)
def test_popular_wheel_is_not_blocked(name: str) -> None:
    """exit 0, no target decided as blocked, no finding of high severity or worse."""
    cache: Path = FETCH.default_cache_dir()
    wheels: list[Path] = FETCH.find_wheels(cache, name)
    if not wheels:
        pytest.skip(
            f"no {name} wheel in {cache}: run `python scripts/fetch_test_wheels.py` "
            f"(or set ${FETCH.ENV_VAR})"
        )
    run = run_scan([wheels[-1]], timeout=900)
    assert not run.timed_out, run.describe()
    assert run.json_error is None, run.describe()
    assert sum(run.inventory().values()) > 0, "the wheel was not opened\n" + run.describe()
    blocking = [d for d in run.decisions() if any(w in str(d).lower() for w in BLOCKING_WORDS)]
    assert not blocking, run.describe()
    assert not run.findings_at_least("high"), run.describe()
    assert run.returncode == EXIT_CLEAN, run.describe()
