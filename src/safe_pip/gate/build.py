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
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from safe_pip.errors import SafePipError
from safe_pip.gate.inputs import InstallRequest, RequirementInput
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.state import ArtifactRun, StageBlocked
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
    """A build candidate as the report shows it (``-e ./proj (requirements.txt:3)``)."""
    where = req.local_path or req.url or str(req.requirement)
    spec = where + (f" ({req.origin})" if req.origin != "command line" else "")
    return f"-e {spec}" if req.editable else spec


def local_sources(request: InstallRequest) -> list[RequirementInput]:
    """The local trees, editables and sdists the user named (build candidates)."""
    return list(request.build_candidates)


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
    """Mark source distributions the policy does not allow (the resolver should not have
    chosen one without the build hook; this keeps the rule in one more place, cheaply)."""
    for run in runs:
        art = run.artifact
        if art is not None and art.kind == "sdist" and not policy.install.allow_sdist:
            run.findings.append(sdist_refused(art.filename, "is a source distribution"))


def needs_fetch(run: ArtifactRun) -> bool:
    """Whether the artifact should be downloaded at all (refused ones are not)."""
    return run.artifact is not None and not any(
        f.rule_id in (RULE, "INSTALL-UNVETTABLE") for f in run.findings
    )


# --- building ------------------------------------------------------------------------------

Vet = Callable[[Sequence[str], str], Sequence[ArtifactRun]]
"""``(requirements, for what) -> vetted runs``; raises (or blocks the run) if any is refused."""


@dataclass
class _Prepared:
    builder: Any
    env_python: Path
    tree: Path
    distribution: Literal["editable", "wheel"]
    label: str


