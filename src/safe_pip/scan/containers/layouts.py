"""Zip layouts that need more than member-by-member sniffing: wheels, .keras, TorchScript.

The archive reader scans every member by content regardless; this hook adds
the checks that depend on the archive as a whole (a wheel's RECORD and
install locations, a ``.keras`` archive's ``config.json``, the ``code/`` files
of a TorchScript archive).  Layouts are recognised from member names inside
the zip — the loaders go by those names — never from the zip's own file name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.dist.wheel import WheelCheck, wheel_dist_info
from safe_pip.scan.formats import keras
from safe_pip.scan.formats.torch import TorchLayout


class ZipHooks:
    """Called by the archive reader for each member's data and once at the end."""

    def __init__(self, location: str, wheel: WheelCheck | None, keras_config: bool) -> None:
        self.location = location
        self.wheel = wheel
        self.keras_config = keras_config

    def member(self, ctx: ScanContext, name: str, data: Blob | None, loc: str) -> None:
        if self.wheel is not None:
            self.wheel.member(ctx, name, data, loc)
        if self.keras_config and name == "config.json" and data is not None:
            keras.read_config_json(ctx, data, loc)

    def scanned_before(self, ctx: ScanContext, loc: str) -> bool:
        """The member just hashed has the same bytes (and the same reading) as one already
        scanned in this artifact: its findings were reported there (wheels only)."""
        return self.wheel is not None and self.wheel.scanned_before(ctx, loc)

    def finish(self, ctx: ScanContext, reread: Callable[[str], bytes | None] | None = None) -> None:
        if self.wheel is not None:
            self.wheel.finish(ctx, reread)


def for_zip(
    ctx: ScanContext, names: Sequence[str], location: str, layout: TorchLayout | None
) -> ZipHooks | None:
    if layout is not None:
        if layout.torchscript:
            code = sorted(
                n for n in names if n.startswith(f"{layout.prefix}/code/") and not n.endswith("/")
            )
            # Inventory only: TorchScript compiles code/ but cannot import Python modules,
            # and its pickles are judged by the engine; a finding here would flag every
            # scripted model (the real fixtures must stay at zero findings).
            ctx.saw("torchscript-code", len(code))
        return None
    dist_info = wheel_dist_info(list(names))
    wheel = WheelCheck(dist_info, location) if dist_info else None
    is_keras = keras.is_keras_archive(set(names))
    if wheel is None and not is_keras:
        return None
    return ZipHooks(location, wheel, is_keras)
