"""Turn safe-pip's SARIF report into GitHub annotations and a job summary (action.yml).

Code scanning shows the SARIF alerts once uploaded; the annotations put each finding on the
requirements file in the pull request and the job log, and the summary lists them, so a
reader sees what was blocked without opening another page.  Stdlib only: it runs in the
action's safe-pip venv.

Usage: python scripts/sarif_annotations.py REPORT.sarif REQUIREMENTS-FILE...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping (properties also escape ``:`` and ``,``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def findings(sarif: dict[str, Any]) -> list[tuple[bool, str, str, str]]:
    """``(blocking, rule id, where, message)`` for every result in the report."""
    out = []
    for run in sarif.get("runs", []):
        for result in run.get("results", []):
            props = result.get("properties", {})
            where = ""
            for loc in result.get("locations", []):
                where = loc.get("physicalLocation", {}).get("artifactLocation", {}).get("uri", "")
                logical = loc.get("logicalLocations", [])
                if logical:
                    where = logical[0].get("fullyQualifiedName", where)
            message = result.get("message", {}).get("text", "")
            out.append((bool(props.get("blocking")), result.get("ruleId", "?"), where, message))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    report, requirements = Path(argv[0]), argv[1:]
    try:
        sarif = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"::error::safe-pip wrote no readable SARIF report ({exc})")
        return 0  # the vet step's exit code says what happened; this only reports
    file = requirements[0] if requirements else ""
    rows = findings(sarif)
    for blocking, rule, where, message in rows:
        level = "error" if blocking else "warning"
        props = f"file={_escape(file, prop=True)},title={_escape(rule, prop=True)}"
        print(f"::{level} {props}::{_escape(f'{where}: {message}')}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        lines = [f"### safe-pip: {', '.join(requirements) or 'requirements'}", ""]
        if rows:
            lines += ["| | rule | where | message |", "|---|---|---|---|"]
            lines += [
                f"| {'BLOCK' if b else 'warn'} | `{r}` | `{w}` | {m.replace('|', '/')} |"
                for b, r, w, m in rows
            ]
        else:
            lines.append("Every file was allowed; no findings.")
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
