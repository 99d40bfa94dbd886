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
import signal
import subprocess
import sys
import tempfile
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

    def _lists(self, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for node in _walk(self.report):
            if isinstance(node, dict) and isinstance(node.get(key), list):
                out.extend(e for e in node[key] if isinstance(e, dict))
        return out

    def findings(self) -> list[dict[str, Any]]:
        """Every entry of every ``findings`` list (per target), wherever it is nested.

        Only ``findings`` lists count: entries a policy exception moved elsewhere (the
        report's ``excepted``) are not findings the default policy acts on.
        """
        return self._lists("findings")

    def findings_at_least(self, severity: str) -> list[dict[str, Any]]:
        """Findings of ``severity`` or worse."""
        floor = severity_rank(severity)
        return [f for f in self.findings() if severity_rank(f.get("severity")) >= floor]

    def skipped(self) -> list[dict[str, Any]]:
        """Every entry of every ``skipped`` list in the report."""
        return self._lists("skipped")

    def inventory(self) -> dict[str, int]:
        """What the scanner says it looked at, summed over targets (kind -> count)."""
        total: dict[str, int] = {}
        for node in _walk(self.report):
            if isinstance(node, dict) and isinstance(node.get("inventory"), dict):
                for kind, count in node["inventory"].items():
                    if isinstance(count, int):
                        total[kind] = total.get(kind, 0) + count
        return total

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


#: Runs argv[2:], writes its child's peak RSS (KiB) to argv[1], exits with the child's code.
#: Why a wrapper: a child's ru_maxrss starts from the high-water mark of whoever forked it
#: (Linux carries the pre-exec memory into the count), so measured straight from pytest every
#: scan would look at least as big as pytest itself. A fresh, small interpreter in between
#: puts the floor at ~15 MiB and measures the scan alone.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(rss))\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def run_scan(
    paths: Sequence[Path | str],
    *,
    fmt: str = "json",
    timeout: float = 300.0,
    extra_args: Sequence[str] = (),
) -> ScanRun:
    """Run ``python -m safe_pip scan --format FMT PATH...`` and measure that process alone.

    Peak memory is the scan process's own high-water mark (see ``RSS_WRAPPER``). A scan still
    running after ``timeout`` seconds is killed with its process group and reported as timed
    out: a hang is a failure too.
    """
    argv = (sys.executable, "-m", "safe_pip", "scan", "--format", fmt, *extra_args)
    argv += tuple(os.path.abspath(p) for p in paths)  # the scan runs in a temp cwd
    with tempfile.TemporaryDirectory(prefix="safe-pip-scan-") as tmp:
        tmpdir = Path(tmp)
        home = tmpdir / "home"
        home.mkdir()
        out_path, err_path = tmpdir / "stdout", tmpdir / "stderr"
        rss_path = tmpdir / "rss"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", RSS_WRAPPER, str(rss_path), *argv],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=isolated_env(home), cwd=tmpdir, start_new_session=True,
            )  # fmt: skip
            try:
                returncode = proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                returncode = proc.wait()
                timed_out = True
        stdout = out_path.read_text(encoding="utf-8", errors="replace")
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
        rss_text = rss_path.read_text() if rss_path.exists() else ""
    report: Any = None
    json_error: str | None = None
    if fmt == "json":
        try:
            report = json.loads(stdout)
        except json.JSONDecodeError as exc:
            json_error = str(exc)
    return ScanRun(
        argv=argv,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        peak_rss_kib=int(rss_text) if rss_text.strip() else -1,  # KiB on Linux
        timed_out=timed_out,
        report=report,
        json_error=json_error,
    )


def assert_valid_report(run: ScanRun) -> None:
    """The process finished, printed JSON with a schema_version, and did not crash (exit 2)."""
    assert not run.timed_out, run.describe()
    assert run.returncode in (EXIT_CLEAN, EXIT_BLOCKED), run.describe()
    assert run.json_error is None, run.describe()
    assert isinstance(run.report, dict) and "schema_version" in run.report, run.describe()
