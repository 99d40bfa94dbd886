"""Reports: the same verdicts rendered for people (text), machines (JSON) and CI (SARIF).

Renderers take a list of :class:`ReportItem` and return a string; they decide
nothing.  The JSON carries ``schema_version`` so consumers can rely on its shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from safe_pip.models import Artifact, ScanResult, Verdict

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class ReportItem:
    result: ScanResult
    verdict: Verdict
    artifact: Artifact | None = None


Renderer = Callable[[Sequence[ReportItem], str], str]


def renderer(fmt: str) -> Renderer:
    """The renderer for ``text``, ``json`` or ``sarif`` (imported on demand)."""
    if fmt == "json":
        from safe_pip.report.json import render as render_json

        return render_json
    if fmt == "sarif":
        from safe_pip.report.sarif import render as render_sarif

        return render_sarif
    from safe_pip.report.text import render as render_text

    return render_text
