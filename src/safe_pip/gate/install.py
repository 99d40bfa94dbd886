"""Install: the final pip call, which can only install the vetted files.

``python -I -m pip install --no-index --no-deps --require-hashes -r vetted.txt`` where
``vetted.txt`` names each quarantined file by absolute path with the sha256 safe-pip
computed while downloading it. ``--no-index`` means pip cannot fetch anything else,
``--no-deps`` that it cannot add anything the resolver did not choose, and
``--require-hashes`` that the bytes pip reads are the bytes that were scanned (a file
swapped in the quarantine after the scan fails here).

pip reads nothing safe-pip did not read: it runs isolated (``-I``: no ``PYTHONPATH``, no
user site, no current folder on ``sys.path``, so a ``pip/`` folder in the working directory
is not imported) in an empty temporary folder, with ``PIP_CONFIG_FILE`` set to the null
device and no inherited ``PIP_*`` variable; only the generated requirements file and the
placement options the user gave (``--target``, ``--prefix``, ``--user``...) reach it.

Once pip has started, it is allowed to finish: SIGINT, SIGTERM and SIGHUP are held until it
exits (pip runs in its own session, so a Ctrl-C at the terminal does not reach it either),
and the caller learns exactly what landed. A half-stopped pip is the one outcome that
cannot be reported honestly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from safe_pip.errors import SafePipError
from safe_pip.gate import ticket

INSTALL_TIMEOUT = 3600.0
HELD_SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)


class InstallError(SafePipError):
    """pip failed to install the vetted files (some may have been installed: see the report)."""


@dataclass(frozen=True)
class VettedFile:
    path: Path
    sha256: str
    name: str = ""
    version: str = ""


@dataclass(frozen=True)
class InstallRun:
    """What the final pip call did."""

    returncode: int
    stderr: str
    present: Mapping[str, str] | None
    """After a failure: which vetted distributions the target now holds (name -> version),
    ``None`` if that could not be determined."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def check_wheel(f: VettedFile) -> None:
    """Refuse to hand pip anything but a wheel that names itself as what was vetted.

    pip decides from the file name alone what a file is: a ``.whl`` is unpacked as it is,
    anything else is a source archive whose build backend pip runs, even with
    ``--only-binary :all:`` (a direct file requirement is never filtered by it). So the one
    thing the final pip may receive is a file whose name parses as a wheel of the vetted
    project and version; any other name means some stage judged the file under another
    name, and nothing is installed.
    """
    try:
        name, version, _build, _tags = parse_wheel_filename(f.path.name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise InstallError(
            f"refusing to hand pip {f.path.name!r}: not a wheel file name ({exc}); pip would "
            "treat it as a source archive and run its build"
        ) from exc
    if f.name and canonicalize_name(f.name) != name:
        raise InstallError(f"refusing {f.path.name}: it names {name}, but {f.name} was vetted")
    if f.version and str(version) != f.version and not _same_version(version, f.version):
        raise InstallError(
            f"refusing {f.path.name}: it names version {version}, but {f.version} was vetted"
        )


def _same_version(version: Version, text: str) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


BUILD_PIP = "22.3"
"""The pip a target needs for builds: their vetted build dependencies are installed into a
pip-less environment with the target's pip and ``--python``, which pip 22.3 introduced."""


def old_pip_warning(version: str | None, python: Path) -> str | None:
    """One line for stderr when the target's pip cannot do all the gate asks of it."""
    from packaging.version import InvalidVersion, Version

    try:
        if version is None or Version(version) >= Version(BUILD_PIP):
            return None
    except InvalidVersion:
        return None
    return (
        f"safe-pip: warning: {python} has pip {version}; vetted wheels install with it "
        "(pip install --no-index --no-deps --require-hashes of the quarantined files), but "
        f"building a local project or an sdist needs pip {BUILD_PIP} or newer (its --python "
        f"option installs the vetted build dependencies): {python} -m pip install -U pip"
    )


def requirements_text(files: Sequence[VettedFile]) -> str:
    lines = []
    for f in files:
        if any(c in str(f.path) for c in "\n\r"):
            raise InstallError(f"refusing a quarantine path with a line break: {f.path!r}")
        check_wheel(f)
        lines.append(f"{f.path.resolve().as_uri()} --hash=sha256:{f.sha256}")
    return "\n".join(lines) + "\n"


def install_command(
    python: Path,
    requirements: Path,
    install_args: Sequence[str],
    pip_python: Path | None = None,
) -> list[str]:
    """The pip command; ``pip_python``: install into that interpreter (a pip-less build
    environment) with ``python``'s pip."""
    into = ["--python", str(pip_python)] if pip_python is not None else []
    return [
        str(python),
        "-I",
        "-m",
        "pip",
        *into,
        "install",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        "--only-binary",
        ":all:",
        *install_args,
        "-r",
        str(requirements),
    ]


def isolated_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without anything that would make pip read another input."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith("PIP_") and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }
    )
    return env


