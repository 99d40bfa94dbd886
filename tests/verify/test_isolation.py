"""The fake sigstore stays in tests; the production root is the one sigstore ships."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from safe_pip.rules import all_rules
from safe_pip.verify.trust import embedded_root_json, load_trusted_root

ROOT = Path(__file__).resolve().parents[2]


def test_src_never_imports_the_fake() -> None:
    for py in (ROOT / "src").rglob("*.py"):
        assert "fakesigstore" not in py.read_text(), py


def test_fake_refuses_to_load_outside_pytest() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests' / 'support')!r}); import fakesigstore"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode != 0 and "test helper" in proc.stderr


def test_default_root_is_sigstores_embedded_production_root() -> None:
    root = load_trusted_root(None)
    assert any("rekor.sigstore.dev" in t.base_url for t in root._inner.tlogs)
    assert b"sigstage" not in embedded_root_json()


def test_verify_rules_are_registered() -> None:
    ids = set(all_rules())
    assert {
        "SIG-MISSING",
        "SIG-INVALID",
        "SIG-WRONG-PUBLISHER",
        "SIG-UNPINNED",
        "MODEL-SIG-INVALID",
        "MODEL-SIG-UNVERIFIABLE",
    } <= ids


def test_verify_command_imports_no_sigstore_at_startup() -> None:
    code = "import sys, safe_pip.cli as c; c.build_parser(); print('sigstore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
