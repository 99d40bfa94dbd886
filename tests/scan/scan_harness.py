"""Run the real ``safe-pip scan`` CLI in a subprocess and read its JSON, for end-to-end tests.

Why a subprocess and not a function call: these tests hold the scanner to its user-facing
contract (exit 0 clean / 1 blocked / 2 error, the JSON report) and to its resource bounds. Only
a separate process shows a crash as exit 2, a hang as a timeout, and its own peak memory.

The JSON contract relied on: a top-level ``schema_version``; per target, ``findings`` (each
with ``rule_id``, ``severity``, ``location``, ``message``), ``skipped`` (each with a
``location``) and ``decision``. Findings and skipped entries are collected wherever they sit in
the document, so the tests do not depend on how targets are nested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

#: Severity names in the JSON, weakest first (``safe_pip.models.Severity``).
SEVERITY_ORDER: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

EXIT_CLEAN = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2


def severity_rank(name: object) -> int:
    """Rank of a severity name; an unknown one ranks as the worst, so tests fail closed."""
    if isinstance(name, str) and name.lower() in SEVERITY_ORDER:
        return SEVERITY_ORDER.index(name.lower())
    return len(SEVERITY_ORDER)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@dataclass(frozen=True)
class ScanRun:
    """What one ``safe-pip scan`` process did: exit code, output, parsed report, peak memory."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    peak_rss_kib: int
    timed_out: bool = False
    report: Any = field(default=None)
    json_error: str | None = None

    def findings(self) -> list[dict[str, Any]]:
        """Every finding object anywhere in the report (a dict with ``rule_id``)."""
        return [n for n in _walk(self.report) if isinstance(n, dict) and "rule_id" in n]

    def findings_at_least(self, severity: str) -> list[dict[str, Any]]:
        """Findings of ``severity`` or worse."""
        floor = severity_rank(severity)
        return [f for f in self.findings() if severity_rank(f.get("severity")) >= floor]

    def skipped(self) -> list[dict[str, Any]]:
        """Every entry of every ``skipped`` list in the report."""
        out: list[dict[str, Any]] = []
        for node in _walk(self.report):
            if isinstance(node, dict) and isinstance(node.get("skipped"), list):
                out.extend(e for e in node["skipped"] if isinstance(e, dict))
        return out

    def decisions(self) -> list[Any]:
        """Every ``decision`` value in the report (one per target)."""
        return [
            n["decision"] for n in _walk(self.report) if isinstance(n, dict) and "decision" in n
        ]

    def describe(self, limit: int = 8) -> str:
        """A failure message a person can act on: exit code, first findings, stderr tail."""
        lines = [
            f"$ {' '.join(self.argv)}",
            f"exit {self.returncode}{' (timed out)' if self.timed_out else ''}, "
            f"peak RSS {self.peak_rss_kib / 1024:.0f} MiB",
        ]
        if self.json_error:
            lines.append(
                f"stdout is not JSON: {self.json_error}; stdout head: {self.stdout[:500]!r}"
            )
        findings = self.findings()
        lines.append(f"{len(findings)} finding(s):")
        for f in findings[:limit]:
            lines.append(
                f"  [{f.get('severity')}] {f.get('rule_id')} at {f.get('location')}: "
                f"{str(f.get('message'))[:200]}"
            )
        if len(findings) > limit:
            lines.append(f"  ... {len(findings) - limit} more")
        skipped = self.skipped()
        if skipped:
            lines.append(f"{len(skipped)} skipped, e.g. {skipped[:3]}")
        if self.stderr.strip():
            lines.append("stderr tail: " + self.stderr.strip()[-1500:])
        return "\n".join(lines)


def isolated_env(home: Path) -> dict[str, str]:
    """The parent's environment without pip/safe-pip settings, with a throw-away HOME.

    A developer's own policy file, pip config or colour settings must not change a verdict in
    a test, so they are cut off here.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "SAFE_PIP_", "XDG_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PIP_CONFIG_FILE=os.devnull,
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_scan(
    paths: Sequence[Path | str],
    *,
    fmt: str = "json",
    timeout: float = 300.0,
    extra_args: Sequence[str] = (),
) -> ScanRun:
    """Run ``python -m safe_pip scan --format FMT PATH...`` and measure that process alone.

    Peak memory comes from ``os.wait4`` on the child's pid: it is that one process's
    high-water mark (``RUSAGE_CHILDREN`` would be the maximum over every child this pytest
    process ever reaped, so an earlier big scan would hide a later one). A scan still running
    after ``timeout`` seconds is killed and reported as timed out: a hang is a failure too.
    """
    argv = (sys.executable, "-m", "safe_pip", "scan", "--format", fmt, *extra_args)
    argv += tuple(str(p) for p in paths)
    with tempfile.TemporaryDirectory(prefix="safe-pip-scan-") as tmp:
        tmpdir = Path(tmp)
        home = tmpdir / "home"
        home.mkdir()
        out_path, err_path = tmpdir / "stdout", tmpdir / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=isolated_env(home), cwd=tmpdir,
            )  # fmt: skip
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                proc.kill()

            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
        stdout = out_path.read_text(encoding="utf-8", errors="replace")
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
    report: Any = None
    json_error: str | None = None
    if fmt == "json":
        try:
            report = json.loads(stdout)
        except json.JSONDecodeError as exc:
            json_error = str(exc)
    return ScanRun(
        argv=argv,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        peak_rss_kib=usage.ru_maxrss,  # KiB on Linux
        timed_out=timed_out.is_set(),
        report=report,
        json_error=json_error,
    )


def assert_valid_report(run: ScanRun) -> None:
    """The process finished, printed JSON with a schema_version, and did not crash (exit 2)."""
    assert not run.timed_out, run.describe()
    assert run.returncode in (EXIT_CLEAN, EXIT_BLOCKED), run.describe()
    assert run.json_error is None, run.describe()
    assert isinstance(run.report, dict) and "schema_version" in run.report, run.describe()
