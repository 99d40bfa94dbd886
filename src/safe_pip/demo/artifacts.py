"""Real wheels written byte by byte, and the seed attack's pickle, without setuptools.

``safe-pip demo`` needs a clean wheel and the ``torchvision-optimized`` attack on a
machine with no network and no build tools, and the tests need the same bytes: this is
the one recipe both use (``tests/support`` re-exports it).  A wheel is a zip with the
package files plus ``*.dist-info/METADATA``, ``WHEEL`` and ``RECORD`` (with correct
urlsafe-base64 sha256 entries), so pip installs what this writes exactly as it would a
wheel from an index.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def dist_name(name: str) -> str:
    """Wheel filename form of a project name (PEP 427 / binary distribution spec)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def record_hash(data: bytes) -> str:
    """A RECORD hash entry: ``sha256=`` and the urlsafe base64 digest without padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_wheel(
    out_dir: Path,
    name: str,
    version: str = "1.0",
    files: Mapping[str, bytes] | None = None,
    *,
    requires: Sequence[str] = (),
    tag: str = "py3-none-any",
    summary: str = "test package",
    metadata_extra: Sequence[str] = (),
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``out_dir`` and return its path.

    ``files`` maps archive paths to bytes; by default a single
    ``<module>/__init__.py`` is written so the package is importable.
    """
    dist = dist_name(name)
    if files is None:
        files = {f"{dist}/__init__.py": f'"""{name} {version}"""\n'.encode()}
    info = f"{dist}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
    ]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    metadata += list(metadata_extra)
    wheel_meta = "\n".join(
        ["Wheel-Version: 1.0", "Generator: safe-pip", "Root-Is-Purelib: true", f"Tag: {tag}"]
    )
    members: dict[str, bytes] = dict(files)
    members[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    members[f"{info}/WHEEL"] = (wheel_meta + "\n").encode()
    record_lines = [f"{path},{record_hash(data)},{len(data)}" for path, data in members.items()]
    record_lines.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members.items():
            info_entry = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info_entry.compress_type = zipfile.ZIP_DEFLATED
            info_entry.external_attr = 0o644 << 16
            zf.writestr(info_entry, data)
    return path


def wheel_metadata(path: Path) -> bytes:
    """The ``METADATA`` bytes of a wheel, for serving PEP 658 ``.metadata`` files."""
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if member.endswith(".dist-info/METADATA") and member.count("/") == 1:
                return zf.read(member)
    raise ValueError(f"{path} has no METADATA")


def evil_pickle(marker: Path) -> bytes:
    """Protocol-2 pickle calling ``os.system(f"touch {marker}")``, written from raw opcodes.

    No ``pickle.dumps`` of a real object, so nothing runs while it is made; if anything
    ever unpickled it, the command would create ``marker`` (the demo and the tests check
    that it never appears).
    """
    cmd = f"touch {marker}".encode()
    return (
        b"\x80\x02"
        + b"cos\nsystem\n"
        + b"X"
        + struct.pack("<I", len(cmd))
        + cmd
        + b"\x85"  # TUPLE1
        + b"R"  # REDUCE
        + b"."
    )


def evil_wheel(out_dir: Path, marker: Path, name: str = "modelzoo", version: str = "1.0") -> Path:
    """A wheel whose ``model.pt`` is :func:`evil_pickle` (the ``torchvision-optimized`` shape)."""
    mod = dist_name(name)
    return build_wheel(
        out_dir,
        name,
        version,
        {f"{mod}/__init__.py": b"", f"{mod}/model.pt": evil_pickle(marker)},
    )
