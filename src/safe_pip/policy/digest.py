"""A stable fingerprint of what a policy decides, for the verdict cache.

The install gate caches verdicts by (sha256, scanner version, policy digest):
any change to a rule must change the digest, and nothing else should.  So the
digest covers every compared field of the dataclass tree and skips the
``compare=False`` ones (sources, origins, notes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

from packaging.specifiers import SpecifierSet

from safe_pip.policy.model import Policy

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


def canonical(value: object) -> JSONValue:
    """Policy data as plain JSON values, in a deterministic shape."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare
        }
    if isinstance(value, (tuple, list, frozenset)):
        items = [canonical(item) for item in value]
        return sorted(items, key=json.dumps) if isinstance(value, frozenset) else items
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (Path, SpecifierSet)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot canonicalise {type(value).__name__}")  # pragma: no cover


def policy_digest(policy: Policy) -> str:
    data = json.dumps(canonical(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
