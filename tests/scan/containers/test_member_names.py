"""Member names as the installer reads them: Python's zipfile cuts a name at a NUL byte.

pip installs wheels through ``zipfile``, whose ``ZipInfo`` keeps a member name only up to
its first NUL, so ``evil.pth\\x00.txt`` is installed as ``evil.pth``: a start-up hook that a
scanner reading the raw name never sees.  The test installs such a wheel with real pip in
an isolated venv and starts its interpreter: the hook runs (it creates a marker file), and
the scanner must block the same wheel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest

from safe_pip.scan.core.engine import scan_path
from tests.support.venvs import isolated_env, make_template, venv_python

PLACEHOLDER = "evil_pth_Xtxt"
NUL_NAME = "evil.pth\x00.txt"  # as long as the placeholder, swapped in after writing


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def nul_wheel(marker: Path) -> bytes:
    files = {
        "demo/__init__.py": b"",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        PLACEHOLDER: f"import os; open({str(marker)!r}, 'w').close()\n".encode(),
    }
    record = "".join(
        f"{name.replace(PLACEHOLDER, NUL_NAME)},sha256={_digest(data)},{len(data)}\n"
        for name, data in files.items()
    )
    files["demo-1.0.dist-info/RECORD"] = (record + "demo-1.0.dist-info/RECORD,,\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue().replace(PLACEHOLDER.encode(), NUL_NAME.encode())


@pytest.mark.slow
def test_nul_in_a_wheel_member_name_installs_a_hook_and_blocks(tmp_path: Path) -> None:
    marker = tmp_path / "hook-ran"
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(nul_wheel(marker))
    venv = make_template(tmp_path / "venv")
    python = venv_python(venv)
    env = isolated_env(tmp_path / "home")
    subprocess.run(
        [str(python), "-I", "-m", "pip", "install", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    subprocess.run([str(python), "-c", "pass"], check=True, env=env, timeout=60)
    assert marker.exists()  # pip installed evil.pth and site ran it
    res = scan_path(wheel)
    blocking = {f.rule_id for f in res.findings if int(f.severity) >= 2}
    assert "ZIP-NAME-TRUNCATED" in blocking, res.findings


def test_nul_in_a_member_name_is_reported(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(nul_wheel(tmp_path / "never"))
    finding = next(f for f in scan_path(wheel).findings if f.rule_id == "ZIP-NAME-TRUNCATED")
    assert "'evil.pth'" in finding.message
