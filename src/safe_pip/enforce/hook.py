"""The per-environment hook: put it in place, check it, remove it (``safe-pip shim``).

An environment is *protected* when its site-packages holds safe-pip's hook files with
digests this release wrote (``_safe_pip_hook.pth`` and ``.py``, see
:mod:`safe_pip.own_hooks`), their settings (``_safe_pip_hook.json``) name a safe-pip that
exists, and a fresh interpreter of that environment reports the hook armed at start-up
with pip's layout understood. Each check is a fact ``shim status`` prints, per
environment, with what to do about it.

Which environments: those named (``--env``), every environment whose ``python*`` or
``pip*`` is on ``PATH``, the active virtual environment, and every environment recorded in
this user's registry (written here and by the hook itself when ``python -m venv`` of a
protected interpreter makes a new environment).

Interpreters are asked with ``-I -S`` (nothing of the environment runs) where they live;
only the armed-at-start-up check starts them normally, as any use of that Python would.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from safe_pip import own_hooks
from safe_pip.enforce import discover
from safe_pip.errors import SafePipError
from safe_pip.gate import ticket

PTH_LINE = b"import _safe_pip_hook; _safe_pip_hook.arm()\n"
CONFIG_FORMAT = 1
_TIMEOUT = 60.0

_PROBE = (
    # Without site (-S), sys.prefix of a venv is its base: find pyvenv.cfg the way site does.
    "import json, os, site, sys, sysconfig\n"
    "exe_dir = os.path.dirname(os.path.abspath(sys.executable))\n"
    "prefix = sys.prefix\n"
    "if any(os.path.isfile(os.path.join(d, 'pyvenv.cfg'))\n"
    "       for d in (exe_dir, os.path.dirname(exe_dir))):\n"
    "    prefix = os.path.dirname(exe_dir)\n"
    "purelib = sysconfig.get_path('purelib', vars={'base': prefix, 'platbase': prefix})\n"
    "sites = [p for p in site.getsitepackages([prefix]) if os.path.isdir(p)]\n"
    "print(json.dumps({'prefix': prefix, 'executable': sys.executable,\n"
    "  'purelib': purelib, 'sites': sites, 'version': '%d.%d' % sys.version_info[:2]}))\n"
)
_CHECK = (
    "import json, sys\n"
    "h = sys.modules.get('_safe_pip_hook')\n"
    "print(json.dumps(h.self_check() if h is not None else None))\n"
)


def hook_files() -> dict[str, bytes]:
    """The hook's code files exactly as this release writes them."""
    module = resources.files("safe_pip") / "enforce" / "_safe_pip_hook.py"
    return {"_safe_pip_hook.pth": PTH_LINE, "_safe_pip_hook.py": module.read_bytes()}


def registry_path() -> Path:
    """This user's list of protected environments (the hook appends to the same file)."""
    return ticket.state_dir() / "managed-environments.txt"


def gatekeep_command(python: Path | None = None) -> list[str]:
    return [str(python or Path(sys.executable)), "-I", "-m", "safe_pip.enforce.gatekeep"]


@dataclass(frozen=True)
class Environment:
    """One Python environment, as its interpreter describes itself."""

    python: Path
    prefix: Path
    site: Path
    """The site-packages directory ``site`` reads ``.pth`` files from (where the hook goes)."""
    version: str


class HookError(SafePipError):
    """An environment could not be described, protected or cleaned."""


