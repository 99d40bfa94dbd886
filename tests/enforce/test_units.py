"""Unit tests: CPython's argv grammar, tickets, the hook's digests, shebangs, shim files.

pip's own arguments are never classified here: the dispatcher uses the shared grammar,
whose differential tests against the real pip are in ``test_grammar_differential.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safe_pip import own_hooks
from safe_pip.enforce import _safe_pip_hook, discover, hook, shells, shims
from safe_pip.enforce.argv import is_pip_script, parse_python
from safe_pip.errors import SafePipError
from safe_pip.gate import ticket

# --- python's own command line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "pip_args", "no_site"),
    [
        (["-m", "pip", "install", "x"], ("install", "x"), False),
        (["-mpip", "list"], ("list",), False),
        (["-Impip", "install", "x"], ("install", "x"), False),  # -I -m pip
        (["-sEm", "pip", "install", "x"], ("install", "x"), False),  # -s -E -m pip
        (["-I", "-m", "pip", "install", "x"], ("install", "x"), False),
        (["-X", "dev", "-m", "pip"], (), False),
        (["-Xdev", "-Wignore", "-m", "pip", "install"], ("install",), False),
        (["-W", "error", "-Bm", "pip.__pip-runner__", "install"], ("install",), False),
        (["-m", "pip.__main__", "install", "x"], ("install", "x"), False),
        (["--check-hash-based-pycs", "never", "-m", "pip", "x"], ("x",), False),
        (["-S", "/v/lib/python3.11/site-packages/pip", "install", "x"], ("install", "x"), True),
        (["-IS", "/v/site-packages/pip/__main__.py", "install"], ("install",), True),
        (["/v/site-packages/pip/", "install", "x"], ("install", "x"), False),
        (["pip.pyz", "install", "x"], ("install", "x"), False),
        (["--", "/v/site-packages/pip", "install"], ("install",), False),
    ],
)
def test_python_runs_pip(args: list[str], pip_args: tuple[str, ...], no_site: bool) -> None:
    call = parse_python(args)
    assert call.runs_pip, call
    assert call.rest == pip_args
    assert call.no_site == no_site


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "import pip"],  # code is not read: the per-environment hook sees it
        ["-cimport pip"],
        ["script.py", "-m", "pip"],
        ["-m", "pipx", "install", "x"],
        ["-m", "venv", "pip"],
        ["-mpipenv"],
        ["-W", "-m", "-c", "pass"],  # -W takes "-m" as its value
        ["-"],
        [],
    ],
)
def test_python_does_not_run_pip(args: list[str]) -> None:
    assert not parse_python(args).runs_pip


def test_pip_script_shapes() -> None:
    assert is_pip_script("/x/site-packages/pip")
    assert is_pip_script("/x/site-packages/pip/__pip-runner__.py")
    assert not is_pip_script("/x/site-packages/pipx/__main__.py")
    assert not is_pip_script("/x/pip.py")


# --- the hook recognises pip by its layout ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "patched"),
    [
        ("pip._internal.cli.base_command", True),
        ("pip._internal.cli.req_command", True),
        ("pipenv.patched.pip._internal.cli.req_command", True),  # a vendored copy of pip
        ("pip._vendor.pyproject_hooks._impl", True),  # every PEP 517 hook pip calls
        ("pip._internal.utils.setuptools_build", True),  # pip 23's legacy setup.py runs
        ("venv", True),
        ("pyproject_hooks._impl", False),  # the standalone library, not pip's
        ("notpip._internal.cli.req_command", False),
        ("pip._internal.cli.parser", False),
        ("json", False),
    ],
)
def test_hook_recognises_pip_by_layout(name: str, patched: bool) -> None:
    assert (_safe_pip_hook._patch_for(name) is not None) == patched


def test_status_repair_touches_only_environments_the_hook_was_put_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safe_pip.commands.shim import _repairable

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    envs = {}
    for name in ("never", "registered", "leftover"):
        (tmp_path / name / "site").mkdir(parents=True)
        envs[name] = hook.Environment(
            tmp_path / name / "bin/python", tmp_path / name, tmp_path / name / "site", "3.11"
        )
    hook._register(envs["registered"].prefix)
    (envs["leftover"].site / "_safe_pip_hook.json").write_text("{}")  # pth deleted, say
    assert not _repairable(envs["never"], named=False)
    assert _repairable(envs["never"], named=True)  # named with --env: the user asks for it
    assert _repairable(envs["registered"], named=False)
    assert _repairable(envs["leftover"], named=False)


# --- tickets ------------------------------------------------------------------------------


@pytest.fixture
def hooked_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hook settings under tmp_path, and this user's state folder there too."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "_safe_pip_hook.json").write_text(json.dumps({"format": 1, "gatekeep": ["/none"]}))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return site


def _take(site: Path, command: str, args: list[str]) -> bool:
    """The hook's own check, run against ``site``'s settings."""
    original = _safe_pip_hook._CONFIG
    _safe_pip_hook._CONFIG = str(site / "_safe_pip_hook.json")
    try:
        return _safe_pip_hook.take_ticket(command, args)
    finally:
        _safe_pip_hook._CONFIG = original


@pytest.mark.parametrize("xdg", [None, "/srv/state"])
def test_hook_and_gate_agree_on_the_users_state_folder(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)
    assert Path(_safe_pip_hook._state_dir()) == ticket.state_dir()
    assert ticket.ticket_dir() == ticket.state_dir() / "tickets"


def test_ticket_admits_exactly_one_run_of_exactly_that_line(
    hooked_site: Path, tmp_path: Path
) -> None:
    req = tmp_path / "vetted.txt"
    req.write_text("x @ file:///q/x.whl --hash=sha256:" + "0" * 64 + "\n")
    line = ["-I", "install", "--no-index", "-r", str(req)]
    ticket.issue("install", line, files=[req], directory=ticket.ticket_dir())
    args = ticket.command_args("install", line)
    assert not _take(hooked_site, "install", [*args, "extra"])  # another line: no
    assert not _take(hooked_site, "download", args)  # another command: no
    assert _take(hooked_site, "install", args)
    assert not _take(hooked_site, "install", args)  # single use


def test_ticket_binds_the_files_it_names(hooked_site: Path, tmp_path: Path) -> None:
    req = tmp_path / "vetted.txt"
    req.write_text("a\n")
    ticket.issue("install", ["install", "-r", str(req)], files=[req], directory=ticket.ticket_dir())
    req.write_text("b\n")  # swapped after the gate vetted it
    assert not _take(hooked_site, "install", ["-r", str(req)])


def test_expired_ticket_and_foreign_directory_are_refused(
    hooked_site: Path, tmp_path: Path
) -> None:
    tickets = ticket.ticket_dir()
    path = ticket.issue("install", ["install", "x"], directory=tickets)
    body = json.loads(path.read_text())
    body["expires"] = time.time() - 1
    path.write_text(json.dumps(body))
    assert not _take(hooked_site, "install", ["x"])
    ticket.issue("install", ["install", "y"], directory=tickets)
    tickets.chmod(0o777)  # others could write tickets here: none counts
    try:
        assert not _take(hooked_site, "install", ["y"])
    finally:
        tickets.chmod(0o700)


def test_ticket_args_follow_pips_parse_command() -> None:
    # pip removes the first occurrence of the command word, wherever it is
    line = ["--log", "install", "install", "x"]  # the log file is named "install"
    assert ticket.command_args("install", line) == ["--log", "install", "x"]
    assert ticket.command_args("install", ["-q", "install", "x"]) == ["-q", "x"]
    with pytest.raises(SafePipError):
        ticket.command_args("install", ["list"])


def test_sweep_removes_only_expired(tmp_path: Path) -> None:
    old = ticket.issue("install", ["install", "a"], directory=tmp_path)
    new = ticket.issue("install", ["install", "b"], directory=tmp_path)
    past = time.time() - ticket.TTL - 10
    os.utime(old, (past, past))
    ticket.sweep(tmp_path)
    assert not old.exists() and new.exists()


# --- the hook's files and their digests -----------------------------------------------------


def test_digests_of_this_releases_hook_are_recorded() -> None:
    """Fails until scripts/gen_own_hooks.py has been run after a change to the hook."""
    for name, data in hook.hook_files().items():
        own = own_hooks.known().get(own_hooks.digest(data))
        assert own is not None and own.name == name and own.current, name
        assert own.reason


def test_recognise_genuine_and_modified(tmp_path: Path) -> None:
    for name, data in hook.hook_files().items():
        (tmp_path / name).write_bytes(data)
        assert own_hooks.recognise(tmp_path / name) is not None
        (tmp_path / name).write_bytes(data + b"\nimport os; os.system('id')\n")
        assert own_hooks.recognise(tmp_path / name) is None
        assert own_hooks.claims_to_be_hook(name, data)
    renamed = tmp_path / "other.pth"
    renamed.write_bytes(hook.PTH_LINE)
    assert own_hooks.recognise(renamed) is None  # a genuine digest under another name
    assert own_hooks.claims_to_be_hook("other.pth", hook.PTH_LINE)


def test_hook_module_is_python38_syntax() -> None:
    """It runs inside the target interpreter, which may be older than safe-pip's."""
    import ast

    source = Path(_safe_pip_hook.__file__).read_text()
    ast.parse(source, feature_version=(3, 8))


