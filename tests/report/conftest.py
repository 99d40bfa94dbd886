"""Inputs every command can report on, built in seconds: no venvs, no network."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from tests.scan.pickles import evil

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PA_SDIST = FIXTURES / "sigstore" / "pep740" / "pypi_attestations-0.0.19.tar.gz"
PA_PUBLISHER = "github:trailofbits/pypi-attestations@release.yml"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


@pytest.fixture
def site_packages(tmp_path: Path) -> Path:
    """A site-packages folder laid out the way pip writes one: a distribution whose RECORD
    pins its files, one of them changed since, and a malicious pickle it ships."""
    site = tmp_path / "site-packages"
    files = {
        "modelpkg/__init__.py": b'"""modelpkg"""\n',
        "modelpkg/weights.bin": evil("os", "system", "true"),
    }
    meta = site / "modelpkg-1.0.dist-info"
    meta.mkdir(parents=True)
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: modelpkg\nVersion: 1.0\n")
    (meta / "INSTALLER").write_text("pip\n")
    record += ["modelpkg-1.0.dist-info/METADATA,,", "modelpkg-1.0.dist-info/RECORD,,"]
    (meta / "RECORD").write_text("\n".join(record) + "\n")
    (site / "modelpkg/__init__.py").write_bytes(b"import os  # added after install\n")
    return site
