"""Route a blob to the reader for its content, recursing into containers.

One function, :func:`scan_blob`, is the single entry for every member at every
depth: it sniffs, enforces the depth limit, turns unexpected reader failures
into findings (a crash must never mean "clean"), and records what it saw.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable
from functools import cache

from safe_pip.scan.core import sniff as S
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import BudgetExhausted, ScanContext

Reader = Callable[[ScanContext, Blob, str, int], None]


_READERS: dict[str, tuple[str, str]] = {
    S.ZIP: ("containers.archive", "read_zip"),
    S.ZIP_EMPTY: ("containers.archive", "read_zip"),
    S.TAR: ("containers.archive", "read_tar"),
    S.GZIP: ("containers.compressed", "read_gzip"),
    S.BZIP2: ("containers.compressed", "read_bz2"),
    S.XZ: ("containers.compressed", "read_xz"),
    S.LZMA: ("containers.compressed", "read_lzma"),
    S.ZLIB: ("containers.compressed", "read_zlib"),
    S.LZ4: ("containers.compressed", "read_lz4"),
    S.PICKLE: ("formats.pickle_reader", "read_pickle"),
    S.PICKLE_PROBE: ("formats.pickle_reader", "probe_pickle"),
    S.NUMPY: ("formats.numpy", "read_npy"),
    S.SAFETENSORS: ("formats.safetensors", "read_safetensors"),
    S.GGUF: ("formats.gguf", "read_gguf"),
    S.HDF5: ("formats.keras", "read_hdf5"),
    S.JOBLIB_ZFILE: ("formats.joblib", "read_zfile"),
}
"""Reader of each sniffed format, imported when first needed: a pickle scan should not
pay for importing the archive, Keras or template readers."""


@cache
def _reader(fmt: str) -> Reader | None:
    # Imported here: readers call back into scan_blob for nested members.
    where = _READERS.get(fmt)
    if where is None:
        return None
    module = importlib.import_module(f"safe_pip.scan.{where[0]}")
    reader: Reader = getattr(module, where[1])
    return reader


def _basename(location: str) -> str:
    return location.rsplit("!", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]


def _by_name(ctx: ScanContext, fmt: str, blob: Blob, head: bytes, location: str) -> Reader | None:
    """Readers chosen by name, only where the loader itself goes by name.

    Python imports ``*.py``; ``tf.saved_model.load`` opens ``saved_model.pb``.
    Content sniffing still runs first: these apply only to data with no magic
    number, and a pickle named ``saved_model.pb`` is read as a pickle.  ONNX has no
    magic either; it is recognised by parsing its top level.  A ``.safetensors``
    name on anything but safetensors is itself a finding.
    """
    name = _basename(location)
    if name.lower().endswith(".safetensors") and fmt not in (S.SAFETENSORS, S.EMPTY):
        ctx.report(
            "MODEL-NAME-MISMATCH",
            f"named .safetensors but the content is {fmt}",
            location,
            format=fmt,
        )
    if fmt not in (S.DATA, S.PICKLE_PROBE):
        return None
    # Each reader's module is imported only once its test matches: a short scan of a text
    # file should not pay for importing the source, ONNX, Keras and TorchScript readers.
    if name.endswith(".py"):
        from safe_pip.scan.dist import pysource

        return pysource.read_python if fmt == S.DATA else _python_or_pickle
    if name == "saved_model.pb":
        from safe_pip.scan.formats import tensorflow

        return tensorflow.read_saved_model
    if fmt == S.DATA and head[:1] == S.ONNX_FIRST:
        from safe_pip.scan.formats import onnx

        if onnx.looks_like_onnx(blob):
            return onnx.read_onnx
    from safe_pip.scan.formats import hdf5_attrs

    if hdf5_attrs.find_superblock(blob):  # after a user block: h5py searches 512, 1024...
        from safe_pip.scan.formats import keras

        return keras.read_hdf5
    if S.is_torch_flatbuffer(head, blob.size):  # torch.jit.load goes by these bytes
        from safe_pip.scan.formats import torchscript

        return torchscript.read_flatbuffer if fmt == S.DATA else _flatbuffer_or_pickle
    return None


def _python_or_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """A ``.py`` file whose bytes could also be a protocol 0/1 pickle: check it as both."""
    from safe_pip.scan.dist import pysource
    from safe_pip.scan.formats import pickle_reader

    pysource.read_python(ctx, blob, location, depth)
    pickle_reader.probe_pickle(ctx, blob, location, depth)


def _flatbuffer_or_pickle(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """A TorchScript flatbuffer whose first bytes could also start a protocol 0/1 pickle."""
    from safe_pip.scan.formats import pickle_reader, torchscript

    torchscript.read_flatbuffer(ctx, blob, location, depth)
    pickle_reader.probe_pickle(ctx, blob, location, depth)


_READS_PICKLE_AT_0 = frozenset({S.PICKLE, S.PICKLE_PROBE})
_READS_AS_ZIP = frozenset({S.ZIP, S.ZIP_EMPTY})


def _other_views(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Every loader's view, whatever the sniffer said first.

    A file can be a valid safetensors or GGUF file *and* a pickle whose first opcode
    swallows the header, or carry a zip whose central directory sits at its end (zip
    readers find it there). ``pickle.load`` from byte 0 is cheap with the C engine and
    reports only if it would import and call something; a zip is read only if its
    directory parses cleanly. Data whose first byte no unpickler reads
    (:func:`~sniff.may_be_pickle`, the first test of ``pickle_reader.may_load``) does not
    import the pickle reader.
    """
    if S.may_be_pickle(blob.head(1)):
        from safe_pip.scan.formats import pickle_reader

        pickle_reader.try_as_pickle(ctx, blob, location)
    if _has_zip_end(blob):
        from safe_pip.scan.containers import archive

        archive.read_zip_if_found(ctx, blob, location, depth)


