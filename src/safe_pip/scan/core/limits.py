"""Resource limits every reader obeys.

A scanner that can be made to hang or exhaust memory is a scanner an attacker
can switch off, so every loop is bounded and exceeding a bound is a finding
(fail closed), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    """Containers nested inside containers (wheel → model.pt → data.pkl is depth 2)."""
    max_members: int = 200_000
    """Archive members inspected over the whole scan of one artifact."""
    max_total_bytes: int = 64 * GiB
    """Decompressed bytes read over the whole scan of one artifact."""
    max_member_bytes: int = 16 * GiB
    """Decompressed size of a single member we are willing to read."""
    max_ratio: float = 1000.0
    """Compression ratio beyond which a member counts as a bomb (above 1 MiB)."""
    max_pickle_opcodes: int = 50_000_000
    max_memo: int = 5_000_000
    max_stack: int = 5_000_000
    max_string: int = 1 * GiB
    max_streams: int = 64
    """Concatenated pickle streams read from one member."""
    time_budget: float = 900.0
    """Seconds for one artifact; beyond it the scan stops with a finding."""
