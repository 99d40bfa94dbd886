"""A blocked install says what to do next, and following it word for word works.

The seed attack is blocked; the report's last step names the user's policy file and gives
the ``[[exception]]`` tables.  Written there exactly as printed, the same install goes
through (for that exact file), which is what "ready to paste" has to mean.  A block made by a
setting (an sdist the policy does not build) gives that setting's lines and file the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.gate.conftest import Dists, Runner
from tests.gate.test_build_e2e import helper, project, sdist_of
from tests.support.attacks import evil_wheel
from tests.support.index_server import IndexServer

pytestmark = pytest.mark.slow


def test_the_offered_exception_pasted_where_it_says_lets_the_install_through(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path, home: Path
) -> None:
    marker = tmp_path / "PWNED"
    index.add(evil_wheel(tmp_path / "w", marker, name="torchvision-optimized", version="0.1"))
    blocked = safe_pip("--python", venv, "-i", index.simple_url, "torchvision-optimized")
    assert blocked.code == 1, blocked.stdout + blocked.stderr
    out = blocked.stdout
    assert "next  PICKLE-GLOBAL-DANGEROUS: Pickle imports a known code-execution gadget" in out
    assert "safe-pip policy explain NAME-TYPOSQUAT" in out
    assert f"report it to the index it came from (http://127.0.0.1:{index.port})" in out
    found = re.search(r"add to your user policy (\S+):\n((?:          .*\n|\n)+)", out)
    assert found, out
    policy_file = Path(found.group(1))
    assert policy_file == home / "config" / "safe-pip" / "policy.toml"
    pasted = "\n".join(line[10:] for line in found.group(2).splitlines())
    policy_file.parent.mkdir(parents=True)
    policy_file.write_text("version = 1\n" + pasted + "\n")

    allowed = safe_pip("--python", venv, "-i", index.simple_url, "torchvision-optimized")
    assert allowed.code == 0, allowed.stdout + allowed.stderr
    assert "exception (TODO: who reviewed this exact file" in allowed.stdout
    assert dists(venv)["torchvision-optimized"] == "0.1"
    assert not marker.exists()


def test_a_refused_sdist_offers_the_switch_and_pasting_it_builds_through_the_gate(
    index: IndexServer, venv: Path, safe_pip: Runner, dists: Dists, tmp_path: Path, home: Path
) -> None:
    """A block with no file to except (the resolver refused to build) still ends with the
    exact policy lines and their file; written there, the same install builds and installs."""
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "src", "srcproj", ran)
    index.add(sdist_of(tree, tmp_path / "dist", "srcproj"))
    index.add(helper(tmp_path / "w"))
    blocked = safe_pip("--python", venv, "-i", index.simple_url, "srcproj")
    assert blocked.code == 1, blocked.stdout + blocked.stderr
    out = blocked.stdout
    assert "srcproj-1.0.tar.gz is only an sdist" in out and "quarantine" not in out
    assert "next  SDIST-REFUSED: " in out and "safe-pip policy explain SDIST-REFUSED" in out
    found = re.search(
        r"allow this by policy\? put in your user policy (\S+):\n((?: {10}.*\n)+)", out
    )
    assert found, out
    policy_file = Path(found.group(1))
    assert policy_file == home / "config" / "safe-pip" / "policy.toml"
    pasted = "\n".join(line[10:] for line in found.group(2).splitlines())
    assert pasted == "[install]\nallow_sdist = true"
    assert not ran.exists()
    policy_file.parent.mkdir(parents=True)
    policy_file.write_text("version = 1\n" + pasted + "\n")

    allowed = safe_pip("--python", venv, "-i", index.simple_url, "srcproj")
    assert allowed.code == 0, allowed.stdout + allowed.stderr
    assert dists(venv)["srcproj"] == "1.0" and ran.exists()