def _has_zip_end(blob: Blob) -> bool:
    """An end-of-central-directory signature where zip readers look for it (the last
    64 KiB and 22 bytes)."""
    tail = min(blob.size, 65557)
    return tail >= 22 and blob.find(b"PK\x05\x06", blob.size - tail) >= 0


def unaccounted(
    ctx: ScanContext,
    blob: Blob,
    start: int,
    location: str,
    what: str,
    depth: int,
    end: int | None = None,
) -> None:
    """Bytes ``blob[start:end]`` that the format's loader never reads: a finding unless
    they are zero padding, and scanned as a member of their own in case another reader
    reads them."""
    from safe_pip.scan.core.blob import is_zero

    region = blob.sub(start, (blob.size if end is None else end) - start)
    if region.size == 0 or is_zero(region):
        return
    where = f"{location}@{start}"
    ctx.report(
        "DATA-UNACCOUNTED",
        f"{region.size} bytes {what} that the loader never reads",
        where,
        size=region.size,
    )
    scan_blob(ctx, region, where, depth + 1)


KEEP_HEAD = 4096
"""Bytes of a member's start :func:`reads_nothing` looks at: the sniffer reads
:data:`~safe_pip.scan.core.sniff.HEAD` (512), the pickle view's import check 4096."""
ZIP_TAIL = 65557
"""Bytes at a member's end :func:`_has_zip_end` looks at (64 KiB of comment + 22)."""


def reads_nothing(name: str, head: bytes, size: int, superblock: bool, zip_end: bool) -> bool:
    """Would :func:`scan_blob` do nothing with a member but record it as ``data``?

    ``name``: its base name; ``head``: its first :data:`KEEP_HEAD` bytes (all of them if
    fewer); ``size``: its size; ``superblock``: an HDF5 signature at one of the offsets
    ``formats.hdf5_attrs.find_superblock`` visits; ``zip_end``: an end-of-central-directory
    signature in its last :data:`ZIP_TAIL` bytes. :func:`scan_blob` itself goes by this
    answer (so the two cannot drift apart), and so does a zip member streamed past without
    keeping its bytes (``containers.archive``). Each condition, against what ``scan_blob``
    runs for data it sniffs as ``fmt``:

    * ``fmt`` is :data:`~sniff.DATA`: every other format has a reader, or is unsupported
      (a finding), or empty; the depth limit only concerns formats other than data.
    * ``_by_name``: not named ``*.safetensors`` (a finding on data), ``*.py`` (the source
      reader), ``saved_model.pb`` (TensorFlow's reader); first byte not ONNX's (then the
      ONNX parse decides); no HDF5 superblock where h5py searches (``superblock``); not a
      TorchScript flatbuffer by ``head[4:8]`` and size. Then no reader is chosen by name,
      and data has no reader by format: only ``ctx.saw("data")``.
    * ``_other_views``: ``pickle_reader.try_as_pickle`` reads nothing when
      ``pickle_reader.may_load`` says so, which looks at the first 4096 bytes only, all
      in ``head``; the zip view runs only when ``zip_end``.
    """
    return S.sniff(head[: S.HEAD], size) == S.DATA and _data_reads_nothing(
        name, head, size, superblock, zip_end
    )


def _data_reads_nothing(name: str, head: bytes, size: int, superblock: bool, zip_end: bool) -> bool:
    """:func:`reads_nothing` of a member already sniffed as :data:`~sniff.DATA` (from the
    same first :data:`~sniff.HEAD` bytes): ``scan_blob`` has sniffed it, so it does not
    sniff again."""
    if name.lower().endswith(".safetensors") or name.endswith(".py") or name == "saved_model.pb":
        return False
    if head[:1] == S.ONNX_FIRST or S.is_torch_flatbuffer(head, size):
        return False
    if superblock or zip_end:
        return False
    if not S.may_be_pickle(head):  # may_load's first test, without importing the reader
        return True
    from safe_pip.scan.formats import pickle_reader

    return not pickle_reader.may_load(Blob(head))