class Builds:
    """The run's builds: metadata first (the resolver's hook), wheels after the verdicts.

    The resolver asks :meth:`metadata` for what an sdist or a local tree is (name, version,
    dependencies); that already needs the backend, so the build environment is made then,
    from vetted build dependencies only, and kept for :meth:`wheel`. One build at a time:
    the resolver may ask from several threads.
    """

    def __init__(
        self,
        *,
        python: Path,
        policy: Policy,
        request: InstallRequest,
        vet: Vet,
        vet_source: Callable[[ResolvedArtifact], ArtifactRun],
        workdir: Path,
    ) -> None:
        self.python = python
        self.policy = policy
        self.vet = vet
        self.vet_source = vet_source
        """Verify and scan an sdist file and decide it, before its backend may run."""
        self.workdir = workdir
        self.editable = {
            os.path.abspath(r.local_path)
            for r in request.requirements
            if r.editable and r.local_path
        }
        self.trees = {
            os.path.abspath(r.local_path)
            for r in request.requirements
            if r.local_path and r.kind == "local-tree"
        }
        """The local folders the user named: the only ones whose backend may ever run."""
        self._prepared: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def hook(self) -> Callable[[ResolvedArtifact], bytes] | None:
        """The resolver's ``build_metadata``, or None when the policy allows no build."""
        allowed = self.policy.install.local_builds or self.policy.install.allow_sdist
        return self.metadata if allowed else None

    def metadata(self, art: ResolvedArtifact) -> bytes:
        """METADATA of an sdist or local tree, read from its backend in the vetted env."""
        from safe_pip.gate.provider import SdistRefused

        key = "local_builds" if art.kind == "local" else "allow_sdist"
        if not getattr(self.policy.install, key):
            what = "a local tree" if art.kind == "local" else "only an sdist"
            shown = art.filename if art.kind == "sdist" else (art.local_file or art.url)
            raise SdistRefused(art.name, f"{shown} is {what}", art.kind)  # not its quarantine
        with self._lock:
            prepared = self._prepare(art)
            out = self.workdir / f"meta-{len(self._prepared)}"
            out.mkdir(parents=True, exist_ok=True)
            try:
                dist_info = Path(prepared.builder.metadata_path(out))
            except Exception as exc:  # the backend failed: fail closed, say which
                raise BuildError(f"reading the metadata of {prepared.label} failed: {exc}") from exc
            return (dist_info / "METADATA").read_bytes()

    def name_sources(self, request: InstallRequest) -> InstallRequest:
        """Name the nameless local trees and archives (``pip install ./x``) by their build's
        metadata, so the resolver sees ``name @ file:///x`` like any direct reference."""
        from email.parser import BytesHeaderParser

        from packaging.requirements import Requirement

        reqs = []
        for req in request.requirements:
            if req.requirement is not None or req.local_path is None:
                reqs.append(req)
                continue
            path = Path(os.path.abspath(req.local_path))
            kind: Literal["local", "sdist"] = "local" if path.is_dir() else "sdist"
            probe = ResolvedArtifact(
                name=path.name,
                version="",
                filename=path.name,
                url=path.as_uri(),
                kind=kind,
                index_url=None,
                local_file=path,
            )
            from safe_pip.gate.provider import SdistRefused

            try:
                name = BytesHeaderParser().parsebytes(self.metadata(probe)).get("Name")
            except SdistRefused as exc:
                raise StageBlocked(shown(req), [sdist_refused(shown(req), exc.why)]) from exc
            if not name:
                raise BuildError(f"{shown(req)}: its build states no project name")
            reqs.append(replace(req, requirement=Requirement(f"{name} @ {path.as_uri()}")))
        return replace(request, requirements=tuple(reqs))

    def wheel(self, art: ResolvedArtifact) -> Path:
        """Build the prepared source into a wheel (after its sdist, if any, was vetted)."""
        with self._lock:
            prepared = self._prepare(art)
            out = self.workdir / f"wheel-{len(list(self.workdir.glob('wheel-*')))}"
            try:
                wheel = Path(prepared.builder.build(prepared.distribution, out))
            except Exception as exc:
                raise BuildError(f"building {prepared.label} failed: {exc}") from exc
        if not wheel.name.endswith(".whl") or not wheel.is_file():
            raise BuildError(f"building {prepared.label} produced no wheel")
        return wheel

    def label(self, art: ResolvedArtifact) -> str:
        prepared = self._prepared.get(self._key(art))
        return prepared.label if prepared else art.filename

    @staticmethod
    def _source(art: ResolvedArtifact) -> Path | None:
        """The folder or archive on disk: the quarantined sdist, or the local tree."""
        from safe_pip.gate.fetch import file_url_path

        if art.local_file is not None:
            return Path(os.path.abspath(art.local_file))
        if art.url.startswith("file:"):
            return Path(os.path.abspath(file_url_path(art.url)))
        return None

    def _key(self, art: ResolvedArtifact) -> str:
        source = self._source(art)
        return str(source) if source is not None else art.url

    def _prepare(self, art: ResolvedArtifact) -> _Prepared:
        from build import ProjectBuilder

        key = self._key(art)
        if key in self._prepared:
            return self._prepared[key]
        source = self._source(art)
        if source is None:
            raise BuildError(f"{art.name}: nothing on disk to build from ({art.url})")
        # Every backend runs from here, so this is where "nothing runs before its verdict"
        # holds for builds: a local folder only if the user named it (never because some
        # metadata pointed at it), an sdist only once its file was verified and scanned.
        if art.kind == "local" and str(source) not in self.trees:
            from safe_pip.gate.provider import refuse_unnamed_tree

            raise refuse_unnamed_tree(art.name, str(source), "a dependency")
        if art.kind != "local":
            self.vet_source(art)
        where = self.workdir / f"build-{len(self._prepared)}"
        editable = art.kind == "local" and os.path.abspath(source) in self.editable
        label = ("-e " if editable else "") + (str(source) if art.kind == "local" else art.filename)
        tree = source if source.is_dir() else _unpack(source, where / "src")
        env_python = _make_env(self.python, where / "env")
        builder = ProjectBuilder(tree, python_executable=str(env_python), runner=_runner(tree))
        dist: Literal["editable", "wheel"] = "editable" if editable else "wheel"
        try:
            _provide(builder.build_system_requires, label, self.python, env_python, self.vet)
            _provide(builder.get_requires_for_build(dist), label, self.python, env_python, self.vet)
        except (OSError, ValueError, TypeError) as exc:
            raise BuildError(f"cannot prepare the build of {label}: {exc}") from exc
        except Exception as exc:
            from build import BuildBackendException, BuildException

            if isinstance(exc, (BuildException, BuildBackendException)):
                raise BuildError(f"cannot prepare the build of {label}: {exc}") from exc
            raise
        prepared = _Prepared(builder, env_python, tree, dist, label)
        self._prepared[key] = prepared
        return prepared


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
    tops = list(dest.iterdir())
    if len(tops) == 1 and tops[0].is_dir():
        return tops[0]
    if (dest / "pyproject.toml").exists() or (dest / "setup.py").exists():
        return dest
    raise BuildError(f"{name}: no single project folder inside")
