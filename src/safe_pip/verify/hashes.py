"""Hash pins: the user's ``--hash`` lines and the policy's ``[[package]] hashes``.

safe-pip installs from its own requirements file (naming the quarantined
files with the hashes *it* computed), so pip never sees the user's ``--hash``
options at install time.  The gate reads them with the rest of pip's input
(``gate/req_files.py``); this module checks the real digest against them, and
against the policy's pins.  A pin
that does not match is a finding (exit 1), never something to "fix up".

``[hashes] require``: ``always`` makes an artifact without any pin a finding;
``pinned`` and ``never`` only enforce the pins that exist (a pin is a pin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy


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