# --- shebangs and PATH shims ----------------------------------------------------------------


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_interpreter_from_shebangs(tmp_path: Path) -> None:
    plain = _script(tmp_path / "pip", "#!/venv/bin/python3.11\nimport sys\n")
    assert discover.interpreter_of(plain) == Path("/venv/bin/python3.11")
    long = _script(
        tmp_path / "pip3",
        "#!/bin/sh\n'''exec' \"/a long/path/bin/python\" \"$0\" \"$@\"\n' '''\n",
    )
    assert discover.interpreter_of(long) == Path("/a long/path/bin/python")


def test_find_real_skips_shims_and_shim_dirs(tmp_path: Path) -> None:
    shim_dir, other, real = tmp_path / "shims", tmp_path / "other", tmp_path / "real"
    for d in (shim_dir, other, real):
        d.mkdir()
    shims.install(shim_dir, names=("pip",))
    _script(other / "pip", f"#!/bin/sh\n# {discover.SHIM_MARKER.decode()}\n")
    _script(real / "pip", "#!/usr/bin/python3\n")
    path = os.pathsep.join(map(str, (shim_dir, other, real)))
    assert discover.find_real("pip", path_env=path, skip_dirs=(shim_dir,)) == real / "pip"
    assert discover.find_real("pip", path_env=str(shim_dir)) is None


