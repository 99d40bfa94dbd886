"""Rules of the threat-intelligence step: OSV malicious-package and vulnerability records."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "INTEL-MALICIOUS",
        "Reported as a malicious package",
        S.CRITICAL,
        "An OSV malicious-package record (a MAL- id from the OpenSSF malicious-packages "
        "feed) names this project and version, or lists a file with exactly this sha256 (a "
        "renamed re-upload of the same bytes is caught too). Most such packages are plain "
        "code that runs on install or import; the report is what is known about it. It "
        "always blocks.",
        "Only a deliberate [[exception]] bound to the file's sha256 allows it, with a reason "
        "(for example, a record you have confirmed to be a false report).",
    ),
    Rule(
        "INTEL-VULNERABLE",
        "Known vulnerability",
        S.MEDIUM,
        "An OSV vulnerability record (PYSEC, GHSA, ...) says this version is affected. The "
        "finding's severity is the record's (its CVSS base score, else its GHSA rating; a "
        "record that states none counts as medium), and the message names the first fixed "
        "version. Whether it blocks is [intel] vulnerabilities: warn, block-critical, "
        "block-high, block-medium or block-all.",
        "Upgrade to the fixed version; or add an [[intel.ignore]] entry with the advisory id, "
        'a reason and an expiry; or set [intel] vulnerabilities = "warn".',
    ),
    Rule(
        "INTEL-STALE",
        "Threat-intelligence data is too old",
        S.MEDIUM,
        "The local OSV database was synced longer ago than [intel] max_age, or claims a sync "
        "time in the future (a clock change or an edited file): packages reported since "
        "then are not known to this check. [intel] on_stale decides whether this warns or "
        "blocks.",
        "Run 'safe-pip intel sync' (or --from a mirror or a local copy when offline).",
    ),
    Rule(
        "INTEL-UNAVAILABLE",
        "No threat-intelligence data",
        S.MEDIUM,
        "There is no local OSV database, or it cannot be read, so no artifact was checked "
        "against known-malicious and vulnerability records. [intel] on_stale decides whether "
        "this warns or blocks.",
        "Run 'safe-pip intel sync' (or --from a mirror or a local copy when offline).",
    ),
)
