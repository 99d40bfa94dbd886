"""read_inputs: every spelling pip accepts is read as pip reads it, or refused.

Each attack that once made pip run package code during safe-pip's resolve step is
here at the inputs level: what ``read_inputs`` returns (a build candidate the
build stage must vet, never a name pip may resolve) or refuses. The end-to-end
versions (``safe-pip install`` with a payload that touches a marker) live with the
install command's tests. Both real pips (bundled and 26.3) are used as targets.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from safe_pip.gate.inputs import (
    InputError,
    InstallRequest,
    PipTarget,
    probe_target,
    read_inputs,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def target(any_pip: Path) -> PipTarget:
    return probe_target(any_pip)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A local project whose build would touch a marker (it must never run)."""
    root = tmp_path / "x"
    root.mkdir()
    marker = tmp_path / "MARKER"
    (root / "setup.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"), "PATH": "/usr/bin"}


def read(
    args: list[str], target: PipTarget, cwd: Path, env: dict[str, str], **kw: str
) -> InstallRequest:
    return read_inputs(args, python=target.python, cwd=cwd, environ={**env, **kw}, target=target)


def only_build(req: InstallRequest, path: Path, *, editable: bool) -> None:
    assert len(req.requirements) == 1, req.requirements
    item = req.requirements[0]
    assert item.needs_build and item.kind == "local-tree"
    assert item.editable is editable
    assert item.local_path == str(path)
    assert req.build_candidates == (item,)
    assert not (path.parent / "MARKER").exists()


@pytest.mark.parametrize("line", ["-e./x", "--edit ./x", "--editable=./x", "-e ./x  # c"])
def test_requirement_file_editable_spellings(
    line: str, target: PipTarget, project: Path, env: dict[str, str]
) -> None:
    req_file = project.parent / "req.txt"
    req_file.write_text(line + "\n")
    req = read(["-r", str(req_file)], target, project.parent, env)
    only_build(req, project, editable=True)
    assert req.requirements[0].origin == f"{req_file}:1"


@pytest.mark.parametrize("args", [["-qe./x"], ["--edit", "./x"], ["--edita=./x"], ["-vqe", "./x"]])
def test_command_line_editable_spellings(
    args: list[str], target: PipTarget, project: Path, env: dict[str, str]
) -> None:
    only_build(read(args, target, project.parent, env), project, editable=True)


