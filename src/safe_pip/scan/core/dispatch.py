"""Route a blob to the reader for its content, recursing into containers.

One function, :func:`scan_blob`, is the single entry for every member at every
depth: it sniffs, enforces the depth limit, turns unexpected reader failures
into findings (a crash must never mean "clean"), and records what it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from safe_pip.scan.core import sniff as S
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import BudgetExhausted, ScanContext

Reader = Callable[[ScanContext, Blob, str, int], None]


@cache
def _readers() -> dict[str, Reader]:
    # Imported here: readers call back into scan_blob for nested members.
    from safe_pip.scan.containers import archive, compressed
    from safe_pip.scan.formats import gguf, joblib, keras, numpy, pickle_reader, safetensors

    return {
        S.ZIP: archive.read_zip,
        S.ZIP_EMPTY: archive.read_zip,
        S.TAR: archive.read_tar,
        S.GZIP: compressed.read_gzip,
        S.BZIP2: compressed.read_bz2,
        S.XZ: compressed.read_xz,
        S.LZMA: compressed.read_lzma,
        S.ZLIB: compressed.read_zlib,
        S.PICKLE: pickle_reader.read_pickle,
        S.PICKLE_PROBE: pickle_reader.probe_pickle,
        S.NUMPY: numpy.read_npy,
        S.SAFETENSORS: safetensors.read_safetensors,
        S.GGUF: gguf.read_gguf,
        S.HDF5: keras.read_hdf5,
        S.JOBLIB_ZFILE: joblib.read_zfile,
    }


def _basename(location: str) -> str:
    return location.rsplit("!", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]


def _by_name(ctx: ScanContext, fmt: str, blob: Blob, location: str) -> Reader | None:
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
    from safe_pip.scan.dist import pysource
    from safe_pip.scan.formats import hdf5_attrs, keras, onnx, tensorflow, torchscript

    if name.endswith(".py"):
        return pysource.read_python if fmt == S.DATA else _python_or_pickle
    if name == "saved_model.pb":
        return tensorflow.read_saved_model
    if fmt == S.DATA and onnx.looks_like_onnx(blob):
        return onnx.read_onnx
    if hdf5_attrs.find_superblock(blob):  # after a user block: h5py searches 512, 1024...
        return keras.read_hdf5
    if torchscript.looks_like_flatbuffer(blob):  # torch.jit.load goes by these bytes
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


def scan_blob(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Scan one member (or top-level file) found at ``location``."""
    fmt = S.sniff(blob.head(S.HEAD), blob.size)
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
    reader = _by_name(ctx, fmt, blob, location) or _readers().get(fmt)
    if reader is None:
        ctx.saw(fmt)
        return
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
