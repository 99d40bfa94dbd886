"""PATH shims: small ``/bin/sh`` scripts named ``pip``, ``pip3``, ``pipX.Y``, ``python``...

Shims cover what shell functions cannot: non-interactive shells, CI jobs,
IDEs and ``subprocess.run(["pip", ...])``, as long as the shim directory comes
first on ``PATH`` (an activated virtual environment puts its own ``bin`` in
front, which is why interactive shells should also use ``shell-init``).

A ``pip*`` shim always hands over to the dispatcher.  A ``python*`` shim does
so only when its arguments mention pip; otherwise it finds the real
interpreter itself, in ``sh``, so that ordinary ``python`` calls pay no extra
interpreter start.  Every shim carries :data:`~.discover.SHIM_MARKER`, which is
how lookups skip shims (no recursion) and how ``uninstall`` knows which files
are ours: a file without the marker is never overwritten or removed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from safe_pip.enforce import discover
from safe_pip.enforce.names import current_versioned
from safe_pip.errors import SafePipError, UsageError

SYSTEM_DIR = Path("/usr/local/lib/safe-pip/shims")

_PIP_TEMPLATE = """#!/bin/sh
# {marker}: routes '{name}' through safe-pip (created by 'safe-pip shim install').
SAFE_PIP_PY={py}
SHIM_DIR={dir}
if [ ! -x "$SAFE_PIP_PY" ]; then
    echo "safe-pip: not found at $SAFE_PIP_PY; refusing to run {name} (fail closed)." >&2
    echo "safe-pip: reinstall safe-pip, or remove the shims with 'safe-pip shim uninstall'." >&2
    exit 2
fi
exec "$SAFE_PIP_PY" -m safe_pip.enforce.dispatch --as {name} --shim-dir "$SHIM_DIR" -- "$@"
"""

_PYTHON_TEMPLATE = """#!/bin/sh
# {marker}: catches '{name} -m pip' for safe-pip; all else runs the real {name}.
SAFE_PIP_PY={py}
SHIM_DIR={dir}
case " $* " in
*pip*)
    if [ ! -x "$SAFE_PIP_PY" ]; then
        echo "safe-pip: not found at $SAFE_PIP_PY; refusing to run {name} (fail closed)." >&2
        exit 2
    fi
    exec "$SAFE_PIP_PY" -m safe_pip.enforce.dispatch --as {name} --shim-dir "$SHIM_DIR" -- "$@"
    ;;
esac
_ifs=$IFS
IFS=:
for _d in $PATH; do
    IFS=$_ifs
    [ -n "$_d" ] || continue
    [ "$_d" = "$SHIM_DIR" ] && continue
    _f="$_d/{name}"
    if [ -f "$_f" ] && [ -x "$_f" ]; then
        if head -c 512 "$_f" 2>/dev/null | grep -q {marker}; then
            continue
        fi
        exec "$_f" "$@"
    fi
done
IFS=$_ifs
echo "{name}: not found on PATH after the safe-pip shims in $SHIM_DIR" >&2
exit 127
"""


@dataclass(frozen=True)
class ShimStatus:
    directory: Path
    shims: tuple[str, ...]
    on_path: bool
    resolves: dict[str, str]
    """What each of pip, pip3, python, python3 resolves to on ``PATH`` right now."""
    broken: tuple[str, ...]
    """Shims whose safe-pip interpreter no longer exists (they refuse to run)."""


def default_dir(system: bool) -> Path:
    if system:
        return SYSTEM_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir("safe-pip")) / "shims"


def shim_names(path_env: str | None = None) -> tuple[str, ...]:
    """pip, pip3, python, python3, this interpreter's pipX.Y/pythonX.Y, and any on PATH."""
    names = ["pip", "pip3", "python", "python3", *current_versioned()]
    for entry in (path_env if path_env is not None else os.environ.get("PATH", "")).split(
        os.pathsep
    ):
        try:
            found = sorted(p.name for p in Path(entry).iterdir()) if entry else []
        except OSError:
            continue
        for name in found:
            if discover.pip_version_suffix(name) is not None or (
                name.startswith("python3.") and name[8:].isdigit()
            ):
                names.append(name)
    return tuple(dict.fromkeys(names))


def render(name: str, directory: Path, python: Path | None = None) -> str:
    template = _PIP_TEMPLATE if name.startswith("pip") else _PYTHON_TEMPLATE
    return template.format(
        marker=discover.SHIM_MARKER.decode(),
        name=name,
        py=shlex.quote(str(python or Path(sys.executable))),
        dir=shlex.quote(str(directory)),
    )


def install(
    directory: Path,
    *,
    names: tuple[str, ...] | None = None,
    python: Path | None = None,
    include_python: bool = True,
) -> list[Path]:
    """Write the shims into ``directory``; never overwrite a file that is not ours."""
    if os.name == "nt":
        raise UsageError(
            "PATH shims are not available on Windows yet; use 'safe-pip shell-init powershell'"
        )
    wanted = [n for n in (names or shim_names()) if include_python or n.startswith("pip")]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SafePipError(f"cannot create {directory}: {exc}") from exc
    written: list[Path] = []
    for name in wanted:
        target = directory / name
        if (target.exists() or target.is_symlink()) and not discover.is_shim(target):
            raise SafePipError(f"{target} exists and is not a safe-pip shim; not overwriting it")
        tmp = directory / f".{name}.tmp"
        try:
            tmp.write_text(render(name, directory, python), encoding="utf-8")
            tmp.chmod(0o755)
            tmp.replace(target)
        except OSError as exc:
            raise SafePipError(f"cannot write {target}: {exc}") from exc
        written.append(target)
    return written


def uninstall(directory: Path) -> list[Path]:
    """Remove our shims (files carrying the marker) and nothing else."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in sorted(directory.iterdir()):
        if entry.is_file() and discover.is_shim(entry):
            try:
                entry.unlink()
            except OSError as exc:
                raise SafePipError(f"cannot remove {entry}: {exc}") from exc
            removed.append(entry)
    with contextlib.suppress(OSError):
        directory.rmdir()  # only if now empty
    return removed


def _shim_python(path: Path) -> Path | None:
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("SAFE_PIP_PY="):
                words = shlex.split(line.split("=", 1)[1])
                return Path(words[0]) if words else None
    except (OSError, ValueError):
        return None
    return None


def status(directory: Path, path_env: str | None = None) -> ShimStatus:
    path_value = path_env if path_env is not None else os.environ.get("PATH", "")
    shims: list[str] = []
    broken: list[str] = []
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            if entry.is_file() and discover.is_shim(entry):
                shims.append(entry.name)
                py = _shim_python(entry)
                if py is None or not os.access(py, os.X_OK):
                    broken.append(entry.name)
    canon = str(directory.resolve()) if directory.exists() else str(directory)
    on_path = any(e and (str(Path(e).resolve()) == canon) for e in path_value.split(os.pathsep))
    resolves = {}
    for name in ("pip", "pip3", "python", "python3"):
        found = shutil.which(name, path=path_value)
        if found is None:
            resolves[name] = "(not found)"
        else:
            tag = " (safe-pip shim)" if discover.is_shim(Path(found)) else " (NOT gated by a shim)"
            resolves[name] = found + tag
    return ShimStatus(directory, tuple(shims), on_path, resolves, tuple(broken))
