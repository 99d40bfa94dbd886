"""The scan stage judges each wheel against the target environment, and caches per target.

Fast tests of :func:`safe_pip.gate.scan.scan_all` over a real wheel and a real cache (the
end-to-end proof with real venvs is tests/gate/test_target_shadowing_e2e.py).
"""

from __future__ import annotations

from pathlib import Path

from safe_pip.gate.scan import scan_all
from safe_pip.gate.scan_cache import ScanResultCache, cache_key
from safe_pip.gate.state import ArtifactRun, no_progress
from safe_pip.models import TargetEnvironment
from safe_pip.scan.dist.shadowing import environment_digest, ownership_from_records
from tests.support.wheels import build_wheel, sha256_file

OWNER = TargetEnvironment(
    python_version=(3, 11),
    owned_paths=ownership_from_records([("victim-dist", ["vmod/__init__.py", "vmod/helpers.py"])]),
)
EMPTY = TargetEnvironment(python_version=(3, 11))


def _run(wheel: Path) -> ArtifactRun:
    return ArtifactRun(artifact=None, label=wheel.name, path=wheel, sha256=sha256_file(wheel))


def _foreign(run: ArtifactRun) -> list[str]:
    return [f.location for f in run.findings if f.rule_id == "WHEEL-FOREIGN-PACKAGE"]


def test_scan_is_judged_against_the_target_and_cached_per_target(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "quickhelp",
        "1.0",
        {"quickhelp/__init__.py": b"", "vmod/helpers.py": b"x = 1\n"},
    )
    cache = ScanResultCache(tmp_path / "cache", key_path=tmp_path / "key")

    def scan(target: TargetEnvironment | None) -> ArtifactRun:
        run = _run(wheel)
        scan_all(
            [run], limits=None, policy_digest="p", cache=cache, progress=no_progress, target=target
        )
        return run

    empty = scan(EMPTY)
    assert _foreign(empty) == [] and not empty.scan_cached
    owned = scan(OWNER)  # the clean result cached for EMPTY is not reused here
    assert not owned.scan_cached
    assert _foreign(owned) == [f"{wheel.name}!vmod/helpers.py"]
    again = scan(OWNER)
    assert again.scan_cached and _foreign(again) == _foreign(owned)
    assert scan(EMPTY).scan_cached and _foreign(scan(EMPTY)) == []


def test_cache_keys_differ_by_environment_and_keep_the_old_key_without_one() -> None:
    assert cache_key("ab" * 32, "1", "p", "") == cache_key("ab" * 32, "1", "p")
    assert cache_key("ab" * 32, "1", "p", environment_digest(OWNER)) != cache_key(
        "ab" * 32, "1", "p", environment_digest(EMPTY)
    )
    assert environment_digest(OWNER) != environment_digest(EMPTY) != ""
