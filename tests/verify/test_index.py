"""Index rules (verify/index.py): allowlist, yanked, cooldown, PEP 691 pages. A yanked release
is reported at one fixed severity; the policy's ``[install] yanked`` setting is applied by
decide, end to end from a real policy file."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from safe_pip.decide import decide
from safe_pip.models import Severity
from safe_pip.policy import load_policy
from safe_pip.policy.model import InstallPolicy, Policy
from safe_pip.resolve import Resolved
from safe_pip.verify.index import FileInfo, artifact_findings, file_info_from_page, index_findings

NOW = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class _Artifact:
    name: str = "alpha"
    version: str = "1.0"
    url: str = "https://idx.test/files/alpha-1.0-py3-none-any.whl"
    page_url: str | None = "https://idx.test/simple/alpha/"
    yanked: str | None = "broken build"
    upload_time: dt.datetime | None = NOW - dt.timedelta(days=90)


@pytest.mark.parametrize(
    "setting, blocks, warns",
    [("block", True, False), ("warn", False, True), ("allow", False, False)],
)
def test_yanked_is_high_whatever_the_setting_and_decide_applies_it(
    tmp_path: Path, setting: str, blocks: bool, warns: bool
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f'version = 1\n[install]\nyanked = "{setting}"\n')
    policy = load_policy(path, cwd=tmp_path, env={"HOME": str(tmp_path)})
    findings = artifact_findings(_Artifact(), policy=policy, now=NOW, location="alpha.whl")
    (yanked,) = [f for f in findings if f.rule_id == "INDEX-YANKED"]
    assert yanked.severity is Severity.HIGH and "broken build" in yanked.message
    verdict = decide(findings, target="alpha.whl", policy=policy)
    assert any(f.rule_id == "INDEX-YANKED" for f in verdict.blocking) is blocks
    assert any(f.rule_id == "INDEX-YANKED" for f in verdict.warnings) is warns


def _item() -> Resolved:
    return Resolved(
        name="alpha",
        version="1.0",
        url="https://idx/files/alpha-1.0-py3-none-any.whl",
        filename="alpha-1.0-py3-none-any.whl",
        kind="wheel",
        advertised_sha256=None,
        requested=True,
        is_direct=False,
        is_yanked=False,
        page_url="https://idx/simple/alpha/",
    )


def test_index_findings() -> None:
    now = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
    policy = Policy(install=InstallPolicy(min_age=dt.timedelta(days=7), yanked="block"))
    young = FileInfo(now - dt.timedelta(days=1), False, "", None, "page")
    old = FileInfo(now - dt.timedelta(days=30), True, "broken", None, "page")

    def rules(info: FileInfo | None) -> list[str]:
        found = index_findings(_item(), policy=policy, info=info, now=now, location="x")
        return [f.rule_id for f in found]

    assert rules(young) == ["INDEX-TOO-NEW"]
    assert rules(old) == ["INDEX-YANKED"]
    assert rules(None) == ["INDEX-AGE-UNKNOWN"]
    from safe_pip.policy.model import IndexPolicy

    strict = Policy(index=IndexPolicy(allowed=("https://internal/simple",)))
    found = index_findings(_item(), policy=strict, info=None, now=now, location="x")
    assert [f.rule_id for f in found] == ["INDEX-NOT-ALLOWED"]


def test_file_info_from_pep691_page() -> None:
    page = json.dumps(
        {
            "files": [
                {
                    "filename": "a-1.whl",
                    "upload-time": "2025-01-02T03:04:05.000Z",
                    "yanked": "bad build",
                    "hashes": {"sha256": "AA"},
                }
            ]
        }
    ).encode()
    info = file_info_from_page(page, "a-1.whl", "p")
    assert info.upload_time == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert info.yanked and info.yanked_reason == "bad build" and info.sha256 == "aa"
    assert file_info_from_page(b"<html>", "a-1.whl", "p").upload_time is None
