"""Zip layouts that need more than member-by-member sniffing: wheels, .keras, TorchScript.

The archive reader scans every member by content regardless; this hook adds
the checks that depend on the archive as a whole (a wheel's RECORD and
install locations, a ``.keras`` archive's ``config.json``, the ``code/`` files
of a TorchScript archive).  Layouts are recognised from member names inside
the zip — the loaders go by those names — never from the zip's own file name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from safe_pip.scan.core.blob import Blob, Digest
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.dist.wheel import WheelCheck, wheel_dist_info
from safe_pip.scan.formats import keras
from safe_pip.scan.formats.torch import TorchLayout

if TYPE_CHECKING:
    from safe_pip.scan.formats import exported_program, torchscript


class ZipHooks:
    """Called by the archive reader for each member's data and once at the end."""

    def __init__(
        self,
        location: str,
        wheel: WheelCheck | None,
        keras_config: bool,
        scripts: Sequence[torchscript.ArchiveCheck | exported_program.ArchiveCheck] = (),
    ) -> None:
        self.location = location
        self.wheel = wheel
        self.keras_config = keras_config
        self.scripts = tuple(scripts)

    def member(
        self,
        ctx: ScanContext,
        name: str,
        data: Blob | Digest | None,
        loc: str,
        aliases: tuple[str, ...] = (),
    ) -> None:
        """``aliases``: other names the zip reader says some Python gives this member;
        ``data`` a :class:`Digest` only when :meth:`needs_bytes` said no."""
        if self.wheel is not None:
            self.wheel.member(ctx, name, data, loc, aliases)
        if isinstance(data, Digest):
            return
        readings = {keras.zipfile_name(n) for n in (name, *aliases)}  # as Keras' zipfile may
        if data is not None and "config.json" in readings and self.keras_config:
            keras.read_config_json(ctx, data, loc)
        elif data is not None and any(n.endswith("/config.json") for n in readings):
            keras.read_folder_config(ctx, data, loc)
        for script in self.scripts:
            script.member(ctx, name, data, loc)

    def needs_bytes(self, name: str, aliases: tuple[str, ...] = ()) -> bool:
        """Would :meth:`member` read this member's bytes beyond the sha256 and size the
        wheel check records (a Keras config, a TorchScript or exported-program archive's
        files)? The wheel check keeps texts only up to ``wheel._MAX_META`` bytes, below any
        member streamed (``archive.STREAM_AT``)."""
        readings = {keras.zipfile_name(n) for n in (name, *aliases)}
        return bool(self.scripts) or any(
            n == "config.json" or n.endswith("/config.json") for n in readings
        )

    def scanned_before(self, ctx: ScanContext, loc: str) -> bool:
        """The member just hashed has the same bytes (and the same reading) as one already
        scanned in this artifact: its findings were reported there (wheels only)."""
        return self.wheel is not None and self.wheel.scanned_before(ctx, loc)

    def finish(self, ctx: ScanContext, reread: Callable[[str], bytes | None] | None = None) -> None:
        if self.wheel is not None:
            self.wheel.finish(ctx, reread)


def _has_folder_config(names: Sequence[str]) -> bool:
    return any(keras.zipfile_name(n).endswith("/config.json") for n in names)


def for_zip(
    ctx: ScanContext, names: Sequence[str], location: str, layout: TorchLayout | None
) -> ZipHooks | None:
    dist_info = None if layout is not None else wheel_dist_info(list(names))
    wheel = WheelCheck(dist_info, location) if dist_info else None
    # a wheel is installed, not loaded by torch.jit; its files are Python (and a wheel
    # scan does not import the TorchScript and exported-program readers for nothing)
    scripts = [] if wheel is not None else _script_checks(names, layout)
    is_keras = layout is None and keras.is_keras_archive(set(names))
    if wheel is None and not is_keras and not scripts and not _has_folder_config(names):
        return None
    return ZipHooks(location, wheel, is_keras, scripts)


def _script_checks(
    names: Sequence[str], layout: TorchLayout | None
) -> list[torchscript.ArchiveCheck | exported_program.ArchiveCheck]:
    """The TorchScript and exported-program archives inside a zip that is not a wheel."""
    from safe_pip.scan.formats import exported_program, torchscript

    scripts: list[torchscript.ArchiveCheck | exported_program.ArchiveCheck]
    ts_prefix = layout.prefix if layout is not None and layout.torchscript else None
    scripts = [torchscript.ArchiveCheck(p) for p in torchscript.archive_prefixes(names, ts_prefix)]
    programs = exported_program.archive_prefixes(set(names))
    if programs:
        scripts.append(exported_program.ArchiveCheck(programs))
    return scripts
