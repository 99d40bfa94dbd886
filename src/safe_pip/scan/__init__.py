"""The scanner: open every artifact and nested member, sniff by content, never execute.

Public entry points live in :mod:`safe_pip.scan.engine`: ``scan_path`` for a file
or folder and ``scan_paths`` for several.  Each format reader takes a byte source
plus limits and reports findings into a :class:`~safe_pip.scan.context.ScanContext`;
readers know nothing of pip or policy.
"""

SCANNER_VERSION = "1"
"""Bumped whenever a reader or the allowlist changes, so cached verdicts expire."""