def test_direct_reference_with_spaces_is_a_local_build_or_refused(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    spaced = tmp_path / "my proj"
    spaced.mkdir()
    (spaced / "pyproject.toml").write_text("[project]\nname='x'\n")
    req_file = tmp_path / "req.txt"
    req_file.write_text(f"x @ {spaced.as_uri()}\n")
    req = read(["-r", str(req_file)], target, tmp_path, env)
    assert req.requirements[0].kind == "local-tree"
    assert req.requirements[0].local_path == str(spaced)
    req_file.write_text(f"x @ file://{spaced}\n")  # a raw space: not one requirement
    with pytest.raises(InputError, match=r"req\.txt:1"):
        read(["-r", str(req_file)], target, tmp_path, env)


def test_constraint_with_direct_reference_refused(
    target: PipTarget, project: Path, env: dict[str, str]
) -> None:
    cons = project.parent / "c.txt"
    cons.write_text(f"x @ {project.as_uri()}\n")
    with pytest.raises(InputError, match=r"c\.txt:1.*constraint"):
        read(["-c", str(cons), "x"], target, project.parent, env)
    cons.write_text("x<2\n")
    req = read(["-c", str(cons), "x"], target, project.parent, env)
    assert [str(c.requirement) for c in req.constraints] == ["x<2"]


def test_no_binary_in_requirement_file_overrides_command_line(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    req_file = tmp_path / "req.txt"
    req_file.write_text("--no-binary :all:\nsix\n")
    req = read(["--only-binary", ":all:", "-r", str(req_file)], target, tmp_path, env)
    assert req.options.no_binary == {":all:"} and not req.options.only_binary
    req_file.write_text("six --no-binary six\n")  # even on a requirement line
    req = read(["-r", str(req_file)], target, tmp_path, env)
    assert req.options.no_binary == {"six"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("p @ https://h.test/p-1.0.tar.gz?f=p-1.0-py3-none-any.whl", "sdist-url"),
        ("p @ https://h.test/p-1.0.tar.gz#egg=p-1.0-py3-none-any.whl", "sdist-url"),
        ("https://h.test/p-1.0.zip?x=.whl", "sdist-url"),
        ("p @ https://h.test/p-1.0-py3-none-any.whl?token=1", "wheel-url"),
    ],
)
def test_url_kind_comes_from_the_path_not_the_query(
    text: str, kind: str, target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    req = read([text], target, tmp_path, env)
    assert req.requirements[0].kind == kind


def test_environment_variables_are_inputs(
    target: PipTarget, project: Path, env: dict[str, str]
) -> None:
    req = read([], target, project.parent, env, PIP_EDITABLE="./x")
    only_build(req, project, editable=True)
    assert req.requirements[0].origin == "PIP_EDITABLE"
    req_file = project.parent / "r.txt"
    req_file.write_text("-e ./x\n")
    req = read([], target, project.parent, env, PIP_REQUIREMENT=str(req_file))
    only_build(req, project, editable=True)


@pytest.mark.parametrize("where", ["global", "user", "site", "env"])
@pytest.mark.parametrize("key", ["editable", "requirement"])
def test_every_pip_configuration_file_is_read(
    where: str, key: str, target: PipTarget, project: Path, env: dict[str, str]
) -> None:
    tmp = project.parent
    req_file = tmp / "r.txt"
    req_file.write_text("-e ./x\n")
    value = "./x" if key == "editable" else str(req_file)
    text = f"[{'install' if where == 'user' else 'global'}]\n{key} = {value}\n"
    site = tmp / "prefix"
    site.mkdir()
    paths = {
        "global": Path(env["XDG_CONFIG_DIRS"]) / "pip" / "pip.conf",
        "user": Path(env["HOME"]) / ".config" / "pip" / "pip.conf",
        "site": site / "pip.conf",
        "env": tmp / "custom.conf",
    }
    paths[where].parent.mkdir(parents=True, exist_ok=True)
    paths[where].write_text(text)
    extra = {"PIP_CONFIG_FILE": str(paths["env"])} if where == "env" else {}
    req = read([], dataclasses.replace(target, prefix=site), tmp, env, **extra)
    only_build(req, project, editable=True)
    # PIP_CONFIG_FILE=os.devnull switches every file off, as it does for pip
    none = read(["six"], dataclasses.replace(target, prefix=site), tmp, env,
                PIP_CONFIG_FILE=os.devnull)  # fmt: skip
    assert [r.name for r in none.requirements] == ["six"]


def test_pip_folder_in_working_directory_is_not_imported(any_pip: Path, tmp_path: Path) -> None:
    evil = tmp_path / "pip"
    evil.mkdir()
    marker = tmp_path / "MARKER"
    (evil / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (evil / "__main__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        found = probe_target(any_pip)
        read_inputs(["six"], python=any_pip, cwd=tmp_path, environ={"HOME": str(tmp_path)})
    finally:
        os.chdir(old)
    assert found.pip_dir is not None and found.pip_dir != evil
    assert not marker.exists()


def test_unknown_option_fails_closed_naming_it(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    with pytest.raises(InputError, match="no such option"):
        read(["--no-such-option", "six"], target, tmp_path, env)
    with pytest.raises(InputError, match=r"--requirements-from-script"):
        read(["--requirements-from-script", "s.py"], target, tmp_path, env)


def test_requirement_file_grammar_details(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    nested = tmp_path / "sub" / "more.txt"
    nested.parent.mkdir()
    nested.write_text("--index-url http://127.0.0.1:9/simple\nattrs==${ATTRS_VERSION}\n")
    top = tmp_path / "req.txt"
    top.write_text(
        "six \\\n  ==1.16.0 \\\n  --hash=sha256:ABCD\n"
        "-r sub/more.txt\n"
        "--extra-index-url http://127.0.0.1:8/simple\n"
    )
    req = read(["-r", str(top)], target, tmp_path, env, ATTRS_VERSION="23.1.0")
    assert [str(r.requirement) for r in req.requirements] == ["six==1.16.0", "attrs==23.1.0"]
    assert req.requirements[0].hashes == {"sha256:abcd"}
    assert req.requirements[1].origin == f"{nested}:2"
    assert req.index.index_urls == ("http://127.0.0.1:9/simple", "http://127.0.0.1:8/simple")
    top.write_text("-r req.txt\n")
    with pytest.raises(InputError, match="includes itself"):
        read(["-r", str(top)], target, tmp_path, env)
    with pytest.raises(InputError, match="does not fetch"):
        read(["-r", "https://h.test/req.txt"], target, tmp_path, env)
    with pytest.raises(InputError, match="version-control"):
        read(["git+https://h.test/x.git#egg=x"], target, tmp_path, env)


def test_default_index_and_settings_come_from_pip_and_user(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    req = read(["six"], target, tmp_path, env)
    assert req.index.index_url and req.index.index_url.startswith("https://")
    assert req.pip_version
    req = read(["six", "--time", "7", "-i", "http://127.0.0.1:1/s"], target, tmp_path, env,
               PIP_EXTRA_INDEX_URL="http://127.0.0.1:2/s http://127.0.0.1:3/s")  # fmt: skip
    assert req.index.timeout == 7.0
    assert req.index.index_urls == tuple(f"http://127.0.0.1:{p}/s" for p in (1, 2, 3))
    req = read(["six", "--no-index", "-f", str(tmp_path)], target, tmp_path, env)
    assert req.index.index_urls == () and req.index.find_links == (str(tmp_path),)


def test_pip_own_flags_keep_their_meaning(
    target: PipTarget, tmp_path: Path, env: dict[str, str]
) -> None:
    report = tmp_path / "report.json"
    req = read(
        ["six", "--report", str(report), "--dry-run", "--user", "--no-compile",
         "--target", str(tmp_path / "t"), "--log", "--help"],
        target, tmp_path, env,
    )  # fmt: skip
    assert req.pip_report == str(report) and req.dry_run
    assert req.install_args == ("--user", "--no-compile", "--target", str(tmp_path / "t"))
    assert req.placement.user and req.placement.target_dir == str(tmp_path / "t")
    assert [r.name for r in req.requirements] == ["six"]
    with pytest.raises(InputError, match="help"):
        read(["six", "--help"], target, tmp_path, env)


def test_probe_finds_the_target(any_pip: Path) -> None:
    found = probe_target(any_pip)
    assert found.is_venv and found.pip_dir is not None
    out = subprocess.run([str(any_pip), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert found.prefix == Path(out.stdout.strip())
