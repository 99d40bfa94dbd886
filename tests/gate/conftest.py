"""Fixtures of the gate's tests: real indexes on 127.0.0.1, a bounded fetcher, a target."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safe_pip.gate.fetch import Bounds, Fetcher, NetSettings, Quarantine
from safe_pip.gate.target import Target, probe_target
from tests.support.index_server import IndexServer

FAST = Bounds(connect_timeout=3, read_timeout=3, deadline=10, retries=0)


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer() as server:
        yield server


@pytest.fixture
def extra() -> Iterator[IndexServer]:
    with IndexServer() as server:
        yield server


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    with Fetcher(Quarantine(tmp_path / "quarantine"), NetSettings(bounds=FAST)) as f:
        yield f


@pytest.fixture(scope="session")
def here() -> Target:
    """This interpreter, probed like a target (nothing of the tests' own is installed in
    the names the tests use)."""
    return probe_target(Path(sys.executable))
