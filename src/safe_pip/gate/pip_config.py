"""Every pip configuration value pip would apply for the target, in pip's order.

pip reads configuration files (global, user, site - the target environment's
``sys.prefix`` - and ``PIP_CONFIG_FILE``) and ``PIP_*`` variables, takes from each
the ``[global]`` section, the command's own section and the environment, and
applies them as option defaults before the command line. ``editable =`` in a
forgotten ``/etc/pip.conf`` or ``PIP_REQUIREMENT`` in a CI job is as much an
input as ``-e`` typed by hand, so safe-pip reads them all, with the standard
library's :mod:`configparser` (pip's own reader), and hands them to
:mod:`safe_pip.gate.inputs` as settings with their origin.

Rules followed (pip 22.2-26.x, ``pip/_internal/configuration.py``):
- ``PIP_CONFIG_FILE`` equal to the null device: no file is read at all;
- user files are skipped under ``--isolated`` (the literal word, as pip tests it)
  and when ``PIP_CONFIG_FILE`` names a file that exists;
- ``PIP_*`` variables are skipped under ``--isolated``;
- later files override earlier ones key by key, then sections apply in the order
  ``[global]``, ``[<command>]``, environment; empty values are dropped;
- a key is an option's exact long name (no abbreviation); unknown keys are ignored,
  as pip ignores them.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from safe_pip.errors import UsageError

CONFIG_BASENAME = "pip.ini" if sys.platform == "win32" else "pip.conf"
_ENV_IGNORED = ("version", "help")


class ConfigError(UsageError):
    """A pip configuration file pip itself would refuse to load."""


@dataclass(frozen=True)
class ConfigValue:
    """One ``key = value`` pip would apply, and where it was written."""

    key: str
    """Normalised like pip: lower case, ``_`` as ``-``, no leading ``--``."""
    value: str
    origin: str
    """``/etc/pip.conf [global]``, ``PIP_EDITABLE``..."""


def _normalize(name: str) -> str:
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def _global_files(environ: Mapping[str, str]) -> list[Path]:
    if sys.platform == "darwin":
        return [Path("/Library/Application Support/pip") / CONFIG_BASENAME]
    if sys.platform == "win32":
        base = environ.get("ALLUSERSPROFILE") or environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return [Path(base) / "pip" / CONFIG_BASENAME]
    dirs = environ.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
    found = [Path(d) / "pip" / CONFIG_BASENAME for d in dirs.split(os.pathsep) if d]
    return [*found, Path("/etc") / CONFIG_BASENAME]


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or (environ.get("USERPROFILE") if sys.platform == "win32" else "")
    return Path(home) if home else Path(os.path.expanduser("~"))


def _user_files(environ: Mapping[str, str]) -> list[Path]:
    home = _home(environ)
    legacy = home / ("pip" if sys.platform == "win32" else ".pip") / CONFIG_BASENAME
    if sys.platform == "darwin":
        app = home / "Library/Application Support/pip"
        new_dir = app if app.is_dir() else home / ".config/pip"
    elif sys.platform == "win32":
        new_dir = Path(environ.get("APPDATA") or home / "AppData/Roaming") / "pip"
    else:
        new_dir = Path(environ.get("XDG_CONFIG_HOME", "").strip() or home / ".config") / "pip"
    return [legacy, new_dir / CONFIG_BASENAME]


def config_files(
    prefix: Path, environ: Mapping[str, str], *, isolated: bool
) -> list[tuple[str, Path]]:
    """``(kind, path)`` of every file pip would read, lowest priority first."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files = [("global", p) for p in _global_files(environ)]
    if not isolated and not (env_file and os.path.exists(env_file)):
        files += [("user", p) for p in _user_files(environ)]
    files.append(("site", prefix / CONFIG_BASENAME))
    if env_file:
        files.append(("env", Path(env_file)))
    return files


def _read(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()
    if not path.exists():
        return {}
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh, source=str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"pip configuration {path} is not UTF-8 text: {exc}") from exc
    except (configparser.Error, OSError) as exc:
        raise ConfigError(f"pip configuration {path} cannot be read: {exc}") from exc
    return {s: dict(parser.items(s)) for s in parser.sections()}


def config_values(
    command: str, prefix: Path, environ: Mapping[str, str], *, isolated: bool
) -> Iterator[ConfigValue]:
    """Every value pip applies for ``command``, in the order pip applies them."""
    sections: dict[str, dict[str, tuple[str, str]]] = {"global": {}, command: {}, ":env:": {}}
    for _kind, path in config_files(prefix, environ, isolated=isolated):
        for section, items in _read(path).items():
            if section not in sections:
                continue
            for name, value in items.items():
                sections[section][_normalize(name)] = (value, f"{path} [{section}]")
    if not isolated:
        for var, value in environ.items():
            if var.startswith("PIP_") and var[4:].lower() not in _ENV_IGNORED:
                sections[":env:"][_normalize(var[4:])] = (value, var)
    for section in ("global", command, ":env:"):
        for key, (value, origin) in sections[section].items():
            if value:
                yield ConfigValue(key, value, origin)
