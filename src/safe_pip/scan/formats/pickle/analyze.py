"""Turn what the VM saw into findings: allowlist, gadget names, structure, breaks.

Reads every concatenated stream (legacy torch files hold five, joblib and
attackers append more), keeps what a broken stream did before it broke, and
reports each distinct global once per member with its first offset.
"""

from __future__ import annotations

import re
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from dataclasses import dataclass
from typing import Any

from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.paths import is_test_path
from safe_pip.scan.formats.pickle.allowlist import is_allowed
from safe_pip.scan.formats.pickle.denylist import dangerous_reason
from safe_pip.scan.formats.pickle.vm import Call, Global, StreamResult, run_stream

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
"""The integer a legacy (non-zip) ``torch.save`` file pickles first."""

_LEGACY_STREAMS = 5
"""magic, protocol version, sys_info, the object, the storage keys; raw data follows."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

_EVENT_RULES = {
    "mutate-global": "PICKLE-BUILD-ON-GLOBAL",
    "indirect-call": "PICKLE-INDIRECT-CALL",
    "unresolved-global": "PICKLE-GLOBAL-UNRESOLVED",
    "ext": "PICKLE-EXT-OPCODE",
    "frame": "PICKLE-MALFORMED",
    "persid": "PICKLE-PERSID",
    "joblib-file": "ARCHIVE-PATH-TRAVERSAL",
}


@dataclass
class PickleScan:
    streams: list[StreamResult]
    legacy_torch: bool

    @property
    def opcodes(self) -> int:
        return sum(s.opcodes for s in self.streams)


def looks_like_pickle_start(head: bytes) -> bool:
    """Cheap pre-check: a protocol 2+ header, or a plausible protocol 0/1 first opcode."""
    if not head:
        return False
    if head[0] == 0x80:
        return len(head) > 1 and head[1] <= 5
    return head[0] in _P0_FIRST


# Opcodes a protocol 0/1 pickle can reasonably start with.
_P0_FIRST = frozenset(b"(]})cNIJKLMFGSTUVXdlptg")


def _plausible(r: StreamResult) -> bool:
    """Is this un-headed data a protocol 0/1 pickle that would do something if loaded?

    Text often parses as a few opcodes: a CSV line starting with ``c`` is a GLOBAL,
    a ``.`` later is STOP.  What matters is whether loading it could import a real
    module and call it: that needs a global whose names are identifiers (an import
    of ``"a,b,c"`` fails before anything runs), and either a whole stream or a call
    made before the break, or a known gadget's name.  Anything less is reported as
    data, not as a pickle.
    """
    named = [
        g
        for g in r.globals
        if g.resolved and _IDENT.match(g.module or "") and _IDENT.match(g.name or "")
    ]
    if r.complete or r.calls:
        return bool(named)
    # Broken before any call: still a pickle if it names a known gadget (a payload
    # whose tail was damaged on purpose, like picklescan's broken_model.pkl).
    return any(dangerous_reason(g.module or "", g.name or "") for g in named)


def scan_pickle(
    ctx: ScanContext,
    data: Any,
    location: str,
    *,
    start: int = 0,
    end: int | None = None,
    probe: bool = False,
) -> PickleScan | None:
    """Scan every pickle stream in ``data[start:end]`` and report findings.

    With ``probe`` (data without a protocol header, sniffed as a possible
    protocol 0/1 pickle) nothing is reported and ``None`` is returned unless the
    data really parses as a pickle.
    """
    lim = ctx.limits
    end = len(data) if end is None else end
    streams: list[StreamResult] = []
    pos = start
    legacy = False
    while pos < end:
        if len(streams) >= lim.max_streams:
            ctx.report(
                "PICKLE-LIMIT",
                f"more than {lim.max_streams} concatenated pickle streams; the rest was not read",
                f"{location}@{pos - start}",
            )
            break
        r = run_stream(
            data,
            pos,
            end,
            max_opcodes=lim.max_pickle_opcodes,
            max_memo=lim.max_memo,
            max_stack=lim.max_stack,
            max_string=lim.max_string,
            deadline=ctx.deadline,
        )
        if not streams:
            if probe and not _plausible(r):
                return None
            legacy = r.complete and type(r.value) is int and r.value == TORCH_LEGACY_MAGIC
        elif not r.complete and not r.eventful and r.limit is None and not legacy:
            # Bytes after the last STOP that do not form a pickle: a loader calling
            # pickle.load again would fail before importing or calling anything.
            break
        streams.append(r)
        if not r.complete or r.end <= pos:
            break
        pos = r.end
        if legacy and len(streams) >= _LEGACY_STREAMS:
            break  # raw storage bytes follow; torch reads them as data, not pickles
    scan = PickleScan(streams, legacy)
    _report(ctx, scan, location, start)
    if legacy and len(streams) < _LEGACY_STREAMS and all(s.complete for s in streams):
        ctx.report(
            "PICKLE-MALFORMED",
            f"legacy torch file ends after {len(streams)} of its {_LEGACY_STREAMS} pickles",
            f"{location}@{pos - start}",
        )
    return scan


def _report(ctx: ScanContext, scan: PickleScan, location: str, base: int) -> None:
    """Report findings; offsets in locations are relative to ``base``."""
    ctx.saw("pickle-legacy-torch" if scan.legacy_torch else "pickle")
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    untracked = 0
    only_new: set[tuple[str | None, str | None]] = set()
    invoked: set[tuple[str | None, str | None]] = set()
    for r in scan.streams:
        only_new |= r.instantiated
        invoked |= r.invoked
    only_new -= invoked
    for idx, r in enumerate(scan.streams):
        untracked += r.globals_untracked
        for g in r.globals:
            if not g.resolved:
                continue
            key = (g.module or "", g.name or "")
            count = r.global_counts.get((g.module, g.name), 1)
            if key in seen:
                seen[key]["count"] += count
            else:
                seen[key] = {
                    "count": count,
                    "global": g,
                    "stream": idx,
                    "only_new": (g.module, g.name) in only_new,
                }
        _report_events(ctx, r, location, base)
        _report_break(ctx, r, idx, location, base)
    _report_globals(ctx, seen, untracked, location, base)
    _report_magic(ctx, scan, location, base)


def _report_magic(ctx: ScanContext, scan: PickleScan, location: str, base: int) -> None:
    first = scan.streams[0] if scan.streams else None
    if (
        first is not None
        and len(scan.streams) > 1
        and isinstance(first.value, Call)
        and any(s.proto or s.globals for s in scan.streams[1:])
    ):
        ctx.report(
            "TORCH-LEGACY-MAGIC",
            "the first of several pickle streams computes its value with a call where a "
            "legacy torch file has its magic number",
            f"{location}@{first.start - base}",
        )


def _report_events(ctx: ScanContext, r: StreamResult, location: str, base: int) -> None:
    for ev in r.events:
        ctx.report(_EVENT_RULES[ev.kind], ev.message, f"{location}@{ev.offset - base}", **ev.detail)
    shown: dict[str, int] = {}
    for ev in r.events:
        shown[ev.kind] = shown.get(ev.kind, 0) + 1
    for kind, total in r.event_counts.items():
        if total > shown.get(kind, 0):
            ctx.report(
                _EVENT_RULES[kind],
                f"{total - shown.get(kind, 0)} more occurrences of the above in stream "
                f"starting at {r.start - base} (not listed one by one)",
                f"{location}@{r.start - base}",
            )


def _report_break(ctx: ScanContext, r: StreamResult, idx: int, location: str, base: int) -> None:
    if r.limit is not None:
        ctx.report(
            "PICKLE-LIMIT",
            f"pickle stream {idx} stopped at a limit: {r.limit}",
            f"{location}@{r.error_offset - base}",
        )
    elif r.error is not None:
        before = sum(r.global_counts.values()) + r.globals_untracked
        ctx.report(
            "PICKLE-MALFORMED",
            f"pickle stream {idx} is broken at offset {r.error_offset - base}: {r.error}"
            + (
                f" (after importing {before} global(s), which a loader would run)" if before else ""
            ),
            f"{location}@{r.error_offset - base}",
        )


MAX_GLOBAL_FINDINGS = 100
"""Distinct unlisted globals reported one by one per member; the rest are summarised."""


def _report_globals(
    ctx: ScanContext,
    seen: dict[tuple[str, str], dict[str, Any]],
    untracked: int,
    location: str,
    base: int,
) -> None:
    flagged: list[tuple[bool, int, str, str, dict[str, Any]]] = []
    for (module, name), info in seen.items():
        verdict = _classify(ctx, module, name, location, only_new=info["only_new"])
        if verdict is not None:
            info["verdict"] = verdict
            flagged.append((verdict != "dangerous", info["global"].offset, module, name, info))
    flagged.sort(key=lambda t: (t[0], t[1]))  # dangerous first, then by offset
    for _, _, module, name, info in flagged[:MAX_GLOBAL_FINDINGS]:
        _report_global(ctx, module, name, info, location, base)
    rest = flagged[MAX_GLOBAL_FINDINGS:]
    if rest or untracked:
        dangerous = any(not unknown for unknown, *_ in rest)
        ctx.report(
            "PICKLE-GLOBAL-DANGEROUS" if dangerous else "PICKLE-GLOBAL-UNKNOWN",
            f"{len(rest)} more distinct unlisted global(s)"
            + (f" and {untracked} GLOBAL opcode(s) past the tracking limit" if untracked else "")
            + " not listed one by one",
            f"{location}@{rest[0][1] - base if rest else 0}",
            module="*",
            name="*",
        )


def _classify(
    ctx: ScanContext, module: str, name: str, location: str, *, only_new: bool = False
) -> str | None:
    """``None`` when allowed, else ``"dangerous"``, ``"own-test"`` or ``"unknown"``.

    ``own-test``: a class of the wheel's own package that a pickle in that package's
    test folder only instantiates (NEWOBJ, then state) — never calls with arguments or
    hands to another callable.  Test suites load such files, imports do not, and the
    package's code is installed anyway; reported, not blocked.  A function of the
    package called from its test data, and known gadgets, still block.
    """
    cmod, cname = _canonical(module, name)
    if is_allowed(module, name) or is_allowed(cmod, cname):
        return None
    if ctx.torchscript and (module == "__torch__" or module.startswith("__torch__.")):
        return None
    if dangerous_reason(module, name) or dangerous_reason(cmod, cname):
        return "dangerous"
    if only_new and module.split(".", 1)[0] in ctx.own_packages and is_test_path(location):
        return "own-test"
    return "unknown"


def _canonical(module: str, name: str) -> tuple[str, str]:
    """Apply pickle's py2 → py3 name mapping (``__builtin__.xrange`` → ``builtins.range``)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


