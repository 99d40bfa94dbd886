"""safe-pip's start-up hook: this environment's pip resolves requirements only through safe-pip.

Copied verbatim into a managed environment's site-packages by ``safe-pip shim install``
(with ``_safe_pip_hook.pth``, whose one line imports it, and ``_safe_pip_hook.json``, its
settings). ``site`` runs the ``.pth`` line at every interpreter start, so the hook is in
place however pip is started there: ``pip``, ``pip3.11``, the full path, ``python -m pip``
with any interpreter flags, ``python <site-packages>/pip``, ``runpy``, ``__pip-runner__``,
another pip's ``--python`` pointing here, an IDE, ``make`` or ``xargs``. It lives in its
own files, not pip's, so pip upgrading itself leaves it alone.

What it does is small and lazy: a meta-path finder that, when pip's own modules are
imported, wraps three things after they load -

- ``Command.main`` (records the argument list pip hands the command);
- ``RequirementCommand``: every command class derived from it (``install``, ``download``,
  ``wheel``, ``lock``: the commands that resolve requirements, and so may download and run
  build backends) gets a ``run`` that hands the command line to safe-pip instead, unless a
  single-use ticket from safe-pip admits exactly this command line (the gate's own final
  install); the criterion is pip's class hierarchy, not a list of names;
- ``parse_command``'s re-run under ``--python``: the other interpreter starts this file
  first, so the hook goes with pip into it.

- pip's build-backend calls (the vendored ``pyproject_hooks``' hook caller, and pip 23's
  legacy ``setup.py`` invocations): outside a command the gate admitted they refuse. pip's
  own requirement commands never run unadmitted here, so this holds for code that drives
  pip's resolver as a library without running a command (pip-compile does): an sdist's
  build backend is package code, and it must not run before its verdict.

- ``venv.EnvBuilder`` and virtualenv's ``Session.run``: an environment this interpreter
  creates is protected as this one is (tox, nox, hatch and pipenv create theirs so).

pip is recognised by its layout, not by the name it is imported under: a copy of pip that a
tool vendors inside its own package (pipenv runs ``pipenv/patched/pip/__pip-runner__.py``
with the target environment's interpreter, and that copy imports itself as
``pipenv.patched.pip._internal...``) is patched like pip itself.

If pip's layout is not what the hook knows, pip refuses to run here (exit 2) rather than
run ungated. Standard library only, and Python 3.8 syntax: it runs inside every Python
of the environment, not inside safe-pip.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

HOOK_FORMAT = 1
_HERE = os.path.dirname(os.path.abspath(__file__))
_CONFIG = os.path.join(_HERE, "_safe_pip_hook.json")
_RUNNER_ENV = "_SAFE_PIP_HOOK_RUNNER"
_EXIT_ERROR = 2
_state: dict[str, Any] = {"patched": set()}


def _say(message: str) -> None:
    sys.stderr.write("safe-pip: " + message + "\n")
    sys.stderr.flush()


def _config() -> dict[str, Any]:
    import json

    with open(_CONFIG, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("format") != HOOK_FORMAT:
        raise ValueError("unknown settings format")
    return data


# --- tickets (see safe_pip.gate.ticket) -------------------------------------------------------


def _state_dir() -> str:
    """The running user's safe-pip state folder (``safe_pip.gate.ticket.state_dir``'s rule)."""
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Local"
        )
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.join(
            os.path.expanduser("~"), ".local", "state"
        )
    return os.path.join(base, "safe-pip")


def _ticket_key(command: str, args: list[str]) -> str:
    import hashlib
    import json

    blob = json.dumps([command, list(args)], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _file_digest(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _private(directory: str) -> bool:
    """Owned by this user and writable by nobody else (POSIX); tickets elsewhere count not."""
    if os.name == "nt":
        return os.path.isdir(directory)
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def take_ticket(command: str, args: list[str]) -> bool:
    """Consume the ticket for exactly this command line; ``False`` if there is none valid."""
    import json
    import time

    directory = os.path.join(_state_dir(), "tickets")
    if not _private(directory):
        return False
    path = os.path.join(directory, _ticket_key(command, args) + ".ticket")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
        os.unlink(path)  # only one process can win this: single use
        ticket = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return False
    try:
        if ticket["command"] != command or ticket["argv"] != list(args):
            return False
        if float(ticket["expires"]) < time.time():
            return False
        for name, digest in dict(ticket["files"]).items():
            if _file_digest(name) != digest:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


# --- routing a command to safe-pip -----------------------------------------------------------


def _gate(command: Any, options: Any, args: Any, run: Callable[..., Any]) -> Any:
    name = str(getattr(command, "name", "") or "")
    argv = getattr(command, "_safe_pip_argv", None)
    if getattr(command, "_safe_pip_admitted", False):
        return run(command, options, args)  # a subclass calling super().run()
    if argv is None:
        _say(f"pip {name} was started without a command line; refusing to run it ungated")
        return _EXIT_ERROR
    if take_ticket(name, argv):
        return _admit(command, options, args, run)
    import subprocess

    try:
        prefix = [str(p) for p in _config()["gatekeep"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _say(f"this environment's hook settings are unreadable ({exc}); refusing pip {name}")
        return _EXIT_ERROR
    if not os.path.exists(prefix[0]):
        _say(f"not found at {prefix[0]}; refusing to run pip {name} (fail closed)")
        return _EXIT_ERROR
    if not sys.executable:
        _say(f"cannot tell which interpreter runs pip; refusing pip {name}")
        return _EXIT_ERROR
    _say(f"pip {name} in {sys.prefix} goes through the safe-pip gate")
    dry = ["--dry-run"] if getattr(options, "dry_run", False) is True else []  # pip's own parse
    cmd = [*prefix, "--python", sys.executable, "--command", name, *dry, "--", *argv]
    try:
        code = subprocess.call(cmd)
    except OSError as exc:
        _say(f"cannot run safe-pip ({exc}); refusing pip {name} (fail closed)")
        return _EXIT_ERROR
    if code == 0 and take_ticket(name, argv):  # an escape hatch the policy allowed
        return _admit(command, options, args, run)
    return code


def _admit(command: Any, options: Any, args: Any, run: Callable[..., Any]) -> Any:
    """Run a command a ticket admitted; builds are allowed from now on in this process."""
    command._safe_pip_admitted = True
    _state["admitted"] = True
    return run(command, options, args)


class BuildRefused(RuntimeError):
    """pip was asked to run a build backend outside a command the gate admitted."""


def _refuse_build(what: str) -> None:
    if _state.get("admitted"):
        return
    message = (
        f"refusing to run {what} outside a pip command the safe-pip gate admitted: "
        "package code must not run before its verdict (vet it with 'safe-pip install')"
    )
    _say(message)
    raise BuildRefused("safe-pip: " + message)


def _wrap_run(cls: Any) -> None:
    original = cls.__dict__.get("run")
    if original is None or getattr(original, "_safe_pip", False):
        return

    def run(self: Any, options: Any, args: Any) -> Any:
        return _gate(self, options, args, original)

    run._safe_pip = True  # type: ignore[attr-defined]
    run.__doc__ = original.__doc__
    cls.run = run


# --- patches applied when pip's modules load ------------------------------------------------


def _patch_base_command(module: Any) -> None:
    cls = module.Command
    original = cls.main
    if getattr(original, "_safe_pip", False):
        return

    def main(self: Any, args: Any) -> Any:
        self._safe_pip_argv = [str(a) for a in args]
        return original(self, args)

    main._safe_pip = True  # type: ignore[attr-defined]
    cls.main = main


def _patch_req_command(module: Any) -> None:
    base = module.RequirementCommand
    if getattr(base, "_safe_pip", False):
        return

    def init_subclass(cls: Any, /, **kwargs: Any) -> None:
        super(base, cls).__init_subclass__(**kwargs)
        _wrap_run(cls)

    base.__init_subclass__ = classmethod(init_subclass)
    base._safe_pip = True
    for sub in base.__subclasses__():  # defined before the hook saw them (none normally)
        _wrap_run(sub)


def _patch_hook_caller(module: Any) -> None:
    """Every PEP 517 hook pip calls goes through ``BuildBackendHookCaller._call_hook``."""
    cls = module.BuildBackendHookCaller
    original = cls._call_hook
    if getattr(original, "_safe_pip", False):
        return

    def _call_hook(self: Any, hook_name: Any, kwargs: Any) -> Any:
        source = getattr(self, "source_dir", "?")
        _refuse_build(f"the build backend's {hook_name} hook of {source}")
        return original(self, hook_name, kwargs)

    _call_hook._safe_pip = True  # type: ignore[attr-defined]
    cls._call_hook = _call_hook


def _patch_setuptools_build(module: Any) -> None:
    """pip 23's legacy ``setup.py`` runs all build their command line here."""
    original = getattr(module, "make_setuptools_shim_args", None)
    if original is None or getattr(original, "_safe_pip", False):
        return  # pip without legacy setup.py support

    def make_setuptools_shim_args(setup_py_path: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_build(f"{setup_py_path}")
        return original(setup_py_path, *args, **kwargs)

    make_setuptools_shim_args._safe_pip = True  # type: ignore[attr-defined]
    module.make_setuptools_shim_args = make_setuptools_shim_args


def _patch_main_parser(module: Any) -> None:
    original = module.get_runnable_pip
    if getattr(original, "_safe_pip", False):
        return

    def get_runnable_pip() -> str:
        os.environ[_RUNNER_ENV] = str(original())
        return os.path.abspath(__file__)

    get_runnable_pip._safe_pip = True  # type: ignore[attr-defined]
    module.get_runnable_pip = get_runnable_pip


def _patch_cli_main(module: Any) -> None:
    original = module.main
    if getattr(original, "_safe_pip", False):
        return

    package = str(module.__name__)[: -len("._internal.cli.main")]

    def main(args: Any = None) -> Any:
        missing = armed_problems(package)
        if missing:
            _say(
                "this environment's hook does not recognise this pip's layout ("
                + "; ".join(missing)
                + "); refusing to run pip. Update safe-pip, then run 'safe-pip shim status'."
            )
            return _EXIT_ERROR
        return original(args)

    main._safe_pip = True  # type: ignore[attr-defined]
    module.main = main


def _patch_venv(module: Any) -> None:
    builder = module.EnvBuilder
    if getattr(builder, "_safe_pip", False):
        return
    create = builder.create

    def wrapped_create(self: Any, env_dir: Any) -> Any:
        result = create(self, env_dir)
        adopt(str(env_dir))
        return result

    builder.create = wrapped_create
    upgrade = getattr(builder, "upgrade_dependencies", None)
    if upgrade is not None:

        def wrapped_upgrade(self: Any, context: Any) -> Any:
            adopt(str(context.env_dir))  # the upgrade then goes through the gate
            return upgrade(self, context)

        builder.upgrade_dependencies = wrapped_upgrade
    builder._safe_pip = True


def _patch_virtualenv(module: Any) -> None:
    """virtualenv (tox, nox, hatch, pipenv make environments with it) run by a protected
    interpreter protects what it made, once its seed packages are in."""
    session = module.Session
    if getattr(session, "_safe_pip", False):
        return
    run = session.run

    def wrapped_run(self: Any) -> Any:
        result = run(self)
        creator = self.creator
        adopt(str(creator.dest), site=str(creator.purelib))
        return result

    session.run = wrapped_run
    session._safe_pip = True


# pip's modules by their path inside a pip package: the package is ``pip`` itself or a copy
# vendored as ``<tool>...pip`` (the criterion is pip's layout, not one import name).
_PIP_PATCHES: dict[str, Callable[[Any], None]] = {
    "_internal.cli.base_command": _patch_base_command,
    "_internal.cli.req_command": _patch_req_command,
    "_internal.cli.main_parser": _patch_main_parser,
    "_internal.cli.main": _patch_cli_main,
    "_vendor.pyproject_hooks._impl": _patch_hook_caller,
    "_internal.utils.setuptools_build": _patch_setuptools_build,
}
_OTHER_PATCHES: dict[str, Callable[[Any], None]] = {
    "venv": _patch_venv,
    "virtualenv.run.session": _patch_virtualenv,
}
_REQUIRED = ("_internal.cli.base_command", "_internal.cli.req_command")


def _patch_for(name: str) -> Callable[[Any], None] | None:
    """The patch for the module ``name``, or ``None`` (called for every import: cheap)."""
    if name in _OTHER_PATCHES:
        return _OTHER_PATCHES[name]
    if "._internal." not in name and "._vendor.pyproject_hooks" not in name:
        return None
    for suffix, patch in _PIP_PATCHES.items():
        if name.endswith("." + suffix):
            package = name[: -len(suffix) - 1]
            if package == "pip" or package.endswith(".pip"):
                return patch
    return None


def _apply(name: str, module: Any) -> None:
    patch = _patch_for(name)
    if patch is None:
        return
    try:
        patch(module)
    except Exception as exc:  # a layout the hook does not know: recorded, pip then refuses
        _state.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
        return
    _state["patched"].add(name)


def armed_problems(package: str = "pip") -> list[str]:
    """Why the pip in ``package`` may not run here ([] when every required patch is in place)."""
    import importlib

    problems = []
    for suffix in _REQUIRED:
        name = package + "." + suffix
        try:
            importlib.import_module(name)
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name not in _state["patched"]:
            error = _state.get("errors", {}).get(name, "not patched")
            problems.append(f"{name}: {error}")
    return problems


class _Loader:
    """Runs the real loader, then the patch for the module it loaded."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


class _Finder:
    """Finds nothing itself: wraps the loader the other finders return for pip's modules."""

    _safe_pip_hook = True

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if _patch_for(name) is None:
            return None
        for finder in list(sys.meta_path):
            if getattr(finder, "_safe_pip_hook", False):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, name)
        return spec


