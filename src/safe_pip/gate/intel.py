"""Intel stage: what the local OSV database says about each artifact.

Runs inside the verify stage, so the install gate and ``safe-pip serve`` (which vets through
the same stages) check every file the same way: a ``MAL-`` report on the name and version, any
reported file whose sha256 equals the artifact's (a renamed re-upload), and known
vulnerabilities. One read-only connection per run, two indexed queries per artifact. A
missing, unreadable, stale or future-dated database is said once per run: with
``[intel] on_stale = "warn"`` (the default) as a note on the report, so a run of thirty
artifacts does not repeat one warning thirty times; with ``"block"`` as an INTEL-UNAVAILABLE or
INTEL-STALE finding on every artifact, so each verdict says why it is blocked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.gate.state import ArtifactRun

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy


def db_path() -> Path:
    """The database ``safe-pip intel sync`` writes (under safe-pip's cache root)."""
    from safe_pip.gate.fetch import cache_dir
    from safe_pip.intel import default_db_path

    return default_db_path(cache_dir())


def check_all(
    runs: Sequence[ArtifactRun],
    *,
    policy: Policy,
    database: Path | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Add intel findings to every run that names a release; return the run's notes (a
    database that could not be used, when ``on_stale`` only warns)."""
    from safe_pip.intel.check import findings_for, freshness
    from safe_pip.intel.store import IntelDB, StoreError

    todo = [r for r in runs if r.artifact is not None]
    if not todo:
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        db: IntelDB | None = IntelDB(database or db_path())
    except StoreError as exc:
        db, problem = None, str(exc)
    try:
        status = db.status() if db is not None else None
    except StoreError as exc:
        status, problem = None, str(exc)
    stale = freshness(status, None if status else problem, max_age=policy.intel.max_age, now=now)
    blocking = policy.intel.on_stale == "block"
    for run in todo:
        art = run.artifact
        assert art is not None
        if blocking:
            run.findings += stale
        if db is not None and status is not None:
            run.findings += findings_for(db, art.name, art.version, run.sha256, location=run.label)
    if db is not None:
        db.close()
    return [] if blocking else [f"{f.rule_id}: {f.message}" for f in stale]