def record_unread(ctx: ScanContext) -> None:
    """What :func:`scan_blob` records of a member :func:`reads_nothing` is true of."""
    ctx.saw(S.DATA)


class Glance:
    """What :func:`reads_nothing` needs of a member, gathered from its stream: the head,
    the last :data:`ZIP_TAIL` bytes, and the bytes at every offset
    ``hdf5_attrs.find_superblock`` visits (0, 512, 1024, 2048, ... while 8 bytes fit)."""

    def __init__(self, location: str) -> None:
        self.name = _basename(location)
        self.size = 0
        self.head = b""
        self._tail: deque[bytes] = deque()  # the last chunks, at least ZIP_TAIL bytes if any
        self._tail_size = 0
        self.superblock = False
        self._probe = 0  # the next offset find_superblock visits
        self._got = b""  # its bytes seen so far (it may straddle two chunks)

    def feed(self, chunk: bytes) -> None:
        from safe_pip.scan.formats.hdf5_attrs import SIGNATURE

        pos, self.size = self.size, self.size + len(chunk)
        if len(self.head) < KEEP_HEAD:
            self.head += chunk[: KEEP_HEAD - len(self.head)]
        self._tail.append(chunk)  # kept, not copied: joined once, at the end
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= ZIP_TAIL:
            self._tail_size -= len(self._tail.popleft())
        while self._probe + len(self._got) < self.size:
            i = self._probe + len(self._got) - pos
            self._got += chunk[i : i + 8 - len(self._got)]
            if len(self._got) < 8:
                break
            self.superblock = self.superblock or self._got == SIGNATURE
            self._got = b""
            self._probe = 512 if self._probe == 0 else self._probe * 2

    @property
    def tail(self) -> bytes:
        """The last :data:`ZIP_TAIL` bytes (all of them if fewer)."""
        return b"".join(self._tail)[-ZIP_TAIL:]

    def hopeful(self) -> bool:
        """:func:`reads_nothing` so far (the size still grows: the end decides)."""
        return reads_nothing(self.name, self.head, self.size, self.superblock, False)

    def reads_nothing(self) -> bool:
        return reads_nothing(
            self.name, self.head, self.size, self.superblock, _has_zip_end(Blob(self.tail))
        )


def _reads_nothing(blob: Blob, location: str) -> bool:
    """:func:`reads_nothing` of a whole blob ``scan_blob`` sniffed as data (each costly view
    only when the cheap ones leave the answer open)."""
    if not _data_reads_nothing(_basename(location), blob.head(KEEP_HEAD), blob.size, False, False):
        return False
    from safe_pip.scan.formats import hdf5_attrs

    return hdf5_attrs.find_superblock(blob) is None and not _has_zip_end(blob)


def scan_blob(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Scan one member (or top-level file) found at ``location``."""
    head = blob.head(S.HEAD)
    fmt = S.sniff(head, blob.size)
    if fmt == S.DATA and _reads_nothing(blob, location):
        record_unread(ctx)
        return
    if depth > ctx.limits.max_depth and fmt not in (S.DATA, S.EMPTY):
        ctx.report(
            "ARCHIVE-LIMIT",
            f"nested deeper than {ctx.limits.max_depth} containers; not opened",
            location,
        )
        return
    unsupported = S.unsupported_name(fmt)
    if unsupported is not None:
        ctx.saw(fmt)
        ctx.report(
            "ARCHIVE-UNSUPPORTED",
            f"{unsupported}: safe-pip cannot look inside, so its content is unknown",
            location,
            format=fmt,
        )
        return
    reader = _by_name(ctx, fmt, blob, head, location) or _reader(fmt)
    if reader is None:
        ctx.saw(fmt)
    else:
        _guarded(ctx, reader, blob, location, depth, fmt)
    if fmt not in _READS_PICKLE_AT_0 and fmt not in _READS_AS_ZIP:
        _guarded(ctx, _other_views, blob, location, depth, fmt)
    elif fmt not in _READS_AS_ZIP and _has_zip_end(blob):
        from safe_pip.scan.containers import archive

        _guarded(ctx, archive.read_zip_if_found, blob, location, depth, fmt)


def _guarded(
    ctx: ScanContext, reader: Reader, blob: Blob, location: str, depth: int, fmt: str
) -> None:
    """Run one reader; a crash is a finding, never silence."""
    try:
        reader(ctx, blob, location, depth)
    except BudgetExhausted:
        raise
    except RecursionError:
        ctx.report("ARCHIVE-LIMIT", "nesting too deep to follow", location)
    except Exception as exc:
        ctx.report(
            "SCAN-ERROR",
            f"{fmt} reader failed: {type(exc).__name__}: {exc}",
            location,
            format=fmt,
        )
