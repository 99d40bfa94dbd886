"""End to end: two wheels new in one install that write the same file with different bytes.

``victim-dist`` depends on ``evil-helper``, and both ship ``victim/__init__.py``. Neither is
installed yet, so no RECORD in the target owns the file and each wheel alone is clean; pip
would install both and the one it installs last would silently own ``victim``. The gate
judges the set (``WHEEL-OVERLAP``): real pip into a real venv from the real local index,
refused with nothing installed, the finding on both artifacts naming the other, in the JSON
and text reports and the audit journal, and ``safe-pip lock`` refuses to pin the pair. The
control ships byte-identical files and installs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate.conftest import Runner
from tests.gate.test_lock_e2e import lock
from tests.support.index_server import IndexServer
from tests.support.venvs import installed
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

REAL = b"def hello():\n    return 'victim'\n"
EVIL = b"import os\nos.environ['PWNED'] = '1'\n"


def publish(index: IndexServer, out: Path, helper_bytes: bytes) -> tuple[Path, Path]:
    victim = build_wheel(
        out, "victim-dist", "1.0", {"victim/__init__.py": REAL}, requires=["evil-helper"]
    )
    helper = build_wheel(
        out,
        "evil-helper",
        "1.0",
        {"evil_helper/__init__.py": b"", "victim/__init__.py": helper_bytes},
    )
    index.add(victim)
    index.add(helper)
    return victim, helper


def test_two_new_wheels_writing_one_file_are_refused(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path, home: Path
) -> None:
    victim, helper = publish(index, tmp_path / "w", EVIL)

    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "victim-dist")
    assert r.code == 1, r.stdout + r.stderr
    doc = r.json()
    assert doc["outcome"] == "blocked"
    by_file = {a["target"]: a for a in doc["targets"]}
    assert set(by_file) == {victim.name, helper.name}
    for mine, other in ((victim, helper), (helper, victim)):
        art = by_file[mine.name]
        assert art["decision"] == "block"
        (finding,) = [f for f in art["findings"] if f["rule_id"] == "WHEEL-OVERLAP"]
        assert finding["location"] == f"{mine.name}!victim/__init__.py"
        assert other.name in finding["message"] and "victim/__init__.py" in finding["message"]
        assert finding["blocking"]
    assert "victim-dist" not in installed(venv) and "evil-helper" not in installed(venv)

    records = [
        json.loads(line)
        for line in (home / "state" / "safe-pip" / "audit.jsonl").read_text().splitlines()
    ]
    assert [rec["kind"] for rec in records] == ["outcome"]  # no intent: pip never started
    journaled = {
        a["filename"]: [f["location"] for f in a["findings"] if f["rule_id"] == "WHEEL-OVERLAP"]
        for a in records[0]["artifacts"]
    }
    assert journaled == {
        victim.name: [f"{victim.name}!victim/__init__.py"],
        helper.name: [f"{helper.name}!victim/__init__.py"],
    }

    # Again, as text: the per-file scans now come from the cache; the set is judged anew.
    text = safe_pip("--python", venv, "-i", index.simple_url, "victim-dist")
    assert text.code == 1, text.stdout + text.stderr
    out = text.stdout + text.stderr
    assert "WHEEL-OVERLAP" in out and victim.name in out and helper.name in out
    assert "victim-dist" not in installed(venv)

    (tmp_path / "requirements.in").write_text("victim-dist\n")
    locked = lock(home, tmp_path, "-o", "req.txt", "-i", index.simple_url, "-r", "requirements.in")
    assert locked.returncode == 1, locked.stdout + locked.stderr
    assert "WHEEL-OVERLAP" in locked.stdout + locked.stderr
    assert not (tmp_path / "req.txt").exists()


def test_byte_identical_files_install(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    publish(index, tmp_path / "w", REAL)
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "victim-dist")
    assert r.code == 0, r.stdout + r.stderr
    assert "WHEEL-OVERLAP" not in r.rules()
    got = installed(venv)
    assert got["victim-dist"] == "1.0" and got["evil-helper"] == "1.0"
