"""safe-pip's own start-up hook is recognised by digest in ``scan`` and ``audit``; edits are not.

Genuine hook files (as ``safe-pip shim install`` writes them) must never be reported as a
foreign start-up hook, and any file that presents itself as the hook (by name, or a ``.pth``
importing it) with other content is a high finding in both commands.
"""

from __future__ import annotations

from pathlib import Path

from safe_pip.enforce.hook import hook_files
from safe_pip.inventory.record import unowned_startup
from safe_pip.scan.core.engine import scan_path


def _site(tmp_path: Path, tamper: bool = False) -> Path:
    site = tmp_path / "site-packages"
    site.mkdir()
    for name, data in hook_files().items():
        (site / name).write_bytes(data + (b"\nimport os\n" if tamper else b""))
    (site / "_safe_pip_hook.json").write_text("{}")
    return site


def test_genuine_hook_is_ours_in_scan_and_audit(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert unowned_startup(site, {}) == []
    for name in ("_safe_pip_hook.pth", "_safe_pip_hook.py"):
        result = scan_path(site / name)
        assert result.findings == () and result.inventory.get("safe-pip hook") == 1


def test_modified_hook_is_flagged_in_scan_and_audit(tmp_path: Path) -> None:
    site = _site(tmp_path, tamper=True)
    rules = sorted(f.rule_id for f in unowned_startup(site, {}))
    assert rules == ["AUDIT-HOOK-MODIFIED", "AUDIT-HOOK-MODIFIED"]
    for name in ("_safe_pip_hook.pth", "_safe_pip_hook.py"):
        assert [f.rule_id for f in scan_path(site / name).findings] == ["SCAN-HOOK-MODIFIED"]


def test_a_pth_borrowing_the_hooks_name_is_not_ours(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "zzz.pth").write_bytes(hook_files()["_safe_pip_hook.pth"])  # genuine bytes, other name
    (site / "other.pth").write_text("import os; os.system('id')\n")
    rules = sorted(f.rule_id for f in unowned_startup(site, {}))
    assert rules == ["AUDIT-HOOK-MODIFIED", "AUDIT-UNOWNED-STARTUP"]
    assert [f.rule_id for f in scan_path(site / "zzz.pth").findings] == ["SCAN-HOOK-MODIFIED"]
