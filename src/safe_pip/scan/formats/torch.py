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
