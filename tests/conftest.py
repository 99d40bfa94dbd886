"""Fixtures shared across the suite (``machine``, the policy layers, is used by the policy,
decide and command tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.conftest import machine  # noqa: F401
from tests.scan.pickles import BENIGN, evil


@pytest.fixture
def samples(tmp_path: Path) -> tuple[Path, Path]:
    """A pickle that calls os.system and one that only holds data."""
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(evil())
    good = tmp_path / "good.pkl"
    good.write_bytes(BENIGN)
    return bad, good
