"""Shared fixtures for the signature tests: real fixture paths, no network, fake sigstore.

Every test here runs with sockets blocked and TUF instrumented: if anything
tried to refresh sigstore's trust metadata or open a connection, the test fails.
HOME points at an empty folder so no cached trusted root can be picked up.
"""

from __future__ import annotations

import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import fakesigstore as fs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIGSTORE = FIXTURES / "sigstore"
MODELS = FIXTURES / "model-signing"

RFC_WHEEL = SIGSTORE / "bundles" / "rfc8785-0.1.2-py3-none-any.whl"
RFC_SAN = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
GH_ISSUER = "https://token.actions.githubusercontent.com"
MODELS_SDIST = SIGSTORE / "bundles" / "pypi_attestation_models-0.0.4a2.tar.gz"
PA_SDIST = SIGSTORE / "pep740" / "pypi_attestations-0.0.19.tar.gz"
PA_PUBLISHER = "github:trailofbits/pypi-attestations@release.yml"
GL_SDIST = SIGSTORE / "pep740" / "gitlab_oidc_project-0.0.3.tar.gz"
GL_PUBLISHER = "gitlab:facutuesca/gitlab-oidc-project@.gitlab-ci.yml"
MODEL_SAN = "stefanb@us.ibm.com"
MODEL_ISSUER = "https://sigstore.verify.ibm.com/oauth2"


@pytest.fixture(autouse=True)
def offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Cut the network and record any TUF use; fail the test if either happened."""
    attempts: list[str] = []

    def no_connect(self: socket.socket, address: Any) -> None:
        attempts.append(f"connect {address!r}")
        raise OSError("network disabled in tests")

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {args[:1]!r}")
        raise socket.gaierror("network disabled in tests")

    from sigstore._internal import tuf

    real_init = tuf.TrustUpdater.__init__

    def tuf_init(self: Any, *args: Any, **kwargs: Any) -> None:
        attempts.append("TUF TrustUpdater created")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(tuf.TrustUpdater, "__init__", tuf_init)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    yield attempts
    assert attempts == [], f"network or TUF used during an offline test: {attempts}"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A writable copy of the real fixtures (tests tamper with them)."""
    shutil.copytree(SIGSTORE, tmp_path / "sigstore")
    shutil.copytree(MODELS, tmp_path / "model-signing")
    return tmp_path


@pytest.fixture
def fake(tmp_path: Path) -> tuple[fs.FakeSigstore, Path]:
    """A throwaway sigstore (test CA, CT log, transparency log) and its trusted root file."""
    f = fs.FakeSigstore()
    return f, f.write_root(tmp_path / "fake_root.json")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A small real wheel to sign."""
    p = tmp_path / "acme_widget-1.0-py3-none-any.whl"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("acme_widget/__init__.py", "")
    return p


def run_verify(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    """``safe-pip verify ARGV`` in-process: exit code and everything it printed."""
    from safe_pip.cli import main

    rc = main(["verify", *map(str, argv)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out + out.err