def arm() -> None:
    """Put the finder first (once per interpreter) and patch what is already imported."""
    if not any(getattr(f, "_safe_pip_hook", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    for name, module in list(sys.modules.items()):
        if module is not None and name not in _state["patched"]:
            _apply(name, module)


# --- new virtual environments made by this interpreter's venv module -------------------------


def _site_packages(env_dir: str) -> str:
    import sysconfig

    env = {"base": env_dir, "platbase": env_dir, "installed_base": env_dir}
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else None
    if scheme is None:
        scheme = "nt" if os.name == "nt" else "posix_prefix"
    return sysconfig.get_path("purelib", scheme=scheme, vars=env)


def adopt(env_dir: str, site: str | None = None) -> None:
    """Protect a virtual environment this interpreter just created, as this one is."""
    import shutil

    try:
        site = site or _site_packages(env_dir)
        os.makedirs(site, exist_ok=True)
        for name in ("_safe_pip_hook.py", "_safe_pip_hook.json", "_safe_pip_hook.pth"):
            shutil.copyfile(os.path.join(_HERE, name), os.path.join(site, name))
    except (OSError, ValueError) as exc:
        _say(f"could not protect the new environment {env_dir}: {exc}")
        return
    try:  # the running user's registry, for 'safe-pip shim status'
        os.makedirs(_state_dir(), exist_ok=True)
        registry = os.path.join(_state_dir(), "managed-environments.txt")
        with open(registry, "a", encoding="utf-8") as fh:
            fh.write(os.path.abspath(env_dir) + "\n")
    except OSError:
        pass  # protected all the same; status finds it when it is named or on PATH


def self_check() -> dict[str, Any]:
    """What ``safe-pip shim status`` asks: armed at start-up, and pip's layout understood."""
    armed_at_start = any(getattr(f, "_safe_pip_hook", False) for f in sys.meta_path)
    problems = armed_problems()
    version = None
    try:
        import pip

        version = getattr(pip, "__version__", None)
    except Exception as exc:
        problems.append(f"pip: {type(exc).__name__}: {exc}")
    return {"armed": armed_at_start, "problems": problems, "pip": version, "format": HOOK_FORMAT}


def _run_as_pip_runner() -> None:
    """Started by another pip's ``--python`` re-run: arm, then run that pip's own runner."""
    runner = os.environ.pop(_RUNNER_ENV, "")
    if not runner:
        _say("the hook was started without a pip to run")
        sys.exit(_EXIT_ERROR)
    arm()
    if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
        del sys.path[0]
    if os.path.isfile(runner) and runner.endswith(".py"):
        sys.path.insert(0, os.path.dirname(runner))
    import runpy

    sys.argv[0] = runner
    runpy.run_path(runner, run_name="__main__")


if __name__ == "__main__":
    _run_as_pip_runner()
