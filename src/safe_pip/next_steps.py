"""What a person can do about a block: the rule in plain words, how to learn more, how to
report a package that looks malicious, and the exact ``[[exception]]`` to write, and where.

A block that only names a rule id leaves the user to find the docs, guess the TOML and guess
which of four policy files may hold it.  Everything needed is known here: the rule catalogue
gives the plain words, the policy gives the layers (an exception loosens, so only the user's
file, within the org's ``lower_exceptions``, or the org's own may hold it), and the artifact
gives the package, version, sha256 and the index it came from.  Commands attach these lines
to each blocked subject; the renderers print them and decide nothing.

No registry is named here: the place to report a package is derived from the index URL the
artifact really came from.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from safe_pip.models import Finding
from safe_pip.policy.model import Policy
from safe_pip.report.model import Subject
from safe_pip.rules import get_rule

EXPIRY = dt.timedelta(days=30)
"""How long a pasted exception lasts: long enough to ship a fix, short enough to revisit."""
REASON = "TODO: who reviewed this exact file, and why it is safe"
NO_EXCEPTION = frozenset({"NAME-DENIED"})
"""Rules an [[exception]] can never lift (a denied name is refused whatever is excepted)."""


@dataclass(frozen=True)
class Blocked:
    """A blocked artifact as the next steps need it (any of these may be unknown)."""

    findings: Sequence[Finding]
    package: str | None = None
    version: str | None = None
    sha256: str | None = None
    index_url: str | None = None
    """The index (or find-links location) the file was listed on."""


def _org_home(policy: Policy, env: Mapping[str, str], why: str) -> str:
    """The org policy in use (or where it would be), for a change only its owner can make."""
    from safe_pip.policy.discover import system_org_path

    org = next((s.path for s in policy.sources if s.layer == "org" and s.used), None)
    return f"the org policy {org or system_org_path(env)} ({why}; ask its owner)"


def exception_home(policy: Policy, rule_ids: Sequence[str], env: Mapping[str, str]) -> str:
    """Which file may hold these exceptions, as a person should be told it."""
    from safe_pip.policy.discover import user_policy_path

    permitted = set(policy.lower_exceptions)
    if policy.locked or not ("*" in permitted or set(rule_ids) <= permitted):
        why = "it is locked" if policy.locked else "its lower_exceptions do not permit these"
        return _org_home(policy, env, why)
    return f"your user policy {user_policy_path(env)}"


def exception_toml(blocked: Blocked, rule_ids: Sequence[str], today: dt.date) -> str:
    """Ready-to-paste ``[[exception]]`` tables, one per rule, bound to this exact file."""
    expires = (today + EXPIRY).isoformat()
    tables = []
    for rule in rule_ids:
        lines = ["[[exception]]", f"package = {json.dumps(blocked.package)}"]
        if blocked.version:
            lines.append(f"version = {json.dumps(blocked.version)}")
        if blocked.sha256:
            lines.append(f'sha256 = "{blocked.sha256}"')
        lines += [
            f'rule = "{rule}"',
            f"reason = {json.dumps(REASON)}",
            f"expires = {expires}",
        ]
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def report_hint(blocked: Blocked) -> str:
    """How to report a package that looks malicious, to the index it came from."""
    where = "the index it came from"
    if blocked.index_url:
        parts = urlsplit(blocked.index_url)
        if parts.scheme in ("http", "https") and parts.hostname:
            port = f":{parts.port}" if parts.port else ""  # never the credentials
            where = f"the index it came from ({parts.scheme}://{parts.hostname}{port})"
        elif parts.scheme == "file":
            where = f"whoever maintains {parts.path}"
    name = f" {blocked.package}" if blocked.package else ""
    return (
        f"if you did not expect this, the package{name} may be malicious: do not install it, "
        f"and report it to {where} — the project page's report link, or the index's "
        "security contact"
    )


def setting_home(policy: Policy, key: str, env: Mapping[str, str]) -> str:
    """Which file can change the setting ``key``, as a person should be told it.

    Layers merge tighten-only (:mod:`safe_pip.policy.layering`): the user may loosen a
    built-in default but not what the org set, and a project or ``--policy`` file that set
    the key wins over the user's; so the place is the file that set it, or the user's.
    """
    from safe_pip.policy.discover import user_policy_path

    origin = policy.origin(key)
    if policy.locked or origin.layer == "org":
        return _org_home(policy, env, "it is locked" if policy.locked else f"it sets {key}")
    if origin.layer in ("project", "cli") and origin.path is not None:
        return f"{origin.where}, which sets it (a lower file may not loosen it)"
    return f"your user policy {user_policy_path(env)}"


def setting_toml(finding: Finding, policy: Policy) -> str | None:
    """The policy lines that would allow what ``finding`` refused, when the finding names
    the setting that refused it (``detail["policy_key"]``): a switch is flipped; a project's
    index is a choice only the user can make, so it is offered as one, never pre-filled."""
    key = finding.detail.get("policy_key")
    if not isinstance(key, str):
        return None
    if key == "package.index" and isinstance(project := finding.detail.get("project"), str):
        sources = [str(s) for s in finding.detail.get("sources", ())]
        return "\n".join(
            [
                f"# the one index {project} may come from: {' or '.join(sources) or 'yours'}",
                "[[package]]",
                f"name = {json.dumps(project)}",
                'index = "CHOOSE-ONE"',
            ]
        )
    section, _, name = key.partition(".")
    current = getattr(getattr(policy, section, None), name, None)
    if not isinstance(current, bool):  # only a switch has one obvious other value
        return None
    return f"[{section}]\n{name} = {str(not current).lower()}"


def lines(
    blocked: Blocked,
    policy: Policy,
    *,
    env: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> tuple[str, ...]:
    """The next steps for one blocked artifact, each a line (or a block) for people."""
    env = os.environ if env is None else env
    today = dt.date.today() if today is None else today
    rule_ids = list(dict.fromkeys(f.rule_id for f in blocked.findings))
    steps: list[str] = []
    for rule_id in rule_ids:
        rule = get_rule(rule_id)
        title = f"{rule.title}: " if rule else ""
        steps.append(f"{rule_id}: {title}safe-pip policy explain {rule_id}")
    if any((rule := get_rule(r)) is not None and rule.suspicious for r in rule_ids):
        steps.append(report_hint(blocked))
    for finding in {f.detail.get("policy_key"): f for f in blocked.findings}.values():
        toml = setting_toml(finding, policy)
        if toml is not None:
            home = setting_home(policy, str(finding.detail["policy_key"]), env)
            steps.append(f"allow this by policy? put in {home}:\n{toml}")
    excepted = [r for r in rule_ids if r not in NO_EXCEPTION]
    if excepted and blocked.package:
        home = exception_home(policy, excepted, env)
        what = "this exact file" if blocked.sha256 else "this release"
        steps.append(
            f"trust {what} after a review? add to {home}:\n"
            + exception_toml(blocked, excepted, today)
        )
    return tuple(steps)


def _name_version(subject: Subject) -> tuple[str | None, str | None]:
    """The package a subject is: its distribution, or a wheel's or sdist's file name."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    if subject.distribution is not None and subject.kind in ("artifact", "distribution"):
        return subject.distribution.name, subject.distribution.version
    filename = subject.target.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return str(name), str(version)
        if filename.endswith((".tar.gz", ".zip")):
            sname, sversion = parse_sdist_filename(filename)
            return str(sname), str(sversion)
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return None, None


def _file_sha256(path: Path) -> str | None:
    """A scanned file's digest, so the exception binds to exactly it (None: not a file)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def annotate(
    subjects: Sequence[Subject], policy: Policy, env: Mapping[str, str] | None = None
) -> tuple[Subject, ...]:
    """``subjects`` with the next steps of each blocked one filled in (``scan``, ``audit``)."""
    out = []
    for subject in subjects:
        if subject.allowed or not subject.blocking:
            out.append(subject)
            continue
        name, version = _name_version(subject)
        sha256 = subject.scan.sha256 if subject.scan is not None else None
        if sha256 is None and subject.distribution is not None:
            sha256 = subject.distribution.sha256
        if sha256 is None and subject.kind == "file":
            sha256 = _file_sha256(Path(subject.target))
        blocked = Blocked(subject.blocking, name, version, sha256)
        out.append(replace(subject, next_steps=lines(blocked, policy, env=env)))
    return tuple(out)
