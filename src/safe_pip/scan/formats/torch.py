"""PyTorch archive layouts: which zip members are tensor bytes and which are code.

``torch.save`` writes one top-level folder holding ``data.pkl`` (the pickle),
``data/<key>`` (raw tensor storages), ``version``/``byteorder`` and, for
TorchScript, ``constants.pkl``, ``constants/<key>`` and ``code/``.  Storages
are loaded as raw bytes and never unpickled, so the scanner skips them — which
is what lets a 1 GiB checkpoint scan faster than it can be hashed.  Everything
else (every ``.pkl``, anything unexpected) is scanned by content.

A layout is recognised only when *every* member sits under one folder that has
a ``data.pkl``: a wheel with ``pkg/data.pkl`` and ``pkg/data/x.pkl`` beside a
``dist-info`` folder is not a checkpoint, so nothing in it is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from safe_pip.scan.formats.pickle import PLAIN, TORCH_LEGACY, PickleRead, Stream


@dataclass(frozen=True)
class TorchLayout:
    prefix: str
    torchscript: bool

    @property
    def kind(self) -> str:
        return "torchscript-zip" if self.torchscript else "torch-zip"

    def is_storage(self, name: str) -> bool:
        for folder in ("data", "constants") if self.torchscript else ("data",):
            head = f"{self.prefix}/{folder}/"
            if name.startswith(head) and "/" not in name[len(head) :] and name[len(head) :]:
                return True
        return False


def detect(names: Sequence[str]) -> TorchLayout | None:
    """Return the checkpoint layout if ``names`` is exactly a torch archive."""
    if not names:
        return None
    prefixes = {n.split("/", 1)[0] for n in names}
    if len(prefixes) != 1 or any("/" not in n for n in names):
        return None
    prefix = prefixes.pop()
    listed = set(names)
    if f"{prefix}/data.pkl" not in listed:
        return None
    torchscript = f"{prefix}/constants.pkl" in listed or any(
        n.startswith(f"{prefix}/code/") for n in listed
    )
    return TorchLayout(prefix, torchscript)


LEGACY_STREAMS = 5
"""magic number, protocol version, sys_info, the object, the storage keys; raw data follows."""


def follow_legacy(read: PickleRead, first: Stream) -> None:
    """Read a legacy (non-zip) ``torch.save`` file's pickles as ``torch.load`` does.

    ``_legacy_load`` calls ``pickle.load`` on one file object for the protocol version
    and the sys_info, then its own unpickler (whose ``persistent_load`` hands back the
    class of a ``('module', cls, ...)`` id) for the object, then ``pickle.load`` for the
    storage keys; raw storage bytes follow, which torch reads as data.  Each load starts
    where the previous one left the file — at every place loaders disagree on.
    """
    read.legacy_torch = True
    limit = read.ctx.limits.max_streams
    frontier = [(end, 1) for end in first.ends]
    seen: set[tuple[int, int]] = set()
    longest = 1
    while frontier:
        pos, index = frontier.pop(0)
        if (pos, index) in seen:
            continue
        seen.add((pos, index))
        if len(seen) > limit:
            read.ctx.report(
                "PICKLE-LIMIT",
                f"more than {limit} ways to read this legacy torch file's pickles",
                f"{read.location}@{pos}",
            )
            return
        stream = read.load(pos, TORCH_LEGACY if index == 3 else PLAIN)
        if not stream.complete:
            continue
        longest = max(longest, index + 1)
        if index + 1 < LEGACY_STREAMS:
            frontier.extend((end, index + 1) for end in stream.ends)
    if longest < LEGACY_STREAMS and all(s.complete for s in read.streams):
        read.ctx.report(
            "PICKLE-MALFORMED",
            f"legacy torch file ends after {longest} of its {LEGACY_STREAMS} pickles",
            f"{read.location}@{read.blob.size}",
        )
