"""End to end: builds only through the gate (local trees, ``-e .``, sdists where allowed).

The projects here use a tiny in-tree PEP 517 backend (``backend-path = ["."]``) that imports
its build dependency ``buildhelper`` from the index and touches a marker file when it runs,
so each test can tell whether code ran, and with what: a build may only start once its build
dependencies were resolved, fetched, verified and scanned by the pipeline, and the wheel it
builds is scanned before it is installed.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.gate.conftest import Runner
from tests.support.attacks import evil_pickle
from tests.support.index_server import IndexServer
from tests.support.venvs import installed, isolated_env
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow

BACKEND = '''
"""A minimal PEP 517 backend: writes a wheel of the package next to it, by hand."""
import base64, hashlib, os, pathlib, zipfile

import buildhelper  # the build dependency: only importable if the gate installed it

HERE = pathlib.Path(__file__).parent
NAME, VERSION = {name!r}, "1.0"
pathlib.Path({ran!r}).write_text("backend ran with buildhelper " + buildhelper.VERSION)


def _digest(data):
    raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "sha256=" + raw.rstrip(b"=").decode()


def _wheel(directory, members):
    info = f"{{NAME}}-{{VERSION}}.dist-info"
    meta = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
    members[f"{{info}}/METADATA"] = meta.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    members[f"{{info}}/WHEEL"] = wheel.encode()
    record = "".join(f"{{p}},{{_digest(d)}},{{len(d)}}\\n" for p, d in members.items())
    members[f"{{info}}/RECORD"] = (record + f"{{info}}/RECORD,,\\n").encode()
    name = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as zf:
        for path, data in members.items():
            zf.writestr(path, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{f"{{NAME}}/{{p.name}}": p.read_bytes() for p in (HERE / NAME).glob("*.py")}}
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {{f"{{NAME}}.pth": (str(HERE) + "\\n").encode()}})


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError
'''


def project(root: Path, name: str, ran: Path) -> Path:
    """A source tree built by the tiny backend, which needs ``buildhelper``."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["buildhelper>=1"]\n'
        'build-backend = "tinybackend"\nbackend-path = ["."]\n'
    )
    (root / "tinybackend.py").write_text(BACKEND.format(name=name, ran=str(ran)))
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("VALUE = 42\n")
    return root


def helper(out: Path, *, evil: Path | None = None) -> Path:
    files = {"buildhelper/__init__.py": b"VERSION = '1.0'\n"}
    if evil is not None:
        files["buildhelper/model.pt"] = evil_pickle(evil)
    return build_wheel(out, "buildhelper", "1.0", files)


def sdist_of(tree: Path, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-1.0.tar.gz"
    base = f"{name}-1.0"
    with tarfile.open(path, "w:gz") as tf:
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size = len(pkg_info)
        tf.addfile(entry, io.BytesIO(pkg_info))
        for file in sorted(tree.rglob("*")):
            if file.is_file():
                tf.add(file, f"{base}/{file.relative_to(tree).as_posix()}")
    return path


def imports(venv: Path, module: str, home: Path) -> str:
    out = subprocess.run(
        [str(venv), "-c", f"import {module}; print({module}.VALUE)"],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        cwd="/",
    )
    return out.stdout.strip()


@pytest.mark.parametrize("editable", [False, True])
def test_local_tree_is_built_from_vetted_build_dependencies(
    editable: bool, index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path, home: Path
) -> None:
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "proj", "localproj", ran)
    index.add(helper(tmp_path / "w"))
    args = ["-e", tree] if editable else [tree]
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, *args)
    assert r.code == 0, r.stdout + r.stderr
    doc = r.json()
    by_name = {a["distribution"]["name"]: a for a in doc["targets"]}
    assert (
        by_name["buildhelper"]["properties"].get("for-build")
        and by_name["buildhelper"]["decision"] == "allow"
    )
    assert (
        by_name["localproj"]["properties"].get("built-from")
        and by_name["localproj"]["cached"] is False
    )
    assert doc["run"]["installed"] == ["localproj 1.0"]  # the build dependency is not installed
    assert set(installed(venv)) >= {"localproj"} and "buildhelper" not in installed(venv)
    assert ran.read_text() == "backend ran with buildhelper 1.0"
    assert imports(venv, "localproj", home) == "42"


def test_malicious_build_dependency_blocks_before_any_build(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    ran, marker = tmp_path / "BACKEND-RAN", tmp_path / "PWNED"
    tree = project(tmp_path / "proj", "localproj", ran)
    index.add(helper(tmp_path / "w", evil=marker))
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "-e", tree)
    assert r.code == 1, r.stdout + r.stderr
    helper_run = next(a for a in r.json()["targets"] if a["distribution"]["name"] == "buildhelper")
    assert helper_run["decision"] == "block" and helper_run["properties"].get("for-build")
    assert "PICKLE-GLOBAL-DANGEROUS" in r.rules()
    assert not ran.exists() and not marker.exists()
    assert "localproj" not in installed(venv) and "buildhelper" not in installed(venv)


