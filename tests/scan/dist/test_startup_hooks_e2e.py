"""Start-up hooks proven on real interpreters: pip installs the wheel, Python starts, a marker
file appears — and the scanner blocks that same wheel.

Each case is checked both ways, so neither half can pass by accident: the attack must really
run code under the named Python (a marker file written at start-up, or pip's script replaced),
and ``scan_path`` must block the wheel (with no target, and with that Python as the target).
Interpreters come from ``/root/.pyenv/versions`` (3.10-3.13); a missing one is skipped with a
message. Marked slow: each case makes a venv and runs pip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from safe_pip.models import Severity
from safe_pip.scan.core.engine import scan_path
from tests.scan.dist.realenv import blocked, make_venv, payload
from tests.support.venvs import isolated_env
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow


def test_bom_before_import_runs_on_3_13_only(tmp_path: Path) -> None:
    """3.13's site.py decodes utf-8-sig: the BOM vanishes and the line is executed."""
    marker = tmp_path / "bom-ran"
    wheel = build_wheel(
        tmp_path / "dist",
        "bomhook",
        files={
            "bomhook/__init__.py": b"",
            "bomhook.pth": b"\xef\xbb\xbfimport os; " + payload(marker).encode() + b"\n",
        },
    )
    new = make_venv(tmp_path, 13)
    new.install(wheel)
    new.start()
    assert marker.exists(), "3.13 did not run the BOM-prefixed import line"
    marker.unlink()
    old = make_venv(tmp_path, 12)
    old.install(wheel)
    old.start()
    assert not marker.exists(), "3.12 ran it: then the reading tables are wrong"
    assert blocked(wheel, "WHEEL-PTH-EXEC")
    assert blocked(wheel, "WHEEL-PTH-EXEC", (3, 13))
    assert not blocked(wheel, "WHEEL-PTH-EXEC", (3, 12))


def test_form_feed_splits_a_line_on_3_13(tmp_path: Path) -> None:
    """str.splitlines breaks at \\f: the import after it is a line of its own on 3.13+."""
    marker = tmp_path / "ff-ran"
    line = b"ffhook_data\x0cimport os; " + payload(marker).encode() + b"\n"
    wheel = build_wheel(
        tmp_path / "dist", "ffhook", files={"ffhook/__init__.py": b"", "ffhook.pth": line}
    )
    venv = make_venv(tmp_path, 13)
    venv.install(wheel)
    venv.start()
    assert marker.exists()
    assert blocked(wheel, "WHEEL-PTH-EXEC")


@pytest.mark.parametrize("minor", [10, 11, 12, 13])
def test_path_line_to_a_folder_with_sitecustomize(tmp_path: Path, minor: int) -> None:
    """A path line adds a folder; site then imports the sitecustomize that folder holds."""
    marker = tmp_path / "sc-ran"
    wheel = build_wheel(
        tmp_path / "dist",
        "pathhook",
        files={
            "pathhook/__init__.py": b"",
            "pathhook.pth": b"pathhook_boot\n",
            "pathhook_boot/sitecustomize.py": payload(marker).encode() + b"\n",
        },
    )
    venv = make_venv(tmp_path, minor)
    venv.install(wheel)
    venv.start()
    assert marker.exists(), f"3.{minor} did not import the added folder's sitecustomize"
    assert blocked(wheel, "WHEEL-STARTUP-HOOK")
    assert blocked(wheel, "WHEEL-STARTUP-HOOK", (3, minor))


def test_pth_from_data_platlib_runs(tmp_path: Path) -> None:
    marker = tmp_path / "platlib-ran"
    wheel = build_wheel(
        tmp_path / "dist",
        "plathook",
        files={
            "plathook/__init__.py": b"",
            "plathook-1.0.data/platlib/zz_plathook.pth": b"import os; "
            + payload(marker).encode()
            + b"\n",
        },
    )
    venv = make_venv(tmp_path, 11)
    venv.install(wheel)
    venv.start()
    assert marker.exists()
    assert blocked(wheel, "WHEEL-PTH-EXEC")


def test_double_bracket_console_scripts_replace_pip(tmp_path: Path) -> None:
    """pip strips every bracket from a section header: ``[[console_scripts]]`` installs."""
    wheel = build_wheel(
        tmp_path / "dist",
        "brackets",
        files={
            "brackets/__init__.py": b"def main():\n    pass\n",
            "brackets-1.0.dist-info/entry_points.txt": b"[[console_scripts]]\npip = brackets:main\n",
        },
    )
    venv = make_venv(tmp_path, 11)
    venv.install(wheel)
    script = venv.root / "bin" / "pip"
    assert script.exists() and "brackets" in script.read_text(), "pip did not write the script"
    assert blocked(wheel, "WHEEL-SCRIPT-SHADOW")


def test_dormant_coverage_style_hook_runs_only_with_its_variable(tmp_path: Path) -> None:
    """The low-severity criterion is true: without the variable nothing runs."""
    marker = tmp_path / "dormant-ran"
    inner = (
        'import os\\nif os.getenv("DORMANT_START"):\\n try:\\n  import dormant\\n except:\\n'
        "  pass\\n else:\\n  dormant.boot()"
    )
    wheel = build_wheel(
        tmp_path / "dist",
        "dormant",
        files={
            "dormant/__init__.py": f"def boot():\n    {payload(marker)}\n".encode(),
            "a1_dormant.pth": f"import sys; exec('{inner}')\n".encode(),
        },
    )
    venv = make_venv(tmp_path, 11)
    venv.install(wheel)
    venv.start()
    assert not marker.exists()
    subprocess.run(
        [str(venv.python), "-c", "pass"],
        env={**isolated_env(venv.home), "DORMANT_START": "1"},
        check=False,
        capture_output=True,
    )
    assert marker.exists(), "the hook's own variable did not start it: the test proves nothing"
    res = scan_path(wheel)
    assert [f.severity for f in res.findings if f.rule_id == "WHEEL-PTH-DORMANT"] == [Severity.LOW]
    assert not any(f.severity >= Severity.MEDIUM for f in res.findings)


def test_environment_is_really_isolated() -> None:
    assert "PIP_CONFIG_FILE" in isolated_env(Path(os.devnull))
