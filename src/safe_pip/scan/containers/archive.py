"""Zip and tar containers: wheels, sdists, PyTorch checkpoints, npz, nested archives.

Every member is handed back to :func:`~safe_pip.scan.core.dispatch.scan_blob`, which
sniffs it by content.  Stored zip members and tar members are scanned in place
(no copy); compressed members are inflated under the byte and ratio limits.
The only members not read are PyTorch tensor storages inside a recognised
checkpoint: ``torch.load`` reads them as raw bytes, never as code.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from safe_pip.scan.containers import layouts, split
from safe_pip.scan.containers.compressed import again, inflate, inflate_at_once
from safe_pip.scan.containers.zipreader import Directory, ZipEntry, ZipFormatError, read_directory
from safe_pip.scan.core.blob import SPILL_AT, Blob, Digest, Spool, Tap
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.dispatch import Glance
from safe_pip.scan.core.paths import unsafe_member_name
from safe_pip.scan.dist.requires import required_imports
from safe_pip.scan.formats import torch as torch_layout

if TYPE_CHECKING:
    import tarfile

_METHODS = {
    0: "stored",
    8: "deflate",
    9: "deflate64",
    12: "bzip2",
    14: "lzma",
    93: "zstd",
    95: "xz",
    99: "AES",
}


def read_zip_if_found(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """A zip wherever its central directory is (zip readers look for it at the end, not
    for ``PK`` at the start): read when the directory parses cleanly, else nothing."""
    try:
        directory = read_directory(blob, ctx.limits.max_members)
    except (ZipFormatError, struct.error, UnicodeDecodeError):
        return
    # data before the first member is what another reader of the file reads (a pickle, a
    # self-extractor): expected here, not a problem of the archive
    directory.problems = [p for p in directory.problems if "precede the first member" not in p]
    if directory.problems or not directory.entries:
        return
    if any(e.problems and e.data_offset < 0 for e in directory.entries):
        return
    # the bytes around the zip are the claiming format's (an .xls holds an OOXML theme
    # zip in its middle): only gaps inside the zip's own span are the zip's business
    _read_zip(ctx, blob, location, depth, directory, trailing=False)


def read_zip(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    try:
        directory = read_directory(blob, ctx.limits.max_members)
    except ZipFormatError as exc:
        ctx.saw("zip")
        ctx.report("ARCHIVE-CORRUPT", f"zip archive cannot be read: {exc}", location)
        return
    _read_zip(ctx, blob, location, depth, directory)


def _read_zip(
    ctx: ScanContext,
    blob: Blob,
    location: str,
    depth: int,
    directory: Directory,
    *,
    trailing: bool = True,
) -> None:
    entries, problems = directory.entries, directory.problems
    layout = torch_layout.detect([e.name for e in entries])
    ctx.saw(layout.kind if layout else "zip")
    hooks = layouts.for_zip(ctx, [e.name for e in entries], location, layout)
    for problem in problems:
        ctx.report("ARCHIVE-CORRUPT", f"zip archive: {problem}", location)
    counts = Counter(e.name for e in entries)
    for name, n in counts.items():
        if n > 1:
            ctx.report(
                "ZIP-DUPLICATE-NAME",
                f"{n} members are named {name!r}; loaders disagree on which one wins "
                "(all were scanned)",
                f"{location}!{name}",
            )
    outer = (ctx.own_packages, ctx.required_packages, ctx.wheel_root)
    if hooks is not None and hooks.wheel is not None:
        ctx.own_packages = _own_modules(e.name for e in entries)
        metadata = _reread(blob, entries, f"{hooks.wheel.dist_info}/METADATA")
        ctx.required_packages = required_imports(metadata) if metadata else frozenset()
        ctx.wheel_root = location
    try:

        def read(part: Sequence[ZipEntry]) -> None:
            _read_members(ctx, blob, part, layout, hooks, location, depth)

        wheel = hooks.wheel if hooks is not None and not hooks.scripts else None
        if depth == 0 and layout is None and wheel is not None and split.worth_splitting(entries):
            split.read_split(ctx, entries, wheel, read)
        else:
            read(entries)
    finally:
        ctx.own_packages, ctx.required_packages, ctx.wheel_root = outer
    if hooks is not None:
        hooks.finish(ctx, lambda name: _reread(blob, entries, name))
    from safe_pip.scan.core.dispatch import unaccounted

    for start, end in directory.gaps(blob, trailing=trailing):
        unaccounted(ctx, blob, start, location, "between or after the zip's members", depth, end)


_REREAD_MAX = 8 * 1024 * 1024


def _reread(blob: Blob, entries: list[ZipEntry], name: str) -> bytes | None:
    """A member's bytes again, for whole-archive checks after the scan (no findings: the
    member was already judged once); None when it cannot be read within 8 MiB."""
    entry = next((e for e in entries if e.name == name and e.data_offset >= 0), None)
    if entry is None or entry.encrypted:
        return None
    raw = blob.read(entry.data_offset, entry.compressed_size)
    if entry.method == 0:
        return raw if len(raw) <= _REREAD_MAX else None
    if entry.method != 8:
        return None
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(raw, _REREAD_MAX + 1)
    except zlib.error:
        return None
    return out if len(out) <= _REREAD_MAX else None


_MODULE_SUFFIXES = (".py", ".so", ".pyd")


def _own_modules(names: Iterable[str]) -> frozenset[str]:
    """Dotted names of the regular packages (a folder with its ``__init__``) and the module
    files a wheel installs into site-packages: ``mypkg``, ``mypkg.sub``, ``mypkg.sub.mod``
    from ``mypkg/sub/mod.py`` or ``mod.cpython-311-....so``.

    What ``import`` finds under a regular package is only in the wheel's own folder (its
    ``__path__``), so every name below one is the wheel's code or fails to import.  A folder
    without ``__init__`` is a namespace portion other distributions install into too
    (``google/``): only the modules the wheel ships there are its own, not another
    distribution's ``google.protobuf``.  A top-level name the standard library has is left
    out (a distribution named ``unittest`` may ship ``unittest/``, but the standard library
    comes first on ``sys.path``: its names are not the wheel's code).  A wheel that ships
    importable bytecode without its source (``mypkg/evil.pyc``, not in ``__pycache__``) has
    none: the relaxations resting on this set take the wheel's modules to be judged as
    source, and ``import`` runs such a file (any of the wheel's modules may import it)."""
    mods: set[str] = set()
    for name in names:
        parts = name.split("/")
        if parts[0].endswith((".dist-info", ".data")) or parts[0] in sys.stdlib_module_names:
            continue
        if name.endswith(".pyc") and (len(parts) < 2 or parts[-2] != "__pycache__"):
            return frozenset()
        stem, dot, _ = parts[-1].partition(".")
        if not (dot and parts[-1].endswith(_MODULE_SUFFIXES) and stem.isidentifier()):
            continue
        if stem == "__init__":
            if len(parts) > 1:
                mods.add(".".join(parts[:-1]))
        else:
            mods.add(".".join([*parts[:-1], stem]))
    return frozenset(mods)


def _read_members(
    ctx: ScanContext,
    blob: Blob,
    entries: Sequence[ZipEntry],
    layout: torch_layout.TorchLayout | None,
    hooks: layouts.ZipHooks | None,
    location: str,
    depth: int,
) -> None:
    from safe_pip.scan.core.dispatch import record_unread, scan_blob

    for entry in entries:
        loc = f"{location}!{entry.name}"
        if entry.is_dir:
            continue
        ctx.charge_member(loc)
        for name in entry.names:
            if unsafe_member_name(name):
                ctx.report(
                    "ARCHIVE-PATH-TRAVERSAL",
                    f"member name {name!r} escapes the extraction folder",
                    loc,
                )
            if "\x00" in name:
                ctx.report(
                    "ZIP-NAME-TRUNCATED",
                    f"member name {name!r} holds a NUL byte: Python's zipfile (pip, Keras, "
                    f"numpy) reads it as {name.split(chr(0), 1)[0]!r}",
                    loc,
                )
        if layout and all(layout.is_storage(n) for n in entry.names):
            ctx.saw("tensor-storage")
            continue
        stream = hooks is None or not hooks.needs_bytes(entry.name, entry.zipfile_names)
        member = _member_data(ctx, blob, entry, loc, stream=stream)
        if member is None:
            if hooks is not None:
                hooks.member(ctx, entry.name, None, loc, entry.zipfile_names)
            continue
        if isinstance(member, Digest):
            # streamed (see _member_data): its CRC matched; scan_blob would only record it
            if hooks is not None:
                hooks.member(ctx, entry.name, member, loc, entry.zipfile_names)
                mark = split.open_group(ctx)
                if hooks.scanned_before(ctx, loc):
                    continue
            record_unread(ctx)
            if hooks is not None:
                split.close_group(ctx, mark)
            continue
        with member.blob() if isinstance(member, Spool) else _as_ctx(member) as data:
            if not entry.encrypted and data.size and data.crc32() != entry.crc:
                ctx.report(
                    "ZIP-CRC-MISMATCH",
                    "member data does not match its CRC-32 (scanned as written, as torch reads it)",
                    loc,
                )
            if hooks is not None:
                hooks.member(ctx, entry.name, data, loc, entry.zipfile_names)
                mark = split.open_group(ctx)
                if hooks.scanned_before(ctx, loc):
                    continue
            if layout and layout.torchscript:
                ctx.torchscript += 1
                try:
                    scan_blob(ctx, data, loc, depth + 1)
                finally:
                    ctx.torchscript -= 1
            else:
                scan_blob(ctx, data, loc, depth + 1)
            if hooks is not None:
                split.close_group(ctx, mark)


class _as_ctx:
    def __init__(self, blob: Blob) -> None:
        self._blob = blob

    def __enter__(self) -> Blob:
        return self._blob

    def __exit__(self, *exc: object) -> None:
        return None


STREAM_AT = SPILL_AT
"""Inflated size past which a member nothing reads is streamed, not kept (at most
SPILL_AT: below it the bytes stay in memory anyway; at least the wheel check's
``_MAX_META``: it keeps texts up to that size)."""


def _member_data(
    ctx: ScanContext, blob: Blob, e: ZipEntry, loc: str, *, stream: bool = False
) -> Blob | Spool | Digest | None:
    """The member's bytes, None when there are none to scan, or (``stream``: no archive
    hook reads them) a :class:`Digest` of a large member that ``dispatch.reads_nothing``
    says ``scan_blob`` would only record, whose CRC matched and whose inflation ended
    cleanly: inflated once, hashed on the way, never kept. Anything else about such a
    member (a limit stopped it, the data is corrupt or truncated, the CRC differs, its
    tail holds a zip end, an HDF5 superblock turned up past the head) and it is inflated
    again into a Spool and read as every other member: the reports and charges of the
    first inflation stand, made exactly as for a Spool."""
    for problem in e.problems:
        rule = "ZIP-NAME-MISMATCH" if " names it " in problem else "ARCHIVE-CORRUPT"
        ctx.report(rule, problem, loc)
    if e.data_offset < 0:
        return None
    if e.encrypted:
        ctx.report(
            "ARCHIVE-UNSUPPORTED",
            "encrypted zip member: its content cannot be inspected "
            "(the raw bytes were scanned in case the flag is a decoy)",
            loc,
            format="encrypted-zip",
        )
    raw = blob.sub(e.data_offset, e.compressed_size)
    if e.method == 0:
        ctx.charge_bytes(raw.size, loc)
        return raw
    if e.method == 8 and not e.encrypted:
        whole = inflate_at_once(ctx, raw, loc, _deflate)
        if whole is not None:
            return whole
    if e.method in (8, 12):
        make = _deflate if e.method == 8 else _bz2
        kind = _METHODS[e.method]
        glance = Glance(loc)
        tap = Tap(STREAM_AT, glance) if stream and not e.encrypted else None
        spool, error = inflate(ctx, raw, loc, make, kind=kind, spool=tap)
        if error is not None and not e.encrypted:
            ctx.report("ARCHIVE-CORRUPT", f"{error}; scanned the {spool.size} bytes before it", loc)
        if e.encrypted and error is not None:
            return None
        if isinstance(spool, Tap) and spool.dropped:
            digest = spool.digest()
            if (
                error is None
                and not spool.stopped
                and digest.crc == e.crc
                and glance.reads_nothing()
            ):
                return digest
            return again(ctx, raw, loc, make, spool, kind=kind)
        return spool
    if not e.encrypted:
        method = _METHODS.get(e.method, f"method {e.method}")
        ctx.report(
            "ARCHIVE-UNSUPPORTED",
            f"zip member compressed with {method}, which safe-pip does not decode",
            loc,
            format=f"zip-{method}",
        )
    return None


def _deflate() -> object:
    return zlib.decompressobj(-15)


def _bz2() -> object:
    import bz2

    return bz2.BZ2Decompressor()


class _BlobIO(io.RawIOBase):
    """A seekable read-only file over a blob, for tarfile."""

    def __init__(self, blob: Blob) -> None:
        self._blob = blob
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._blob.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._blob.read(self._pos, len(b))
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


def read_tar(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    import tarfile  # on first use: most scans meet no tar archive

    ctx.saw("tar")
    seen: Counter[str] = Counter()
    try:
        with tarfile.open(fileobj=io.BufferedReader(_BlobIO(blob)), mode="r:") as tf:
            for m in tf:
                seen[m.name] += 1
                _tar_member(ctx, blob, m, location, depth)
    except tarfile.TarError as exc:
        ctx.report("ARCHIVE-CORRUPT", f"tar archive cannot be read to the end: {exc}", location)
    for name, n in seen.items():
        if n > 1:
            ctx.report(
                "ZIP-DUPLICATE-NAME",
                f"{n} tar members are named {name!r}; extraction keeps the last",
                f"{location}!{name}",
            )


def _tar_member(
    ctx: ScanContext, blob: Blob, m: tarfile.TarInfo, location: str, depth: int
) -> None:
    from safe_pip.scan.core.dispatch import scan_blob

    loc = f"{location}!{m.name}"
    ctx.charge_member(loc)
    if unsafe_member_name(m.name) or ((m.issym() or m.islnk()) and unsafe_member_name(m.linkname)):
        ctx.report(
            "ARCHIVE-PATH-TRAVERSAL",
            f"member {m.name!r} (link target {m.linkname!r}) escapes the folder"
            if m.linkname
            else f"member name {m.name!r} escapes the extraction folder",
            loc,
        )
    if not m.isreg():
        return
    if m.sparse is not None:
        ctx.report("ARCHIVE-UNSUPPORTED", "sparse tar member", loc, format="tar-sparse")
        return
    if m.offset_data + m.size > blob.size:
        ctx.report("ARCHIVE-CORRUPT", "tar member runs past the end (truncated)", loc)
    ctx.charge_bytes(m.size, loc)
    scan_blob(ctx, blob.sub(m.offset_data, m.size), loc, depth + 1)