def test_missing_build_dependency_is_an_error_and_nothing_runs(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "proj", "localproj", ran)
    index.add(build_wheel(tmp_path / "w", "unrelated", "1.0"))
    r = safe_pip("--python", venv, "-i", index.simple_url, tree)
    assert r.code == 2, r.stdout + r.stderr
    assert not ran.exists() and "localproj" not in installed(venv)


def test_policy_can_forbid_local_builds(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "proj", "localproj", ran)
    index.add(helper(tmp_path / "w"))
    r = safe_pip(
        "--python",
        venv,
        "--format",
        "json",
        "-i",
        index.simple_url,
        "-e",
        tree,
        policy="[install]\nlocal_builds = false\n",
    )
    assert r.code == 1, r.stdout + r.stderr
    assert "SDIST-REFUSED" in r.rules() and "install.local_builds" in r.stdout
    assert not ran.exists() and "localproj" not in installed(venv)


def test_sdist_is_built_through_the_gate_where_allowed(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path, home: Path
) -> None:
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "src", "srcproj", ran)
    index.add(sdist_of(tree, tmp_path / "dist", "srcproj"))
    index.add(helper(tmp_path / "w"))
    refused = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "srcproj")
    assert refused.code == 1 and "SDIST-REFUSED" in refused.rules()
    assert "install.allow_sdist" in refused.stdout and not ran.exists()
    r = safe_pip(
        "--python",
        venv,
        "--format",
        "json",
        "-i",
        index.simple_url,
        "srcproj",
        policy="[install]\nallow_sdist = true\n",
    )
    assert r.code == 0, r.stdout + r.stderr
    by_file = {a["target"]: a for a in r.json()["targets"]}
    assert by_file["srcproj-1.0.tar.gz"]["properties"].get(
        "for-build"
    )  # vetted (scanned) itself, not installed
    assert (
        by_file["srcproj-1.0-py3-none-any.whl"]["properties"].get("built-from")
        == "srcproj-1.0.tar.gz"
    )
    assert r.json()["run"]["installed"] == ["srcproj 1.0"]
    assert imports(venv, "srcproj", home) == "42"
    record = json.loads((home / "state" / "safe-pip" / "audit.jsonl").read_text().splitlines()[-1])
    assert record["outcome"] == "installed"


def test_built_wheel_is_scanned_before_it_is_installed(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    """The build may run (its dependencies were vetted), but what it built carries a model
    that would run code on load: the built wheel is scanned and blocked, not installed."""
    ran, marker = tmp_path / "BACKEND-RAN", tmp_path / "PWNED"
    tree = project(tmp_path / "proj", "localproj", ran)
    backend = (tree / "tinybackend.py").read_text()
    backend = backend.replace(
        'for p in (HERE / NAME).glob("*.py")}',
        'for p in (HERE / NAME).glob("*.py")}\n    files[NAME + "/model.pt"] = EVIL',
    ).replace("import buildhelper", f"EVIL = {evil_pickle(marker)!r}\nimport buildhelper")
    (tree / "tinybackend.py").write_text(backend)
    index.add(helper(tmp_path / "w"))
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, tree)
    assert r.code == 1, r.stdout + r.stderr
    built = next(a for a in r.json()["targets"] if a["properties"].get("built-from"))
    assert built["decision"] == "block" and "PICKLE-GLOBAL-DANGEROUS" in {
        f["rule_id"] for f in built["findings"] if f["blocking"]
    }
    assert ran.exists() and not marker.exists()
    assert "localproj" not in installed(venv)


def test_a_dependency_cannot_name_a_local_folder_to_build(
    index: IndexServer, venv: Path, safe_pip: Runner, tmp_path: Path
) -> None:
    """A wheel's ``Requires-Dist: x @ file:///some/folder`` picks code on the user's disk (a
    checkout, a shared /tmp folder) for safe-pip to run as a build backend. Only the folders
    the user names are built; one a dependency names is refused before its backend runs,
    and naming it yourself is the way to allow it."""
    ran = tmp_path / "BACKEND-RAN"
    tree = project(tmp_path / "proj", "localproj", ran)
    index.add(helper(tmp_path / "w"))
    index.add(build_wheel(tmp_path / "w", "app", "1.0", requires=[f"localproj @ {tree.as_uri()}"]))
    r = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "app")
    assert r.code == 1, r.stdout + r.stderr
    assert "SDIST-REFUSED" in r.rules() and "did not ask to install" in r.stdout
    assert not ran.exists()
    assert not {"app", "localproj", "buildhelper"} & set(installed(venv))
    named = safe_pip("--python", venv, "--format", "json", "-i", index.simple_url, "app", tree)
    assert named.code == 0, named.stdout + named.stderr
    assert ran.exists() and {"app", "localproj"} <= set(installed(venv))
