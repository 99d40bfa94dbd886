"""Build the benchmark inputs without torch: a 20 MB state-dict-like pickle, a 1 GiB torch zip.

Why without torch: the bench must run wherever safe-pip's tests run, and torch is never a
dependency. Why these shapes: a scanner's cost is per opcode for pickles (so the pickle is
millions of small opcodes, like a real legacy state dict, not one bytes blob that any parser
skips in one read) and per byte for a zip checkpoint (so the zip is 1 GiB of tensor records
behind a small ``data.pkl`` that rebuilds them, laid out the way ``torch.save`` lays them out).

Files go to ``$SAFE_PIP_BENCH_DIR`` (default ``~/.cache/safe-pip-bench``), never into git, and
are reused when already there.
"""

from __future__ import annotations

import collections
import os
import pickle
import random
import struct
import zipfile
from pathlib import Path

STATE_DICT_PICKLE = "state_dict_300k_entries.pkl"
STATE_DICT_PAYLOAD = "state_dict_300k_entries_payload.pkl"
TORCH_ZIP = "checkpoint_1gib.pt"
TINY_PICKLE = "tiny.pkl"


def bench_dir() -> Path:
    """``$SAFE_PIP_BENCH_DIR`` or ``~/.cache/safe-pip-bench``, created if missing."""
    env = os.environ.get("SAFE_PIP_BENCH_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "safe-pip-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dict_like(entries: int = 300_000, seed: int = 0) -> bytes:
    """A protocol-2 pickle of an ``OrderedDict`` of ``entries`` items (~20 MB).

    Each value is ``(int, shape tuple, float, str, list)``, the metadata a training script
    keeps per parameter: ``pickle.dumps`` writes them as MARK/TUPLE, BININT, BINFLOAT,
    BINUNICODE, EMPTY_LIST/APPENDS and a LONG_BINPUT memo entry for nearly every object —
    about 5 million opcodes, the opcode mix that makes a scanner's per-opcode cost show.
    """
    rng = random.Random(seed)
    state: collections.OrderedDict[str, object] = collections.OrderedDict()
    for i in range(entries):
        shape = (rng.randint(1, 4096), rng.randint(1, 4096))
        state[f"l{i // 12}.p{i % 12}"] = (i, shape, rng.random(), "f32", [i % 97, rng.random()])
    return pickle.dumps(state, protocol=2)


def with_payload(data: bytes) -> bytes:
    """``data`` with a second pickle stream appended that would call ``os.system``."""
    return data + b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R."


class _Ops:
    """A tiny pickle-opcode writer: the zip's ``data.pkl`` names torch globals torch need not
    be installed for, which :mod:`pickle` cannot write without importing them."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def glob(self, module: str, name: str) -> None:
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def text(self, value: str) -> None:
        raw = value.encode()
        self.out += b"X" + struct.pack("<I", len(raw)) + raw

    def int(self, value: int) -> None:
        self.out += b"J" + struct.pack("<i", value)

    def op(self, code: bytes) -> None:
        self.out += code


def torch_zip_pickle(tensors: list[tuple[str, str, int]]) -> bytes:
    """``data.pkl`` as ``torch.save`` writes it for an OrderedDict of float32 tensors.

    For each ``(name, storage key, numel)``: ``_rebuild_tensor_v2(BINPERSID(('storage',
    torch.FloatStorage, key, 'cpu', numel)), 0, (numel,), (1,), False, OrderedDict())``.
    """
    p = _Ops()
    p.glob("collections", "OrderedDict")
    p.op(b")R")  # EMPTY_TUPLE, REDUCE
    p.op(b"(")  # MARK for SETITEMS
    for name, key, numel in tensors:
        p.text(name)
        p.glob("torch._utils", "_rebuild_tensor_v2")
        p.op(b"(")  # args MARK
        p.op(b"(")  # persistent id MARK
        p.text("storage")
        p.glob("torch", "FloatStorage")
        p.text(key)
        p.text("cpu")
        p.int(numel)
        p.op(b"tQ")  # TUPLE, BINPERSID
        p.int(0)  # storage offset
        p.int(numel)
        p.op(b"\x85")  # TUPLE1 size
        p.int(1)
        p.op(b"\x85")  # TUPLE1 stride
        p.op(b"\x89")  # NEWFALSE requires_grad
        p.glob("collections", "OrderedDict")
        p.op(b")R")  # backward hooks
        p.op(b"tR")  # TUPLE, REDUCE
    p.op(b"u.")  # SETITEMS, STOP
    return bytes(p.out)


def torch_zip(path: Path, total_bytes: int = 2**30, seed: int = 0) -> None:
    """A ``torch.save``-layout zip of ~``total_bytes`` of float32 tensor records.

    Stored (uncompressed) members like torch's: ``<stem>/data.pkl``, ``byteorder``,
    ``data/<key>`` per storage, ``version``, ``.data/serialization_id``. Tensor sizes vary
    from 1 to 16 MiB like a real model's; their bytes are random (content does not matter to a
    scanner that must not parse them, and random bytes defeat any compression shortcut).
    """
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < total_bytes:
        sizes.append(min(rng.choice((1, 2, 4, 4, 8, 16)) << 20, total_bytes - sum(sizes)))
    tensors = [(f"layers.{i}.weight", str(i), n // 4) for i, n in enumerate(sizes)]
    stem = path.stem
    tmp = path.with_suffix(".partial")
    block = rng.randbytes(16 << 20)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(f"{stem}/data.pkl", torch_zip_pickle(tensors))
        zf.writestr(f"{stem}/byteorder", "little")
        for (_, key, numel), n in zip(tensors, sizes, strict=True):
            offset = rng.randrange(0, len(block) - n + 1)
            zf.writestr(f"{stem}/data/{key}", block[offset : offset + n])
            assert numel * 4 == n
        zf.writestr(f"{stem}/version", "3\n")
        zf.writestr(f"{stem}/.data/serialization_id", f"{seed:040d}")
    tmp.replace(path)


def ensure_inputs(
    which: tuple[str, ...] = ("pickle", "payload", "zip", "tiny"),
) -> dict[str, Path]:
    """Create whichever inputs are missing and return their paths by kind."""
    root = bench_dir()
    paths = {
        "pickle": root / STATE_DICT_PICKLE,
        "payload": root / STATE_DICT_PAYLOAD,
        "zip": root / TORCH_ZIP,
        "tiny": root / TINY_PICKLE,
    }
    if {"pickle", "payload"} & set(which) and not paths["pickle"].exists():
        paths["pickle"].write_bytes(state_dict_like())
    if "payload" in which and not paths["payload"].exists():
        paths["payload"].write_bytes(with_payload(paths["pickle"].read_bytes()))
    if "zip" in which and not paths["zip"].exists():
        torch_zip(paths["zip"])
    if "tiny" in which and not paths["tiny"].exists():
        paths["tiny"].write_bytes(pickle.dumps({"weights": [0.5, 1.5], "epoch": 3}, protocol=2))
    return {k: v for k, v in paths.items() if k in which}


if __name__ == "__main__":
    for kind, p in ensure_inputs().items():
        print(f"{kind}: {p} ({p.stat().st_size / 2**20:.1f} MiB)")
