"""The scanner never imports, calls or builds anything a pickle names.

A canary module sits on the import path of the scanning process; importing it
writes a marker file. Pickles that name it through every opcode that makes a
loader import or call (GLOBAL, STACK_GLOBAL, INST, OBJ, NEWOBJ, REDUCE, BUILD)
are scanned both in-process and through the CLI: each must be blocked, and the
canary must never have been imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.scan.core.engine import scan_path

from .pickles import (
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    MARK,
    NEWOBJ,
    PROTO2,
    PROTO4,
    REDUCE,
    STACK_GLOBAL,
    STOP,
    TUPLE1,
    glob,
    ustr,
)

CANARY = "safe_pip_canary_mod"

PAYLOADS = {
    "GLOBAL+REDUCE": PROTO2 + glob(CANARY, "boom") + ustr("x") + TUPLE1 + REDUCE + STOP,
    "STACK_GLOBAL": PROTO4
    + ustr(CANARY)
    + ustr("boom")
    + STACK_GLOBAL
    + EMPTY_TUPLE
    + REDUCE
    + STOP,
    "INST": PROTO2 + MARK + f"i{CANARY}\nboom\n".encode() + STOP,
    "OBJ": PROTO2 + MARK + glob(CANARY, "Boom") + b"o" + STOP,
    "NEWOBJ+BUILD": PROTO2
    + glob(CANARY, "Boom")
    + EMPTY_TUPLE
    + NEWOBJ
    + EMPTY_DICT
    + BUILD
    + STOP,
}


@pytest.fixture()
def canary(tmp_path: Path) -> Path:
    marker = tmp_path / "canary-was-imported"
    (tmp_path / f"{CANARY}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "def boom(*a): open(__file__ + '.called', 'w')\n"
        "class Boom:\n    def __init__(self, *a): boom()\n"
    )
    return marker


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_in_process_scan_imports_nothing(
    name: str, canary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    target = tmp_path / "model.bin"
    target.write_bytes(PAYLOADS[name])
    result = scan_path(target)
    assert {f.rule_id for f in result.findings} & {"PICKLE-GLOBAL-UNKNOWN"}, result.findings
    assert CANARY not in sys.modules
    assert not canary.exists()
    assert not list(tmp_path.glob("*.called"))


def test_cli_scan_imports_nothing(canary: Path, tmp_path: Path) -> None:
    files = []
    for i, data in enumerate(PAYLOADS.values()):
        f = tmp_path / f"m{i}.pt"
        f.write_bytes(data)
        files.append(str(f))
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "safe_pip", "scan", *files],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("BLOCKED") == len(files), proc.stdout
    assert not canary.exists()
