"""Record the digests of the hook files this release writes in src/safe_pip/data/own_hooks.json.

Run after changing ``src/safe_pip/enforce/_safe_pip_hook.py`` (or the ``.pth`` line): the
entries of the current release are replaced, earlier releases' entries are kept (marked not
current) so that ``audit`` and ``scan`` still recognise hooks already installed.
``tests/enforce/test_hook_units.py`` fails until this has been run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from safe_pip import __version__, own_hooks  # noqa: E402
from safe_pip.enforce.hook import hook_files  # noqa: E402

REASONS = {
    "_safe_pip_hook.pth": "safe-pip's per-environment hook: its one line imports _safe_pip_hook "
    "and arms it, so pip's install, download, wheel and lock go through the safe-pip gate "
    "however pip is started (written by 'safe-pip shim install')",
    "_safe_pip_hook.py": "safe-pip's per-environment hook module: wraps pip's "
    "RequirementCommand.run so that pip hands requirement-resolving commands to safe-pip; "
    "standard library only (written by 'safe-pip shim install')",
}


def main() -> int:
    path = ROOT / "src" / "safe_pip" / "data" / "own_hooks.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    current = {own_hooks.digest(data): name for name, data in hook_files().items()}
    entries = [e for e in doc["files"] if e["sha256"] not in current]
    for entry in entries:
        if entry["release"] == __version__:
            continue
        entry["current"] = False
    entries = [e for e in entries if e["release"] != __version__]
    for sha, name in current.items():
        entries.append(
            {"name": name, "release": __version__, "current": True, "sha256": sha,
             "reason": REASONS[name]}
        )  # fmt: skip
    doc["files"] = entries
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"{path}: {len(current)} current files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