class SignalHold:
    """Holds SIGINT/SIGTERM/SIGHUP from :meth:`start` to :meth:`release`, noting what came.

    The pipeline starts it before the intent record and releases it after the outcome
    record, so no signal can fall between "pip started" and "the outcome is written".
    """

    def __init__(self) -> None:
        self.arrived: list[str] = []
        self._previous: dict[int, Any] = {}

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.arrived.append(signal.Signals(signum).name)

    def start(self) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        self._previous = {s: signal.signal(s, self._note) for s in HELD_SIGNALS}

    def release(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


_WAITING = (
    "import runpy, sys\n"
    "try:\n"
    "    import pip._internal.cli.main  # pip's own start-up, done while the gate vets\n"
    "except Exception:\n"
    "    pass  # another layout: -m pip below imports what it needs\n"
    "if sys.stdin.buffer.read(1) != b'1':\n"
    "    raise SystemExit(3)  # nothing to install (blocked, declined, interrupted)\n"
    "runpy.run_module('pip', run_name='__main__', alter_sys=True)\n"
)
"""What the early pip process runs: pip's start-up, then ``python -m pip ARGS`` exactly as
``-m`` runs it, once a ``1`` arrives on stdin. End of input without it (the gate refused,
or safe-pip itself died) ends the process before pip's command ever runs."""


class WaitingPip:
    """The final pip process, started while the gate is still vetting.

    Loading pip's own modules costs the final install about half a second; this process
    does it while the gate resolves, verifies and scans, then waits on stdin. It names no
    file and runs no pip command until :meth:`run` has written the vetted requirements
    file, issued the ticket for it and sent the go byte, so nothing but pip's own code runs
    before the verdict, and pip reads the same file, with the same command line, as
    :func:`install_command` gives. If the gate refuses, :meth:`cancel` ends it.
    """

    def __init__(self, python: Path, install_args: Sequence[str]) -> None:
        self.python = python
        self.install_args = list(install_args)
        self._tmp = tempfile.TemporaryDirectory(prefix="safe-pip-install-")
        self._cwd = tempfile.TemporaryDirectory(prefix="safe-pip-cwd-")
        self.requirements = Path(self._tmp.name) / "vetted-requirements.txt"
        self.command = install_command(python, self.requirements, install_args)
        assert self.command[2:4] == ["-m", "pip"]
        pip_args = self.command[4:]
        try:
            self.proc: subprocess.Popen[str] | None = subprocess.Popen(
                [str(python), "-I", "-c", _WAITING, *pip_args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=isolated_pip_env(),
                cwd=self._cwd.name,
                start_new_session=True,  # a Ctrl-C at the terminal does not reach pip
            )
        except OSError:
            self.proc = None  # install() starts pip the ordinary way and reports the error

    def run(self, files: Sequence[VettedFile], timeout: float) -> InstallRun | None:
        """Hand pip the vetted files and wait for it; None if this process cannot be used
        (it ended before the go, e.g. an interpreter that cannot run the start-up)."""
        proc = self.proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            self.cancel()
            return None
        self.requirements.write_text(requirements_text(files), encoding="utf-8")
        admitted = ticket.admit(self.command, "install", files=[self.requirements])
        try:
            return _finish(proc, timeout, self.python, self.install_args, go="1")
        finally:
            ticket.withdraw(admitted)
            self.cancel()

    def cancel(self) -> None:
        """End the process if it is still waiting (it has run no pip command) and clean up."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        self._tmp.cleanup()
        self._cwd.cleanup()


def install(
    python: Path,
    files: Sequence[VettedFile],
    install_args: Sequence[str],
    *,
    timeout: float = INSTALL_TIMEOUT,
    pip_python: Path | None = None,
    waiting: WaitingPip | None = None,
) -> InstallRun:
    """Run pip on exactly ``files`` and wait for it (the caller holds signals meanwhile).

    ``waiting``: the process :class:`WaitingPip` started early for the same target and
    ``install_args``; used when it is still waiting, else pip is started here."""
    if not files:
        raise InstallError("nothing to install")
    if waiting is not None and pip_python is None:
        done = waiting.run(files, timeout)
        if done is not None:
            return done
    with (
        tempfile.TemporaryDirectory(prefix="safe-pip-install-") as tmp,
        tempfile.TemporaryDirectory(prefix="safe-pip-cwd-") as cwd,
    ):
        req = Path(tmp) / "vetted-requirements.txt"
        req.write_text(requirements_text(files), encoding="utf-8")
        cmd = install_command(python, req, install_args, pip_python)
        admitted = ticket.admit(cmd, "install", files=[req])  # past safe-pip's own hook
        try:
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    env=isolated_pip_env(),
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise InstallError(f"cannot run pip with {python}: {exc}") from exc
            return _finish(proc, timeout, python, install_args)
        finally:
            ticket.withdraw(admitted)


def _finish(
    proc: subprocess.Popen[str],
    timeout: float,
    python: Path,
    install_args: Sequence[str],
    go: str | None = None,
) -> InstallRun:
    """Wait for the started pip (stopped after ``timeout``) and say what it did; ``go``
    is written to its stdin first (a :class:`WaitingPip`'s signal to start)."""
    try:
        _out, err = proc.communicate(go, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
        err += f"\nsafe-pip: pip did not finish within {timeout:.0f}s and was stopped"
    present = None if proc.returncode == 0 else installed_versions(python, install_args)
    return InstallRun(proc.returncode, err, present)


_LIST = (
    "import importlib.metadata as m, json, sys\n"
    "kw = {'path': sys.argv[1:]} if sys.argv[1:] else {}\n"
    "print(json.dumps({(d.metadata['Name'] or '').lower(): d.version "
    "for d in m.distributions(**kw)}))\n"
)


def installed_versions(python: Path, install_args: Sequence[str]) -> dict[str, str] | None:
    """What the target holds now (under ``--target`` if given), read without importing it."""
    paths: list[str] = []
    args = list(install_args)
    for i, arg in enumerate(args):
        if arg in ("-t", "--target") and i + 1 < len(args):
            paths.append(args[i + 1])
        elif arg.startswith("--target="):
            paths.append(arg.split("=", 1)[1])
    try:
        out = subprocess.run(
            [str(python), "-I", "-c", _LIST, *paths],
            capture_output=True,
            text=True,
            timeout=120,
            env=isolated_pip_env(),
        )
        found = json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return {canonicalize_name(str(k)): str(v) for k, v in found.items()}
