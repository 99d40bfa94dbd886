"""End to end: one file, one name: what the resolver judged a wheel, pip must not build.

pip decides from a file's name alone whether it holds a wheel (unpacked as it is) or a source
archive (whose build backend it runs), and it takes that name from the URL with
``urlsplit``, keeping ``;params`` and ``@``. unearth, the index reader under safe-pip's
resolver, reads the name with ``urlparse`` and cuts it at the last ``@``. So an index that
lists ``pwn-1.0-py3-none-any.whl;.zip`` showed the resolver a wheel, while the quarantined
copy, named after the URL, reached the final pip as a zip archive: pip unpacked it and ran the
``pyproject.toml`` backend at its root, after every verdict, on a file judged a wheel.

The payload is a real wheel that is also a buildable source tree: its in-tree backend
touches a marker when imported. No marker may appear, nothing may be installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate.conftest import Runner
from tests.support.index_server import IndexServer
from tests.support.venvs import installed
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

BACKEND = """
import pathlib
pathlib.Path({marker!r}).write_text("backend ran")


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("never gets this far")
"""


def two_faced_wheel(out: Path, marker: Path) -> Path:
    """A valid wheel of ``pwn`` 1.0 whose root is also a source tree with an in-tree backend."""
    files = {
        "pwn/__init__.py": b"VALUE = 1\n",
        "pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "pwnbackend"\nbackend-path = ["."]\n'
        ),
        "pwnbackend.py": BACKEND.format(marker=str(marker)).encode(),
    }
    return build_wheel(out, "pwn", "1.0", files)


@pytest.mark.parametrize("suffix", [";.zip", "@.zip", ";x.tar.gz"])
def test_a_link_pip_reads_as_a_source_archive_is_never_built(
    suffix: str, index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    wheel = two_faced_wheel(tmp_path / "w", marker)
    listed = wheel.rename(wheel.with_name(wheel.name + suffix))
    entry = index.add(listed)
    entry.project = "pwn"  # the index lists it on pwn's page, as an attacker's index would
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "pwn")
    assert r.code == 2, r.stdout + r.stderr  # an index that lists such a name is an error
    assert not marker.exists(), "pip ran the backend of a file the gate judged a wheel"
    assert "pwn" not in installed(venv)
    assert "to pip but" in r.stdout + r.stderr