def test_shim_install_refuses_to_overwrite_foreign_files(tmp_path: Path) -> None:
    _script(tmp_path / "pip", "#!/bin/sh\necho mine\n")
    with pytest.raises(SafePipError, match="not a safe-pip shim"):
        shims.install(tmp_path, names=("pip",))
    assert (tmp_path / "pip").read_text() == "#!/bin/sh\necho mine\n"


def test_shim_uninstall_removes_only_shims(tmp_path: Path) -> None:
    shims.install(tmp_path, names=("pip", "python3"))
    _script(tmp_path / "other", "#!/bin/sh\n")
    removed = shims.uninstall(tmp_path)
    assert sorted(p.name for p in removed) == ["pip", "python3"]
    assert (tmp_path / "other").exists()


def test_shim_status_reports_gating(tmp_path: Path) -> None:
    shims.install(tmp_path / "s", names=("pip",))
    st = shims.status(tmp_path / "s", path_env=str(tmp_path / "s"))
    assert st.on_path and st.shims == ("pip",) and "(safe-pip shim)" in st.resolves["pip"]
    st = shims.status(tmp_path / "s", path_env=str(tmp_path))
    assert not st.on_path and st.resolves["pip"] == "(not found)"


def test_python_shim_passes_ordinary_calls_to_the_real_interpreter(tmp_path: Path) -> None:
    shim_dir = tmp_path / "shims"
    shims.install(shim_dir, names=("python3",), python=tmp_path / "missing")
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (real_dir / "python3").symlink_to(sys.executable)
    env = {"PATH": os.pathsep.join([str(shim_dir), str(real_dir), "/usr/bin", "/bin"])}
    out = subprocess.run(
        [str(shim_dir / "python3"), "-c", "print(6 * 7)"], capture_output=True, text=True, env=env
    )
    assert out.stdout == "42\n"
    # ... but -m pip with safe-pip missing is refused, never run ungated
    out = subprocess.run(
        [str(shim_dir / "python3"), "-m", "pip", "install", "x"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2 and "fail closed" in out.stderr


@pytest.mark.parametrize("shell", shells.SHELLS)
def test_every_shell_snippet_wraps_pip_and_python(shell: str) -> None:
    text = shells.render(shell, Path("/opt/it's here/python"))
    for name in ("pip", "pip3", "pip3.12", "python", "python3"):
        assert name in text
    assert "safe_pip.enforce.dispatch" in text
    assert "fail closed" in text


def test_bash_snippet_is_valid_bash() -> None:
    text = shells.render("bash", Path("/opt/it's here/python"))
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
