"""Hash pins: the user's ``--hash`` lines and the policy's ``[[package]] hashes``.

safe-pip installs from its own requirements file (naming the quarantined
files with the hashes *it* computed), so pip never sees the user's ``--hash``
options at install time.  This module reads them from the requirement files and
checks the real digest against them, and against the policy's pins.  A pin
that does not match is a finding (exit 1), never something to "fix up".

``[hashes] require``: ``always`` makes an artifact without any pin a finding;
``pinned`` and ``never`` only enforce the pins that exist (a pin is a pin).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from safe_pip.errors import SafePipError
from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

_HASH = re.compile(r"--hash[=\s]+(\w+):([0-9a-fA-F]+)")
MAX_DEPTH = 16


@dataclass(frozen=True)
class RequirementLine:
    """One requirement from a requirements file, with where it was written."""

    spec: str
    hashes: frozenset[str]
    """sha256 hex digests given with ``--hash`` (other algorithms are rejected)."""
    editable: bool
    where: str


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw
        if not buf:
            start = number
        # A comment starts at '#' at the line start or after whitespace (pip's rule).
        line = re.sub(r"(^|\s+)#.*$", "", line)
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        yield start, " ".join(buf).strip()
        buf = []
    if buf:
        yield start, " ".join(buf).strip()


def read_requirement_files(
    files: Iterable[Path], *, _depth: int = 0, _seen: set[Path] | None = None
) -> list[RequirementLine]:
    """Requirements with their hashes, following nested ``-r``/``-c`` like pip."""
    seen = _seen if _seen is not None else set()
    result: list[RequirementLine] = []
    for file in files:
        if _depth > MAX_DEPTH:
            raise SafePipError(f"requirement files nested deeper than {MAX_DEPTH} at {file}")
        resolved = file.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        if str(file).startswith(("http:", "https:")):
            raise SafePipError(
                f"remote requirement files are not supported by safe-pip: {file}; "
                "download it and pass the local copy"
            )
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SafePipError(f"cannot read requirements file {file}: {exc}") from exc
        for number, line in _logical_lines(text):
            if not line:
                continue
            where = f"{file}:{number}"
            try:
                tokens = shlex.split(line, posix=True)
            except ValueError:
                tokens = line.split()
            head = tokens[0] if tokens else ""
            nested = _nested_file(tokens)
            if nested is not None:
                result += read_requirement_files(
                    [file.parent / nested], _depth=_depth + 1, _seen=seen
                )
                continue
            if (
                head.startswith("-")
                and head not in ("-e", "--editable")
                and not head.startswith("--editable=")
            ):
                continue  # a global option line (--index-url, --find-links...)
            editable = head in ("-e", "--editable") or head.startswith("--editable=")
            spec_tokens = [t for t in tokens if not t.startswith("-")]
            if editable and head in ("-e", "--editable") and len(tokens) > 1:
                spec_tokens = [tokens[1]]
            hashes: set[str] = set()
            for algo, digest in _HASH.findall(line):
                if algo.lower() != "sha256":
                    raise SafePipError(f"{where}: only sha256 hashes are supported, not {algo}")
                hashes.add(digest.lower())
            spec = spec_tokens[0] if spec_tokens else line
            result.append(RequirementLine(spec, frozenset(hashes), editable, where))
    return result


def _nested_file(tokens: list[str]) -> str | None:
    if not tokens:
        return None
    head = tokens[0]
    for opt in ("-r", "--requirement", "-c", "--constraint"):
        if head == opt and len(tokens) > 1:
            return tokens[1]
        if head.startswith(opt + "=") or (len(opt) == 2 and head.startswith(opt) and head != opt):
            return head.split("=", 1)[1] if "=" in head else head[2:]
    return None


def pins_from_requirements(lines: Iterable[RequirementLine]) -> dict[str, frozenset[str]]:
    """Project name → allowed sha256 digests, from requirement lines that carry hashes."""
    pins: dict[str, set[str]] = {}
    for line in lines:
        if not line.hashes:
            continue
        try:
            name = canonicalize_name(Requirement(line.spec).name)
        except InvalidRequirement:
            egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", line.spec)
            if egg is None:
                continue
            name = canonicalize_name(egg.group(1))
        pins.setdefault(name, set()).update(line.hashes)
    return {name: frozenset(digests) for name, digests in pins.items()}


def _normalise(digest: str) -> str:
    return digest.split(":", 1)[1].lower() if ":" in digest else digest.lower()


def hash_findings(
    name: str,
    version: str,
    sha256: str,
    *,
    user_pins: Mapping[str, frozenset[str]],
    policy: Policy,
    location: str,
) -> list[Finding]:
    """Findings for one artifact's digest against the user's and the policy's pins."""
    findings: list[Finding] = []
    canon = canonicalize_name(name)
    user = user_pins.get(canon)
    if user is not None and sha256 not in user:
        findings.append(
            Finding(
                "INSTALL-HASH-PIN-MISMATCH",
                Severity.CRITICAL,
                f"{name} {version} has sha256 {sha256}, which is not among the --hash values "
                f"in the requirements ({', '.join(sorted(user))})",
                location,
                {"sha256": sha256, "expected": sorted(user), "source": "requirements"},
            )
        )
    pinned = policy.for_package(name, version).hashes
    if pinned is not None:
        allowed = {_normalise(d) for d in pinned}
        if sha256 not in allowed:
            findings.append(
                Finding(
                    "INSTALL-HASH-PIN-MISMATCH",
                    Severity.CRITICAL,
                    f"{name} {version} has sha256 {sha256}, which the policy's [[package]] "
                    f"hashes do not allow"
                    + (
                        "" if allowed else " (the pins of the applicable blocks exclude each other)"
                    ),
                    location,
                    {"sha256": sha256, "expected": sorted(allowed), "source": "policy"},
                )
            )
    if policy.hashes.require == "always" and user is None and pinned is None:
        findings.append(
            Finding(
                "INSTALL-HASH-NOT-PINNED",
                Severity.HIGH,
                f'{name} {version} has no hash pin, and [hashes] require = "always"',
                location,
                {"sha256": sha256},
            )
        )
    return findings