def _report_global(
    ctx: ScanContext, module: str, name: str, info: dict[str, Any], location: str, base: int
) -> None:
    g: Global = info["global"]
    cmod, cname = _canonical(module, name)
    shown = (
        f"{module}.{name}"
        if (cmod, cname) == (module, name)
        else (f"{module}.{name} (= {cmod}.{cname})")
    )
    times = f", {info['count']} times" if info["count"] > 1 else ""
    detail = {
        "module": cmod,
        "name": cname,
        "opcode": g.opcode,
        "offset": g.offset - base,
        "count": info["count"],
    }
    reason = dangerous_reason(module, name) or dangerous_reason(cmod, cname)
    where = f"{location}@{g.offset - base}"
    if info.get("verdict") == "own-test":
        ctx.report(
            "PICKLE-GLOBAL-OWN-TEST",
            f"{g.opcode} imports {shown}, the package's own code, from its test data{times}",
            where,
            **detail,
        )
    elif reason is not None:
        ctx.report(
            "PICKLE-GLOBAL-DANGEROUS",
            f"{g.opcode} imports {shown}: {reason}{times}",
            where,
            **detail,
        )
    else:
        ctx.report(
            "PICKLE-GLOBAL-UNKNOWN",
            f"{g.opcode} imports {shown}, which is not on the allowlist{times}",
            where,
            **detail,
        )
