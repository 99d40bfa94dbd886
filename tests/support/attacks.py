"""The seed attack as real bytes: a pickle that would run a command, inside a real wheel.

The recipe lives in :mod:`safe_pip.demo.artifacts` (``safe-pip demo`` serves the same
bytes); if anything ever unpickled it, the command would create ``marker``, and every
test that uses it asserts the marker is absent.
"""

from __future__ import annotations

from safe_pip.demo.artifacts import evil_pickle, evil_wheel

__all__ = ["evil_pickle", "evil_wheel"]
