"""Rules of ``safe-pip audit``: installed files that no longer match what was installed."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Reinstall the distribution (pip install --force-reinstall through safe-pip), or add an "
    "[[exception]] with this rule id, the package, a reason and an expiry date."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "AUDIT-RECORD-MISMATCH",
        "Installed file differs from its RECORD entry",
        S.HIGH,
        "pip writes the sha256 and size of every file it installs into the distribution's "
        "RECORD. This file's bytes no longer match: it was edited after installation, by a "
        "person, a tool or another package's install step. Code that changed after it was "
        "vetted was never vetted.",
        _EXC,
    ),
    Rule(
        "AUDIT-RECORD-MISSING",
        "File listed in RECORD is gone",
        S.MEDIUM,
        "A file the distribution installed (other than compiled bytecode) no longer exists. "
        "The environment is not what was installed; a deleted file can also change which "
        "module an import finds.",
        _EXC,
    ),
    Rule(
        "AUDIT-RECORD-UNHASHED",
        "RECORD entry has no usable hash",
        S.LOW,
        "The RECORD lists this file without a hash (or with an algorithm safe-pip does not "
        "accept), so its content cannot be checked. Bytecode and RECORD itself are exempt.",
        "Reinstall the distribution with a current pip, which hashes every file.",
    ),
    Rule(
        "AUDIT-NO-RECORD",
        "Distribution has no RECORD",
        S.LOW,
        "Legacy egg-info installs and some system packages carry no RECORD, so none of their "
        "files can be checked against what was installed.",
        "Reinstall the distribution as a wheel through safe-pip.",
    ),
    Rule(
        "AUDIT-METADATA-BROKEN",
        "Distribution metadata is missing or unreadable",
        S.MEDIUM,
        "A *.dist-info folder has no readable METADATA (or no Name), so the package cannot be "
        "identified or checked against the deny list.",
        _EXC,
    ),
    Rule(
        "AUDIT-UNOWNED-STARTUP",
        "Start-up hook not installed by any distribution",
        S.HIGH,
        "A .pth file, sitecustomize.py or usercustomize.py in site-packages that no "
        "distribution's RECORD lists. Python runs these on every start (a .pth line that "
        "starts with 'import' is executed), which makes them a favourite persistence trick.",
        "Remove the file, or add an [[exception]] bound to its sha256.",
    ),
    Rule(
        "AUDIT-INSTALL-UNRECORDED",
        "An install started but never recorded its outcome",
        S.MEDIUM,
        "safe-pip writes an intent record (the vetted files it is about to install) to the "
        "audit log before pip starts, and the outcome after. This intent has no outcome: the "
        "run was killed (SIGKILL, power loss) while pip worked, so the environment may hold "
        "some or all of the listed files without a record of how the install ended. The files "
        "were vetted; what is unknown is whether they all landed.",
        "Check the environment (safe-pip audit lists what is installed) and reinstall through "
        "safe-pip if needed; the finding names the run, so an [[exception]] is not the tool.",
    ),
    Rule(
        "AUDIT-HOOK-MODIFIED",
        "safe-pip's start-up hook was modified",
        S.HIGH,
        "A file that presents itself as safe-pip's per-environment hook (_safe_pip_hook.pth, "
        "_safe_pip_hook.py, or a .pth importing _safe_pip_hook) whose content is not one that "
        "safe-pip wrote (digests in safe_pip/data/own_hooks.json). The hook runs at every "
        "interpreter start and decides whether pip installs pass the gate, so an edited copy "
        "can let installs through or run anything. safe-pip's genuine hook files are "
        "recognised by digest and never reported as foreign start-up hooks.",
        "Run 'safe-pip shim install --env <python>' to rewrite the genuine hook, and find out "
        "who changed it.",
    ),
)