def describe(python: Path) -> Environment:
    """Ask ``python`` (isolated, without ``site``) where it lives."""
    try:
        proc = subprocess.run(
            [str(python), "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            cwd=Path(os.sep),
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise HookError(f"cannot ask {python} where it lives: {exc}") from exc
    purelib = Path(info["purelib"])
    sites = [Path(s) for s in info["sites"]]
    site = purelib if purelib in sites or not sites else sites[0]
    return Environment(Path(info["executable"] or python), Path(info["prefix"]), site,
                       info["version"])  # fmt: skip


def interpreter_in(prefix: Path) -> Path | None:
    for rel in ("bin/python3", "bin/python", "Scripts/python.exe", "python.exe"):
        if (prefix / rel).exists():
            return prefix / rel
    return None


def registered() -> list[Path]:
    """Environments (prefixes) this user's safe-pip or hooks have protected."""
    try:
        lines = registry_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [Path(line) for line in dict.fromkeys(x.strip() for x in lines) if line]


def _register(prefix: Path) -> None:
    path = registry_path()
    if prefix in registered():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{prefix}\n")
    except OSError as exc:
        raise HookError(f"cannot record {prefix} in {path}: {exc}") from exc


def discovered(path_env: str | None = None, shim_dirs: Sequence[Path] = ()) -> list[Path]:
    """Interpreters of the environments reachable now: PATH's pythons and pips, the venv."""
    found: list[Path] = []
    venv = discover.venv_python()
    if venv is not None:
        found.append(venv)
    for directory in (path_env if path_env is not None else os.environ.get("PATH", "")).split(
        os.pathsep
    ):
        if not directory or Path(directory) in shim_dirs:
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            candidate = Path(directory) / name
            if discover.is_shim(candidate) or not os.access(candidate, os.X_OK):
                continue
            if discover.pip_version_suffix(name) is not None:
                python = discover.interpreter_of(candidate)
                if python is not None:
                    found.append(python)
            elif name in ("python", "python3") or (name.startswith("python3.") and
                                                   name[8:].isdigit()):  # fmt: skip
                found.append(candidate)
    return found


def candidates(named: Iterable[Path] = (), *, discover_more: bool = True) -> list[Environment]:
    """Each environment once (by prefix): named ones first, then discovered and registered."""
    pythons: list[Path] = [_as_python(p) for p in named]
    if discover_more:
        pythons += discovered()
        pythons += [p for p in map(interpreter_in, registered()) if p is not None]
    seen: dict[Path, Environment] = {}
    for python in pythons:
        try:
            env = describe(python)
        except HookError:
            continue
        seen.setdefault(env.prefix, env)
    return list(seen.values())


def _as_python(path: Path) -> Path:
    """``--env`` takes an interpreter or an environment directory."""
    if path.is_dir():
        found = interpreter_in(path)
        if found is None:
            raise HookError(f"{path} holds no Python interpreter")
        return found
    return path


def config_for(python: Path | None = None) -> dict[str, object]:
    return {
        "format": CONFIG_FORMAT,
        "gatekeep": gatekeep_command(python),
    }


def _check_safe_pip(python: Path | None) -> None:
    cmd = [*gatekeep_command(python)[:2], "-c", "import safe_pip.enforce.gatekeep"]
    try:
        ok = subprocess.run(cmd, capture_output=True, timeout=_TIMEOUT).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        raise HookError(f"{cmd[0]} -I cannot import safe-pip; install safe-pip in a venv")


def install(env: Environment, *, safe_pip_python: Path | None = None) -> None:
    """Write (or repair) the hook in ``env``; its ``.pth`` comes last, once the rest is there."""
    _check_safe_pip(safe_pip_python)
    files = hook_files()
    config = (json.dumps(config_for(safe_pip_python), indent=2) + "\n").encode()
    order = [
        ("_safe_pip_hook.py", files["_safe_pip_hook.py"]),
        (own_hooks.CONFIG_FILE, config),
        ("_safe_pip_hook.pth", files["_safe_pip_hook.pth"]),
    ]
    try:
        for name, data in order:
            tmp = env.site / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(env.site / name)
    except OSError as exc:
        raise HookError(f"cannot write the hook into {env.site}: {exc}") from exc
    _register(env.prefix)


def has_hook_files(env: Environment) -> bool:
    """Any of the hook's files is in ``env`` (intact or not): the hook was put there."""
    names = (*own_hooks.HOOK_FILES, own_hooks.CONFIG_FILE)
    return any((env.site / name).exists() for name in names)


def uninstall(env: Environment) -> list[Path]:
    """Remove the hook files (the ``.pth`` first, so nothing half-armed is left)."""
    removed = []
    for name in ("_safe_pip_hook.pth", "_safe_pip_hook.py", own_hooks.CONFIG_FILE):
        path = env.site / name
        if path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise HookError(f"cannot remove {path}: {exc}") from exc
            removed.append(path)
    with contextlib.suppress(OSError):
        for cached in (env.site / "__pycache__").glob("_safe_pip_hook.*"):
            cached.unlink()
    return removed


@dataclass
class HookStatus:
    env: Environment
    protected: bool = False
    problems: list[str] = field(default_factory=list)
    pip: str | None = None
    notes: list[str] = field(default_factory=list)


def status(env: Environment) -> HookStatus:
    """Every fact that makes ``env`` protected or not, with what to do when it is not."""
    st = HookStatus(env)
    repair = f"run 'safe-pip shim install --env {env.python}'"
    for name in own_hooks.HOOK_FILES:
        path = env.site / name
        if not path.exists():
            st.problems.append(f"{name} is missing ({repair})")
            continue
        own = own_hooks.recognise(path)
        if own is None:
            st.problems.append(f"{name} is MODIFIED: its content is not safe-pip's ({repair})")
        elif not own.current:
            st.problems.append(f"{name} is from safe-pip {own.release}, outdated ({repair})")
    if st.problems:
        return st
    try:
        config = json.loads((env.site / own_hooks.CONFIG_FILE).read_text(encoding="utf-8"))
        gate_python = Path(config["gatekeep"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        st.problems.append(f"its settings are unreadable ({exc}; {repair})")
        return st
    if not os.access(gate_python, os.X_OK):
        st.problems.append(f"the safe-pip it calls ({gate_python}) is gone: pip refuses to run")
    check = _armed(env)
    if check is None:
        st.problems.append("a fresh interpreter does not arm the hook at start-up")
    else:
        pip = check.get("pip")
        st.pip = str(pip) if pip is not None else None
        problems = check.get("problems")
        if isinstance(problems, list):
            st.problems += [f"pip's layout: {p}" for p in problems]
        if st.pip is None:
            st.notes.append("no pip in this environment (the hook waits for one)")
    st.protected = not st.problems
    return st


def _armed(env: Environment) -> dict[str, object] | None:
    try:
        proc = subprocess.run(
            [str(env.python), "-I", "-c", _CHECK],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            cwd=Path(os.sep),
        )
        found = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    if not isinstance(found, dict) or not found.get("armed"):
        return None
    return found


def is_protected(python: Path) -> bool:
    """Fast check for the dispatcher: the hook files are there and genuine (no interpreter
    start beyond the ``-S`` probe)."""
    try:
        env = describe(python)
    except HookError:
        return False
    return all(
        (own := own_hooks.recognise(env.site / name)) is not None and own.current
        for name in own_hooks.HOOK_FILES
    )
