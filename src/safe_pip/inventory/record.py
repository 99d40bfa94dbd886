"""Check installed files against RECORD: a file changed after install is a finding.

pip hashes what it installs; comparing now against then is the only way to see
an installed package edited in place (a patched ``__init__.py``, a swapped
model file).  Compiled bytecode is exempt (pip records ``.pyc`` without hashes
and Python rewrites them), and so is RECORD itself, which cannot hash itself.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from safe_pip import own_hooks
from safe_pip.inventory.dists import InstalledDist, RecordEntry
from safe_pip.models import Finding, Severity

ACCEPTED = frozenset(["sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b"])
_CHUNK = 1 << 20


def _digest(path: Path, algorithm: str) -> tuple[str, int]:
    h = hashlib.new(algorithm)
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii"), size


def _exempt(entry: RecordEntry, dist: InstalledDist) -> bool:
    name = entry.path.name
    return name.endswith((".pyc", ".pyo")) or entry.path == dist.metadata_dir / "RECORD"


def check(dist: InstalledDist) -> tuple[list[Finding], int]:
    """Findings for one distribution, and how many files were verified by hash."""
    findings: list[Finding] = []
    for problem in dist.problems:
        findings.append(
            Finding(
                "AUDIT-METADATA-BROKEN",
                Severity.MEDIUM,
                f"{dist.metadata_dir.name}: {problem}",
                str(dist.metadata_dir),
            )
        )
    if dist.record is None:
        findings.append(
            Finding(
                "AUDIT-NO-RECORD",
                Severity.LOW,
                f"{dist.label} has no RECORD; its files cannot be checked",
                str(dist.metadata_dir),
            )
        )
        return findings, 0
    verified = 0
    for entry in dist.record:
        if _exempt(entry, dist):
            continue
        if not entry.path.exists():
            findings.append(
                Finding(
                    "AUDIT-RECORD-MISSING",
                    Severity.MEDIUM,
                    f"{entry.raw} is listed in {dist.label}'s RECORD but does not exist",
                    str(entry.path),
                    {"package": dist.name, "record_path": entry.raw},
                )
            )
            continue
        algo = (entry.algorithm or "").lower()
        if not entry.digest or algo not in ACCEPTED:
            findings.append(
                Finding(
                    "AUDIT-RECORD-UNHASHED",
                    Severity.LOW,
                    f"{entry.raw} has no usable hash in {dist.label}'s RECORD "
                    f"({entry.algorithm or 'none'})",
                    str(entry.path),
                    {"package": dist.name},
                )
            )
            continue
        try:
            actual, size = _digest(entry.path, algo)
        except OSError as exc:
            findings.append(
                Finding(
                    "AUDIT-RECORD-MISMATCH",
                    Severity.HIGH,
                    f"{entry.raw} cannot be read to check it: {exc.strerror or exc}",
                    str(entry.path),
                    {"package": dist.name},
                )
            )
            continue
        verified += 1
        if actual != entry.digest or (entry.size is not None and size != entry.size):
            findings.append(
                Finding(
                    "AUDIT-RECORD-MISMATCH",
                    Severity.HIGH,
                    f"{entry.raw} changed after {dist.label} was installed "
                    f"(RECORD {algo}={entry.digest} size {entry.size}; "
                    f"now {algo}={actual} size {size})",
                    str(entry.path),
                    {
                        "package": dist.name,
                        "expected": entry.digest,
                        "actual": actual,
                        "expected_size": entry.size,
                        "size": size,
                    },
                )
            )
    return findings, verified


def owned_paths(dists: list[InstalledDist]) -> dict[Path, InstalledDist]:
    """Every file some RECORD lists, mapped to the distribution that installed it."""
    owners: dict[Path, InstalledDist] = {}
    for dist in dists:
        for entry in dist.record or ():
            owners.setdefault(entry.path, dist)
    return owners


STARTUP_NAMES = ("sitecustomize.py", "usercustomize.py")


def unowned_startup(site_dir: Path, owners: dict[Path, InstalledDist]) -> list[Finding]:
    """Start-up files no RECORD lists; safe-pip's own hook is recognised by its digest."""
    findings: list[Finding] = []
    try:
        children = sorted(site_dir.iterdir())
    except OSError:
        return findings
    for child in children:
        hook_file = child.name in own_hooks.HOOK_FILES
        if not (child.suffix == ".pth" or child.name in STARTUP_NAMES or hook_file):
            continue
        if not child.is_file() or Path(str(child)) in owners:
            continue
        if own_hooks.recognise(child) is not None:
            continue  # safe-pip's own hook, by digest (data/own_hooks.json gives the reason)
        try:
            claims = own_hooks.claims_to_be_hook(child.name, child.read_bytes())
        except OSError:
            claims = hook_file
        if claims:
            findings.append(
                Finding(
                    "AUDIT-HOOK-MODIFIED",
                    Severity.HIGH,
                    f"{child.name} presents itself as safe-pip's start-up hook but its content "
                    "is not one safe-pip wrote",
                    str(child),
                )
            )
            continue
        if hook_file:
            continue
        findings.append(
            Finding(
                "AUDIT-UNOWNED-STARTUP",
                Severity.HIGH,
                f"{child.name} runs at every interpreter start and no installed "
                "distribution's RECORD lists it",
                str(child),
            )
        )
    return findings
