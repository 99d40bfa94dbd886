"""Known-malicious and vulnerable packages: sync the OSV data, show its state, look a package up.

``safe-pip intel sync [--from URL|FILE]`` fills the local database from the OSV export named by
``[intel] source`` (or ``--from``: a mirror, a local copy of the zip, a folder of records);
``safe-pip intel status`` shows its source, age and counts; ``safe-pip intel lookup
NAME[==VERSION]`` shows what it knows about a project. The install gate and ``safe-pip audit``
read the same database, offline.

Exit codes: 0 done (lookup: nothing known against it); 1 lookup found a malicious report or a
vulnerability; 2 usage or internal error (a failed sync leaves the previous database as it was).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from safe_pip.errors import EXIT_BLOCKED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from safe_pip.intel.sync import Download
    from safe_pip.policy.model import NetworkPolicy


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="intel_command", metavar="ACTION", required=True)
    s = sub.add_parser("sync", help="download the OSV data into the local database")
    s.add_argument("--from", dest="source", metavar="URL|FILE", help="where to sync from")
    s.add_argument("--policy", type=Path, metavar="FILE", help="policy file (a layer)")
    st = sub.add_parser("status", help="the local database's source, age and counts")
    lk = sub.add_parser("lookup", help="what the database knows about a project")
    lk.add_argument("requirement", metavar="NAME[==VERSION]")
    lk.add_argument("--sha256", metavar="HEX", help="also look up a file digest")
    for p in (s, st, lk):
        p.add_argument("--format", choices=("text", "json"), default="text")
        p.add_argument("--db", type=Path, metavar="FILE", help=argparse.SUPPRESS)


def _db_path(args: argparse.Namespace) -> Path:
    from safe_pip.gate.fetch import cache_dir
    from safe_pip.intel import default_db_path

    return Path(args.db) if args.db else default_db_path(cache_dir())


def run(args: argparse.Namespace) -> int:
    action = args.intel_command
    if action == "sync":
        return _sync(args)
    if action == "status":
        return _status(args)
    return _lookup(args)


def _emit(args: argparse.Namespace, doc: dict[str, Any], text: str) -> None:
    if args.format == "json":
        print(json.dumps({"schema_version": 1, "command": "intel", **doc}, indent=2))
    else:
        print(text)


def _sync(args: argparse.Namespace) -> int:
    from safe_pip.gate.fetch import https_client
    from safe_pip.intel.sync import sync
    from safe_pip.policy import load_policy

    policy = load_policy(args.policy, http=https_client)
    source = args.source or policy.intel.source
    result = sync(source, _db_path(args), download=_download_with(policy.network))
    lines = [
        f"safe-pip: synced {result.records} advisories ({result.mode}) from {source}",
    ]
    if result.newest_record:
        lines.append(f"newest record: {result.newest_record:%Y-%m-%d %H:%M} UTC")
    if result.rejected:
        print(
            f"safe-pip: warning: {len(result.rejected)} records could not be read and were "
            f"skipped, e.g. {result.rejected[0]}",
            file=sys.stderr,
        )
    _emit(
        args,
        {
            "action": "sync",
            "source": source,
            "mode": result.mode,
            "records": result.records,
            "rejected": result.rejected,
        },
        "\n".join(lines),
    )
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from safe_pip.intel.store import IntelDB

    with IntelDB(_db_path(args)) as db:
        st = db.status()
    now = dt.datetime.now(dt.timezone.utc)
    age_days = (now - st.synced_at).total_seconds() / 86400
    text = "\n".join(
        [
            f"database:  {st.path}",
            f"source:    {st.source}",
            f"synced:    {st.synced_at:%Y-%m-%d %H:%M} UTC ({age_days:.1f} days ago)",
            "newest:    "
            + (f"{st.newest_record:%Y-%m-%d %H:%M} UTC" if st.newest_record else "unknown"),
            f"malicious: {st.malicious} reports",
            f"vulnerabilities: {st.vulnerabilities} advisories over {st.packages} projects",
        ]
        + ([f"skipped:   {st.rejected} unreadable records"] if st.rejected else [])
    )
    _emit(
        args,
        {
            "action": "status",
            "database": str(st.path),
            "source": st.source,
            "synced_at": st.synced_at.isoformat(),
            "age_days": round(age_days, 3),
            "newest_record": st.newest_record.isoformat() if st.newest_record else None,
            "malicious": st.malicious,
            "vulnerabilities": st.vulnerabilities,
            "packages": st.packages,
            "rejected": st.rejected,
        },
        text,
    )
    return EXIT_OK


def _lookup(args: argparse.Namespace) -> int:
    from safe_pip.intel.check import findings_for
    from safe_pip.intel.store import IntelDB

    try:
        req = Requirement(args.requirement)
    except InvalidRequirement as exc:
        raise UsageError(f"not NAME or NAME==VERSION: {args.requirement!r}") from exc
    pinned = [s.version for s in req.specifier if s.operator in ("==", "===")]
    if len(req.specifier) and not pinned:
        raise UsageError("lookup takes NAME or NAME==VERSION")
    name = canonicalize_name(req.name)
    with IntelDB(_db_path(args)) as db:
        if pinned:
            findings = findings_for(db, name, pinned[0], args.sha256, location=str(req))
            rows = [f.to_dict() for f in findings]
            lines = [f"{f.rule_id} [{f.severity}] {f.message}" for f in findings]
            hit = bool(findings)
        else:
            matches = db.for_name(name)
            files = db.for_sha256(args.sha256) if args.sha256 else []
            rows = [
                {
                    "id": m.advisory.id,
                    "kind": m.advisory.kind,
                    "level": m.advisory.level,
                    "aliases": list(m.advisory.aliases),
                    "versions": list(m.affected.versions),
                    "fixed_versions": list(m.affected.fixed_versions()),
                    "summary": m.advisory.summary,
                }
                for m in matches
            ] + [{"id": f.advisory_id, "kind": f.kind, "filename": f.filename} for f in files]
            lines = [
                f"{r['id']} ({r['kind']}"
                + (f", {r['level']}" if "level" in r else "")
                + f"): {r.get('summary') or r.get('filename') or ''}"
                for r in rows
            ]
            hit = bool(rows)
    if not lines:
        lines = [f"safe-pip: nothing known against {req}"]
    _emit(args, {"action": "lookup", "query": str(req), "results": rows}, "\n".join(lines))
    return EXIT_BLOCKED if hit else EXIT_OK


def _download_with(network: NetworkPolicy) -> Download:
    """The gate's bounded client (deadlines, byte caps, streamed) as the sync's downloader."""

    def download(url: str, dest: Path, max_bytes: int) -> None:
        from safe_pip.gate.fetch import Bounds, Fetcher, NetSettings, Quarantine

        bounds = Bounds(
            connect_timeout=network.connect_timeout,
            read_timeout=network.read_timeout,
            deadline=network.deadline,
            max_download=max_bytes,
            max_page=network.max_page,
        )
        with Fetcher(Quarantine(dest.parent / "incoming"), NetSettings(bounds=bounds)) as f:
            got = f.fetch(url, expected_sha256=None)
        os.replace(got.path, dest)

    return download
