"""Find model artifacts by content in site-packages and model folders, and scan them.

Every regular file's first bytes are sniffed (the scanner's own ``sniff``);
names never decide whether a file is looked at, since a pickle called
``vocab.txt`` loads just as well.  Files with a model or container signature
are scanned in full by :func:`safe_pip.scan.core.engine.scan_path`; header-less
protocol 0/1 pickles are probed the same way.  Python sources are left to the
RECORD check: judging installed code by source patterns is the install gate's
job, and doing it here would bury the findings an audit is for.

A scanned file counts as a model when the scanner saw a model format in it
(``MODEL_FORMATS``) or reported a finding; plain archives of data are not.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from safe_pip.models import ScanResult
from safe_pip.scan.core import sniff as S
from safe_pip.scan.core.engine import scan_path
from safe_pip.scan.core.limits import Limits

# Most specific first: the first one present names the model's format.
MODEL_FORMATS = (
    "torchscript-zip",
    "torch-zip",
    "pickle-legacy-torch",
    "keras-v3",
    "keras-h5-config",
    "tf-savedmodel",
    "onnx",
    "gguf",
    "safetensors",
    "hdf5",
    "numpy-object",
    "numpy",
    "pickle",
)
_SCAN = frozenset(
    [
        S.PICKLE,
        S.PICKLE_PROBE,
        S.NUMPY,
        S.GGUF,
        S.HDF5,
        S.SAFETENSORS,
        S.ZIP,
        S.TAR,
        S.GZIP,
        S.BZIP2,
        S.XZ,
        S.LZMA,
        S.ZLIB,
        S.SEVEN_ZIP,
        S.RAR,
        S.ZSTD,
    ]
)
_SOURCE_SUFFIXES = (".py", ".pyi", ".pyc")


@dataclass(frozen=True)
class ModelFile:
    path: Path
    format: str
    sha256: str
    size: int
    result: ScanResult


def _head(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            return fh.read(S.HEAD)
    except OSError:
        return None


def is_candidate(path: Path) -> bool:
    """Whether the content looks like something a model loader could open."""
    head = _head(path)
    if head is None:
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    fmt = S.sniff(head, size)
    if fmt == S.PICKLE_PROBE and path.name.endswith(_SOURCE_SUFFIXES):
        return False
    if fmt == S.DATA and path.name == "saved_model.pb":
        return True
    if fmt == S.DATA and head[:1] == b"\x08" and not path.name.endswith(_SOURCE_SUFFIXES):
        from safe_pip.scan.core.blob import open_file
        from safe_pip.scan.formats.onnx import looks_like_onnx

        try:
            with open_file(path) as blob:
                return bool(looks_like_onnx(blob))
        except OSError:
            return False
    return fmt in _SCAN


def walk(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, sorted, without following symlinks out."""
    if root.is_file():
        yield root
        return
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                yield p


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def model_format(result: ScanResult) -> str | None:
    return next((f for f in MODEL_FORMATS if result.inventory.get(f)), None)


def scan_models(root: Path, limits: Limits | None) -> tuple[list[ModelFile], int]:
    """Model files under ``root`` (scanned) and how many other files were scanned."""
    models: list[ModelFile] = []
    others = 0
    for path in walk(root):
        if not is_candidate(path):
            continue
        result = scan_path(path, limits=limits)
        fmt = model_format(result)
        if fmt is None and not result.findings:
            others += 1
            continue
        try:
            digest = sha256_of(path)
            size = path.stat().st_size
        except OSError:
            digest, size = "", 0
        models.append(ModelFile(path, fmt or "unknown", digest, size, result))
    return models, others
