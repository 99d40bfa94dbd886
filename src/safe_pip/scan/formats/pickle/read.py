"""One member read as pickle streams, the way one loader reads it.

A :class:`PickleRead` owns the trace the stand-ins write into and the bounds (memory
budget, deadline); loaders (plain pickle, torch's zip and legacy layouts, numpy, joblib)
call :meth:`PickleRead.load` at the offsets where *they* would call ``load`` and then
hand the read to :func:`~safe_pip.scan.formats.pickle.analyze.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.pickle import bounds, engine
from safe_pip.scan.formats.pickle.engine import Loader, Stream
from safe_pip.scan.formats.pickle.standins import Trace

PLAIN = Loader()
"""``pickle.load``: the C unpickler (persistent ids read past, see ``Loader``)."""
TORCH = Loader(persistent="torch")
"""``torch.load`` of a zip: storages through ``persistent_load``."""
TORCH_LEGACY = Loader(persistent="torch-legacy")
"""``torch.load`` of a legacy file's object pickle: ``('module', cls, ...)`` ids too."""
TORCH_TAR = Loader(persistent="torch-tar")
"""``torch.load`` of the oldest (tar) format's ``pickle`` member."""


@dataclass
class PickleRead:
    """Streams read from ``blob`` (offsets relative to it) and what they did."""

    ctx: ScanContext
    blob: Blob
    location: str
    trace: Trace = field(default_factory=Trace)
    streams: list[Stream] = field(default_factory=list)
    legacy_torch: bool = False
    persistent: str = "generic"
    """The ``persistent_load`` convention persistent ids are judged by."""
    budget: bounds.Budget | None = None

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = bounds.Budget(self.blob.size)

    @property
    def events(self) -> int:
        """Anything a loader would import, call or hand to a hook so far."""
        t = self.trace
        return len(t.globals) + len(t.calls) + len(t.indirect) + len(t.persids) + len(t.mutations)

    def load(self, offset: int, loader: Loader = PLAIN, *, keep: bool = True) -> Stream:
        """One ``load`` at ``offset``; with ``keep=False`` a stream that breaks without
        importing or calling anything is forgotten (bytes that are not a pickle)."""
        assert self.budget is not None
        before = self.events
        if loader.persistent != "generic":
            self.persistent = loader.persistent
        stream = engine.load(
            self.blob.buf,
            self.blob.start + offset,
            self.blob.end,
            self.trace,
            loader,
            deadline=self.ctx.deadline,
            memory=self.budget,
        )
        stream.start -= self.blob.start
        stream.ends = tuple(e - self.blob.start for e in stream.ends)
        stream.error_pos -= self.blob.start
        stream.anomalies = [(p - self.blob.start, m) for p, m in stream.anomalies]
        if keep or stream.complete or self.events > before or stream.limit:
            self.streams.append(stream)
        return stream

    def offset(self, absolute: int) -> int:
        """A position recorded by the engine, relative to the blob."""
        return absolute - self.blob.start

    def value(self, index: int) -> Any:
        return self.streams[index].value if index < len(self.streams) else None
