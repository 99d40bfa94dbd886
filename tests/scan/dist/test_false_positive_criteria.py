"""Issue 13's criteria: each real false block passes by a stated rule, each twin still blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.models import Severity

from .wheels import blocks, found, scan_wheel, wheel_bytes

PKG = {"cov/__init__.py": b"", "cov/core.py": b"def process_startup(slug=None):\n    pass\n"}

COVERAGE_PTH = (
    b"import sys; exec('import os\\n\\nif os.getenv(\"COV_PROCESS_START\") or "
    b"os.getenv(\"COV_PROCESS_CONFIG\"):\\n try:\\n  import cov\\n except:\\n  pass\\n else:\\n"
    b"  cov.process_startup(slug=\"pth\")')\n"
)


def test_dormant_pth_is_low_and_visible(tmp_path: Path) -> None:
    """coverage's shape: nothing runs unless the distribution's own variable is set."""
    res = scan_wheel(tmp_path, wheel_bytes("cov", {**PKG, "a1_cov.pth": COVERAGE_PTH}))
    assert found(res, "WHEEL-PTH-DORMANT") == [Severity.LOW]
    assert blocks(res) == set()
    assert "COV_PROCESS_START" in next(
        f.message for f in res.findings if f.rule_id == "WHEEL-PTH-DORMANT"
    )


@pytest.mark.parametrize(
    "line",
    [
        # a variable every shell sets is no gate
        COVERAGE_PTH.replace(b"COV_PROCESS_START", b"HOME").replace(b"COV_PROCESS_CONFIG", b"PATH"),
        # own variable, but the gated code runs a command
        b"import os; exec('if os.getenv(\"COV_X\"):\\n import os\\n os.system(\"id\")')\n",
        # the gate is an `or` with something always true
        b"import os; exec('if os.getenv(\"COV_X\") or 1:\\n import cov\\n cov.go()')\n",
        # `os` rebound before the "gate"
        b"import subprocess as os; exec('if os.getenv(\"COV_X\"):\\n import cov\\n cov.go()')\n",
        # a computed string is executed
        b"import os; exec(os.environ.get('COV_X', '') + 'import cov')\n",
        # the gate's default is truthy: runs unless the variable is set
        b"import os; exec('if os.environ.get(\"COV_X\", \"1\"):\\n import cov\\n cov.go()')\n",
        # the gated call passes a computed argument
        b"import os; exec('if os.getenv(\"COV_X\"):\\n import cov\\n cov.go(open(\"/etc/passwd\"))')\n",
        # an import of a module the wheel does not ship
        b"import os; exec('if os.getenv(\"COV_X\"):\\n import evil\\n evil.go()')\n",
    ],
)
def test_dormant_twins_block(tmp_path: Path, line: bytes) -> None:
    res = scan_wheel(tmp_path, wheel_bytes("cov", {**PKG, "a1_cov.pth": line}))
    assert "WHEEL-PTH-EXEC" in blocks(res), res.findings


def test_record_listing_an_absent_file_is_low(tmp_path: Path) -> None:
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": b""}, extra_record=["mypkg/dict/ab.txt,,"])
    res = scan_wheel(tmp_path, data)
    assert found(res, "WHEEL-RECORD-ABSENT") == [Severity.LOW]
    assert blocks(res) == set()


LOADER = b"import torch\nstate = torch.load('weights.pt')\n"


def test_torch_load_default_is_low_when_the_wheel_needs_torch_2_6(tmp_path: Path) -> None:
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": LOADER}, requires=["torch>=2.8.0"])
    res = scan_wheel(tmp_path, data)
    assert found(res, "PY-UNSAFE-LOAD") == [Severity.LOW]


@pytest.mark.parametrize(
    ("source", "requires"),
    [
        (LOADER, ["torch>=2.5"]),  # an older torch defaults to weights_only=False
        (LOADER, []),
        (LOADER, ["torch>=2.8; extra == 'gpu'"]),  # only with an extra
        (b"import torch\nstate = torch.load('w.pt', weights_only=False)\n", ["torch>=2.8"]),
        (b"import torch, pickle\nstate = torch.load('w.pt', pickle_module=pickle)\n", ["torch>=2.8"]),
        (b"import torch\nkw = {}\nstate = torch.load('w.pt', **kw)\n", ["torch>=2.8"]),
        (b"import pickle\nstate = pickle.load(open('w.pt', 'rb'))\n", ["torch>=2.8"]),
    ],
)
def test_torch_default_twins_block(tmp_path: Path, source: bytes, requires: list[str]) -> None:
    data = wheel_bytes("mypkg", {"mypkg/__init__.py": source}, requires=requires)
    assert "PY-UNSAFE-LOAD" in blocks(scan_wheel(tmp_path, data))


SCRIPT = b"import pickle\nstate = pickle.load(open('w.pkl', 'rb'))\n"


def test_standalone_script_is_low(tmp_path: Path) -> None:
    files = {
        "mypkg/__init__.py": b"from .core import f\n",
        "mypkg/core.py": b"def f():\n    return 1\n",
        "mypkg/tools/__init__.py": b"",
        "mypkg/tools/convert.py": SCRIPT,
    }
    res = scan_wheel(tmp_path, wheel_bytes("mypkg", files))
    assert found(res, "PY-UNSAFE-LOAD") == [Severity.LOW]


@pytest.mark.parametrize(
    "importer",
    [
        b"from .tools import convert\n",
        b"from mypkg.tools.convert import state\n",
        b"import mypkg.tools.convert\n",
        b"import importlib\nimportlib.import_module('mypkg.tools.convert')\n",
        b"import importlib\nimportlib.import_module('.tools.convert', __name__)\n",
        b"import importlib\nname = 'conv' + 'ert'\nimportlib.import_module('mypkg.tools.' + name)\n",
        b"__import__('mypkg.tools.convert')\n",
    ],
)
def test_imported_script_still_blocks(tmp_path: Path, importer: bytes) -> None:
    files = {
        "mypkg/__init__.py": importer,
        "mypkg/tools/__init__.py": b"",
        "mypkg/tools/convert.py": SCRIPT,
    }
    assert "PY-UNSAFE-LOAD" in blocks(scan_wheel(tmp_path, wheel_bytes("mypkg", files)))


def test_script_named_by_an_entry_point_still_blocks(tmp_path: Path) -> None:
    files = {
        "mypkg/__init__.py": b"",
        "mypkg/tools/__init__.py": b"",
        "mypkg/tools/convert.py": SCRIPT,
        "mypkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\nmk = mypkg.tools.convert:x\n",
    }
    assert "PY-UNSAFE-LOAD" in blocks(scan_wheel(tmp_path, wheel_bytes("mypkg", files)))
