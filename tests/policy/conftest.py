"""Real files, real environment variables, real folders: each test builds the
layers it needs in tmp_path and never sees the machine's own policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.policy_machine import Machine


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """An empty org policy (so /etc is never read) and an empty XDG config home."""
    m = Machine(tmp_path, {})
    m.write(m.org, "version = 1\n")
    m.project.mkdir()
    (m.root / "xdg").mkdir()
    m.env.update(SAFE_PIP_ORG_POLICY=str(m.org), XDG_CONFIG_HOME=str(m.root / "xdg"))
    return m
