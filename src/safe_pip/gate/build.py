"""Build stage: source only becomes a wheel through the gate, and only where the policy allows.

Building runs the project's code (``setup.py``, a build backend), so it happens only for the
local trees the user names (``.``, ``-e .``, a path; ``[install] local_builds``, on by
default) and, where ``[install] allow_sdist`` permits, for sdists. Anything else is refused
with ``SDIST-REFUSED`` (exit 1), whose message names the key that would allow it.

A permitted build runs like this, and nothing of it runs before its verdict:

1. its build requirements (``[build-system] requires``, then what the backend's
   ``get_requires_for_build_*`` hook adds) are handed back to the pipeline, which resolves,
   fetches, verifies, scans and decides them like any other artifact (the *vet* callback);
2. a fresh, empty virtual environment of the target interpreter receives exactly those
   vetted wheels, installed by an isolated pip (``--no-index --no-deps --require-hashes``);
3. pypa/build drives the backend in that environment, with pip's configuration off and
   ``PIP_NO_INDEX`` set, so a backend that tries to fetch more cannot;
4. the built wheel goes back to the pipeline, which fetches it into quarantine, verifies
   its identity and scans it before anything is installed.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from safe_pip.errors import SafePipError
from safe_pip.gate.inputs import InstallRequest, RequirementInput
from safe_pip.gate.state import ArtifactRun
from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

RULE = "SDIST-REFUSED"
BUILD_TIMEOUT = 1800.0


class BuildError(SafePipError):
    """A permitted build failed (the backend, the build environment, an unsafe archive)."""


def sdist_refused(what: str, why: str, key: str = "allow_sdist") -> Finding:
    """The finding for a build the policy does not allow, saying how to allow it."""
    return Finding(
        RULE,
        Severity.HIGH,
        f"{what} {why}: building runs the project's code before it can be scanned; the "
        f"policy refuses it ([install] {key} = false; set it to true in your policy to build "
        "through the gate, from vetted build dependencies)",
        what,
        {"policy_key": f"install.{key}"},
    )


def shown(req: RequirementInput) -> str:
    spec = str(req.local_path) + (f" ({req.origin})" if req.origin != "command line" else "")
    return f"-e {spec}" if req.editable else spec


def local_sources(request: InstallRequest) -> list[RequirementInput]:
    """The local trees and archives the user named."""
    return [r for r in request.requirements if r.local_path is not None]


def refuse_local(request: InstallRequest, policy: Policy) -> list[ArtifactRun]:
    """A refusal per local tree the user named, when the policy does not allow builds."""
    if policy.install.local_builds:
        return []
    out = []
    for req in local_sources(request):
        run = ArtifactRun(artifact=None, label=shown(req))
        run.findings.append(sdist_refused(shown(req), "requires a local build", "local_builds"))
        out.append(run)
    return out


def refuse_sdists(runs: Sequence[ArtifactRun], policy: Policy) -> None:
    """Mark source distributions and unbuildable references the policy does not allow."""
    for run in runs:
        art = run.artifact
        if art is None:
            continue
        if art.kind == "local":
            run.findings.append(
                Finding(
                    "INSTALL-UNVETTABLE",
                    Severity.HIGH,
                    f"{art.name} resolves to a local tree or VCS checkout ({art.url}), not a "
                    "file that could be hashed and scanned",
                    art.url,
                )
            )
        elif art.kind == "sdist" and not policy.install.allow_sdist:
            run.findings.append(sdist_refused(art.filename, "is a source distribution"))


def needs_fetch(run: ArtifactRun) -> bool:
    """Whether the artifact should be downloaded at all (refused ones are not)."""
    return run.artifact is not None and not any(
        f.rule_id in (RULE, "INSTALL-UNVETTABLE") for f in run.findings
    )


# --- building ------------------------------------------------------------------------------

Vet = Callable[[Sequence[str], str], Sequence[ArtifactRun]]
"""``(requirements, for what) -> vetted runs``; raises (or blocks the run) if any is refused."""


@dataclass(frozen=True)
class Built:
    wheel: Path
    source: str
    """What it was built from, as the report shows it (``-e ./proj``, an sdist's name)."""


def build_wheel(
    source: Path,
    *,
    label: str,
    editable: bool,
    python: Path,
    vet: Vet,
    out_dir: Path,
) -> Built:
    """Build ``source`` (a tree, or an sdist archive) into a wheel in ``out_dir``."""
    from build import BuildBackendException, BuildException, ProjectBuilder

    with tempfile.TemporaryDirectory(prefix="safe-pip-build-") as tmp:
        work = Path(tmp)
        tree = source if source.is_dir() else _unpack(source, work / "src")
        env_python = _make_env(python, work / "env")
        runner = _runner(tree)
        try:
            builder = ProjectBuilder(tree, python_executable=str(env_python), runner=runner)
            dist: Literal["editable", "wheel"] = "editable" if editable else "wheel"
            _provide(builder.build_system_requires, label, python, env_python, vet)
            _provide(builder.get_requires_for_build(dist), label, python, env_python, vet)
            out_dir.mkdir(parents=True, exist_ok=True)
            wheel = Path(builder.build(dist, out_dir))
        except (BuildException, BuildBackendException) as exc:
            raise BuildError(f"building {label} failed: {exc}") from exc
    if not wheel.name.endswith(".whl") or not wheel.is_file():
        raise BuildError(f"building {label} produced no wheel")
    return Built(wheel, label)


def _provide(requirements: set[str], label: str, python: Path, env_python: Path, vet: Vet) -> None:
    """Vet ``requirements`` through the pipeline and install exactly those files."""
    if not requirements:
        return
    runs = vet(sorted(requirements), f"build dependency of {label}")
    from safe_pip.gate.install import VettedFile, install

    files = [VettedFile(r.path, r.sha256) for r in runs if r.path and r.sha256]
    if not files:
        return
    done = install(python, files, (), pip_python=env_python)
    if not done.ok:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise BuildError(f"cannot install the vetted build dependencies of {label}: {tail}")


def _make_env(python: Path, where: Path) -> Path:
    """An empty virtual environment (no pip, no setuptools) of the target interpreter."""
    try:
        subprocess.run(
            [str(python), "-I", "-m", "venv", "--without-pip", str(where)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot create a build environment with {python}: {exc}") from exc
    return where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _runner(tree: Path) -> Callable[..., None]:
    """Run the backend's hooks with pip's inputs off and no index to reach."""
    from safe_pip.gate.install import isolated_pip_env

    def run(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = isolated_pip_env()
        env.update(extra_environ or {})
        env["PIP_NO_INDEX"] = "1"
        proc = subprocess.run(
            list(cmd),
            cwd=cwd or str(tree),
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)

    return run


def _unpack(archive: Path, dest: Path) -> Path:
    """Unpack an sdist safely (no member outside ``dest``, no links out) -> its top folder."""
    dest.mkdir(parents=True)
    name = archive.name
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (dest / member).resolve()
                    if not target.is_relative_to(dest.resolve()):
                        raise BuildError(f"{name}: member {member!r} leaves the folder")
                zf.extractall(dest)
        else:
            raise BuildError(f"{name}: not an sdist format safe-pip builds (.tar.gz or .zip)")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise BuildError(f"cannot unpack {name}: {exc}") from exc
    tops = [p for p in dest.iterdir()]
    if len(tops) == 1 and tops[0].is_dir():
        return tops[0]
    if (dest / "pyproject.toml").exists() or (dest / "setup.py").exists():
        return dest
    raise BuildError(f"{name}: no single project folder inside")
