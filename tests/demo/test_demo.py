"""``safe-pip demo``: the real command, offline, on a machine whose settings would mislead it.

The slow test runs the demo the way a newcomer does, in a network namespace with only
the loopback (where ``unshare`` allows it), with a pip configuration and an org policy
that would break it if the demo read them; it must still install the clean wheel, block
the attack with the real finding, leave no trace and exit 0.  The fast tests pin down
that the demo only claims what it saw: a missing or unreadable report is not a block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.demo import scenario
from safe_pip.demo.artifacts import build_wheel
from safe_pip.demo.index import LocalIndex, write_index


def _offline_prefix() -> list[str]:
    """Run in a network namespace with only the loopback up, if this machine allows it."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return []
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


@pytest.mark.slow
def test_demo_installs_the_clean_wheel_and_blocks_the_attack_offline(tmp_path: Path) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nindex-url = http://192.0.2.1/simple/\nno-index = true\n")
    org = tmp_path / "org.toml"  # would block the clean wheel if the demo read it
    org.write_text('version = 1\n[names]\ndeny = ["hello-gate"]\n')
    env = dict(
        os.environ,
        PIP_CONFIG_FILE=str(pip_conf),
        PIP_INDEX_URL="http://192.0.2.1/simple/",
        SAFE_PIP_ORG_POLICY=str(org),
        NO_COLOR="1",
        TMPDIR=str(tmp_path),
    )
    proc = subprocess.run(
        [*_offline_prefix(), sys.executable, "-m", "safe_pip", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "error" not in proc.stderr
    # The real gate's real report, not a description of one.
    assert re.search(r"^ok +hello-gate 1\.0 ", out, re.M)
    assert "safe-pip: installed: hello-gate 1.0" in out
    assert re.search(r"^BLOCKED torchvision-optimized 0\.1 ", out, re.M)
    assert "PICKLE-GLOBAL-DANGEROUS (critical)" in out
    assert "torchvision_optimized/model.pt" in out
    assert "✗" not in out
    assert out.count("✓") == 5
    assert "The gate behaved as designed" in out
    # The throwaway folder is gone; nothing else was left in TMPDIR.
    folder = Path(re.search(r"throwaway folder (\S+)", out).group(1))  # type: ignore[union-attr]
    assert folder.parent == tmp_path and not folder.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org.toml", "pip.conf"]


def test_a_missing_or_unreadable_report_is_not_a_block(tmp_path: Path) -> None:
    assert scenario._blocking_rules(tmp_path / "absent.json") == set()
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    assert scenario._blocking_rules(garbled) == set()
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "targets": [
                    {
                        "findings": [
                            {"rule_id": "PICKLE-GLOBAL-DANGEROUS", "blocking": True},
                            {"rule_id": "SIG-UNPINNED", "blocking": False},
                        ]
                    }
                ]
            }
        )
    )
    assert scenario._blocking_rules(report) == {"PICKLE-GLOBAL-DANGEROUS"}


def test_an_outcome_with_one_failed_claim_or_none_is_not_as_designed() -> None:
    outcome = scenario.Outcome()
    assert not outcome.as_designed  # nothing checked proves nothing
    outcome.check(True, "installed")
    assert outcome.as_designed
    outcome.check(False, "blocked")
    assert not outcome.as_designed


def test_the_demo_index_serves_pep503_pages_pip_can_install_from(tmp_path: Path) -> None:
    """The static index alone: real pip downloads the wheel by its advertised hash."""
    wheel = build_wheel(tmp_path / "w", "hello-gate", "1.0")
    write_index(tmp_path / "index", [wheel])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    with LocalIndex(tmp_path / "index") as index:
        assert index.simple_url.startswith("http://127.0.0.1:")
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps"),
                *("-d", str(tmp_path / "dl"), "--index-url", index.simple_url, "hello-gate==1.0"),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dl" / wheel.name).read_bytes() == wheel.read_bytes()
    page = (tmp_path / "index" / "simple" / "hello-gate" / "index.html").read_text()
    assert "#sha256=" in page and 'data-core-metadata="sha256=' in page
