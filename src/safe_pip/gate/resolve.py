"""Resolution that cannot build: wheel metadata only (PEP 658, or the wheel itself).

``resolve(request, target, fetcher)`` decides what pip would install into ``target`` and
returns it in install order, in process, with resolvelib (the resolver pip and PDM run on)
over the metadata of wheels: no pip process, no ``setup.py``, no build backend, nothing from
the working directory. How each of pip's options is honoured is in
:mod:`safe_pip.gate.provider`; where files are found in :mod:`safe_pip.gate.finder`.

What it adds to pip's answer:

* **origin**: every project's ``offered_by`` (each index and find-links location listing it).
  A project offered by more than one source whose choice depends on the source — the chosen
  file is not advertised, with the same sha256, by every source that lists the project — is
  the dependency-confusion shape (``torchtriton``) and gets an ``INDEX-CONFUSION`` finding,
  unless the policy names the one source it may come from (``[[package]] index``), in which
  case the other sources are not even considered;
* **refusals**: a requirement only an sdist or a local tree could satisfy, with no build hook
  (the policy does not allow builds), raises :class:`ResolutionBlocked` carrying
  ``SDIST-REFUSED`` findings (exit 1) that say how to allow it;
* **the file**: when the metadata had to be read from the wheel, the wheel is already in
  quarantine (``local_file``, ``sha256``) and the fetch stage reuses it.

Interface contract (shared by the gate's stages; keep names stable, extend freely).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from safe_pip.errors import EXIT_BLOCKED, SafePipError
from safe_pip.gate.fetch import Fetcher, redact
from safe_pip.gate.finder import Finder, ProjectOffers, sources_of
from safe_pip.gate.inputs import InstallRequest, RequirementInput
from safe_pip.gate.provider import PYTHON, Cand, Provider, Req, SdistRefused, Settings
from safe_pip.gate.target import Target
from safe_pip.models import Finding, Severity

MAX_ROUNDS = 200_000
"""resolvelib rounds before giving up (pip's number)."""
PREFETCH_WORKERS = 8


@dataclass(frozen=True)
class ResolvedArtifact:
    """One file the resolver chose, with what the index said about it (untrusted claims)."""

    name: str
    """Canonical project name."""
    version: str
    filename: str
    url: str
    kind: Literal["wheel", "sdist", "local"]
    index_url: str | None
    """The index or find-links location the file was found on (credentials redacted)."""
    requested_as: str | None = None
    """The name as the user wrote it, when the user asked for it directly."""
    hashes: Mapping[str, str] = field(default_factory=dict)
    yanked: str | None = None
    """``None`` when not yanked, else the reason (possibly empty)."""
    upload_time: dt.datetime | None = None
    requires_python: str | None = None
    provenance_url: str | None = None
    local_file: Path | None = None
    """The quarantined copy when the resolver already downloaded the file."""
    sha256: str | None = None
    """Computed over ``local_file`` when the resolver downloaded it."""
    page_url: str | None = None
    """The project page the file was listed on (``<index>/<name>/``; never carries pip's
    ``(requires-python:...)`` log suffix); None for direct references and local files."""
    offered_by: tuple[str, ...] = ()
    """Every source that lists this exact file with the same advertised sha256."""
    metadata_name: str | None = None
    """Name and version as the METADATA read for resolution states them (the pipeline
    checks that they agree with the file name and the requested name)."""
    metadata_version: str | None = None
    findings: tuple[Finding, ...] = ()
    """What the resolver found about this file's origin (``INDEX-CONFUSION``)."""

    @property
    def requested(self) -> bool:
        return self.requested_as is not None

    @property
    def advertised_sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def is_local_file(self) -> bool:
        return self.url.startswith("file:")


@dataclass(frozen=True)
class Resolution:
    """What pip would install, in install order."""

    artifacts: tuple[ResolvedArtifact, ...]
    offered_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical name -> every index that offers the project (dependency confusion)."""
    satisfied: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> installed version, for requirements already met in the target."""
    target: Target | None = None
    """The target as probed for this resolution (markers, tags, installed distributions):
    the scan judges the chosen wheels against the same environment."""


class ResolveError(SafePipError):
    """No set of files satisfies the requirements (exit 2, nothing installed)."""


class ResolutionBlocked(SafePipError):
    """Resolution stopped on a policy refusal (``SDIST-REFUSED``): exit 1 with findings."""

    exit_code = EXIT_BLOCKED

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = tuple(findings)


BuildMetadata = Callable[[ResolvedArtifact], bytes]
"""The build stage's hook: METADATA of an sdist (``local_file`` is the quarantined sdist)
or a local tree (``kind == "local"``, ``local_file`` is the folder or archive). Passed in only
when the policy allows such builds; it vets build dependencies before anything runs."""


def resolve(
    request: InstallRequest,
    target: Target,
    fetcher: Fetcher,
    *,
    build_metadata: BuildMetadata | None = None,
    index_pins: Mapping[str, str] | None = None,
    hints: Sequence[str] = (),
) -> Resolution:
    """What pip would install for ``request`` into ``target``, in install order.

    ``hints``: projects worth reading early, in parallel (:mod:`safe_pip.gate.hints`);
    they change what is read when, never what is chosen.

    ``index_pins`` maps canonical project names to the one index URL (or find-links
    location) each may come from (the policy's ``[[package]] index``). Raises
    :class:`ResolutionBlocked` (exit 1) for a refused build, :class:`ResolveError` when
    nothing fits, :class:`~safe_pip.errors.FetchError` when a source cannot be read.
    """
    from resolvelib import BaseReporter, Resolver
    from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

    idx = request.index
    finder = Finder(
        fetcher,
        sources_of(idx.index_url, idx.extra_index_urls, idx.find_links, no_index=idx.no_index),
    )
    settings = Settings(
        options=request.options,
        builds=build_metadata is not None,
        index_pins={canonicalize_name(k): v for k, v in (index_pins or {}).items()},
    )
    requirements = [_req(r, user=True) for r in request.requirements if _applies(r, target)]
    constraints: dict[str, list[Req]] = {}
    for c in request.constraints:
        if _applies(c, target):
            req = _req(c, user=False)
            constraints.setdefault(req.name, []).append(req)
    with ThreadPoolExecutor(PREFETCH_WORKERS, thread_name_prefix="safe-pip-resolve") as pool:
        provider = Provider(
            target=target,
            finder=finder,
            fetcher=fetcher,
            settings=settings,
            constraints=constraints,
            user_names=frozenset(r.name for r in requirements),
            build=_hook(build_metadata),
            pool=pool,
        )
        for req in requirements:
            provider.prefetch(req)
        for name in hints:
            provider.prefetch_hint(name)
        resolver: Resolver[Req, Cand, str] = Resolver(provider, BaseReporter())
        try:
            result = resolver.resolve(requirements, max_rounds=MAX_ROUNDS)
        except SdistRefused as exc:
            key = "local_builds" if exc.kind == "local" else "allow_sdist"
            raise ResolutionBlocked([_sdist_finding(exc.name, exc.why, key, exc.advice)]) from exc
        except ResolutionImpossible as exc:
            raise _impossible(exc, provider) from exc
        except ResolutionTooDeep as exc:
            raise ResolveError(
                f"the requirements could not be resolved within {MAX_ROUNDS} rounds"
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return _resolution(result.mapping, result.graph, provider, requirements)


def _applies(r: RequirementInput, target: Target) -> bool:
    return r.requirement is None or target.evaluate(r.requirement.marker)


def _req(r: RequirementInput, *, user: bool) -> Req:
    req = r.requirement
    if req is None:  # a nameless local tree: only its build can name it
        raise ResolveError(f"{r.origin}: {r.local_path or r.url} must be built before it resolves")
    return Req(
        canonicalize_name(req.name),
        frozenset(canonicalize_name(e) for e in req.extras),
        req.specifier,
        url=req.url,
        parent=r.origin,
        user=user,
        requested_as=req.name if user else None,
        hashes=frozenset(h.lower() for h in r.hashes),
        local_path=r.local_path,
        editable=r.editable,
    )


def _hook(build: BuildMetadata | None) -> Callable[[Cand, Path], bytes] | None:
    if build is None:
        return None

    def call(cand: Cand, path: Path) -> bytes:
        offer = cand.offer
        return build(
            ResolvedArtifact(
                name=cand.name,
                version="" if cand.kind == "local" else str(cand.version),
                filename=offer.filename if offer is not None else path.name,
                url=cand.url or path.as_uri(),
                kind="local" if cand.kind == "local" else "sdist",
                index_url=redact(offer.source.url) if offer is not None else None,
                local_file=path,
            )
        )

    return call


def _sdist_finding(
    name: str, why: str, key: str = "allow_sdist", advice: str | None = None
) -> Finding:
    """``key`` is the switch that refused the build (``local_builds`` for a local tree);
    ``advice`` replaces it where no switch would allow the build (a folder a dependency
    names, see ``provider.refuse_unnamed_tree``)."""
    if advice is not None:
        return Finding(
            "SDIST-REFUSED",
            Severity.HIGH,
            f"{name}: {why}; building it would run its code before anything could be "
            f"scanned. {advice}.",
            name,
            {"project": name},
        )
    return Finding(
        "SDIST-REFUSED",
        Severity.HIGH,
        f"{name}: {why}, and building runs the project's code before anything can be "
        f"scanned; the policy does not allow it. To allow it, set [install] {key} = "
        "true (the build then runs isolated, from vetted build dependencies, and the built "
        "wheel is scanned), or ask for a version that has a wheel for this environment.",
        name,
        {"policy_key": f"install.{key}", "project": name},
    )


def _impossible(exc: Exception, provider: Provider) -> SafePipError:
    causes = getattr(exc, "causes", ())
    names = {info.requirement.name for info in causes}
    refused = [n for n in sorted(names) if n in provider.refused]
    if refused:
        findings = []
        for name in refused:
            files = ", ".join(sorted({o.filename for o in provider.refused[name]})[:3])
            findings.append(_sdist_finding(name, f"only a source distribution matches ({files})"))
        return ResolutionBlocked(findings)
    parts = []
    for info in causes:
        req = info.requirement
        parent = f"{info.parent.name} {info.parent.version}" if info.parent else req.parent
        if req.name == PYTHON:
            parts.append(
                f"{parent} requires Python {req.specifier}, the target has "
                f"{provider.python.version}"
            )
        else:
            parts.append(f"no matching distribution for {req} (required by {parent})")
    return ResolveError("cannot resolve: " + "; ".join(dict.fromkeys(parts)))


def _install_order(mapping: Mapping[str, Cand], graph: object) -> list[str]:
    """Base project names, dependencies before dependents (pip's install order)."""
    children: dict[str | None, list[str]] = {}
    for key in [*mapping, None]:
        try:
            kids = list(graph.iter_children(key))  # type: ignore[attr-defined]
        except KeyError:
            kids = []
        base = mapping[key].name if key is not None else None
        children.setdefault(base, []).extend(
            mapping[k].name for k in kids if k in mapping and k != PYTHON
        )
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for child in children.get(name, []):
            visit(child)
        order.append(name)

    for name in children.get(None, []):
        visit(name)
    for key, cand in mapping.items():
        if key != PYTHON:
            visit(cand.name)
    return order


def _resolution(
    mapping: Mapping[str, Cand],
    graph: object,
    provider: Provider,
    requirements: Sequence[Req],
) -> Resolution:
    requested = {r.name: r.requested_as for r in requirements if r.requested_as}
    bases: dict[str, Cand] = {}
    for key, cand in mapping.items():
        if key != PYTHON:
            bases.setdefault(cand.name, cand.base or cand)
    artifacts: list[ResolvedArtifact] = []
    offered_by: dict[str, tuple[str, ...]] = {}
    satisfied: dict[str, str] = {}
    for name in _install_order(mapping, graph):
        cand = bases[name]
        if cand.origin == "installed":
            satisfied[name] = str(cand.version)
            continue
        project = provider.finder.offers(name) if cand.origin == "index" else None
        if project is not None:
            offered_by[name] = tuple(redact(s.url) for s in project.sources)
        artifacts.append(_artifact(cand, provider, project, requested.get(name)))
    return Resolution(tuple(artifacts), offered_by, satisfied, provider.target)


def _artifact(
    cand: Cand, provider: Provider, project: ProjectOffers | None, requested_as: str | None
) -> ResolvedArtifact:
    loaded = provider.load(cand)
    offer = cand.offer
    findings: tuple[Finding, ...] = ()
    if project is not None and offer is not None:
        pinned = cand.name in provider.settings.index_pins
        finding = confusion_finding(cand, project, pinned=pinned)
        findings = (finding,) if finding is not None else ()
    yanked = next((o.yanked for o in cand.offers if o.yanked is not None), None)
    kind: Literal["wheel", "sdist", "local"] = (
        "wheel" if cand.kind == "wheel" else "sdist" if cand.kind == "sdist" else "local"
    )
    url = offer.url if offer is not None else (cand.url or "")
    upload = offer.upload_time if offer is not None else None
    return ResolvedArtifact(
        name=cand.name,
        version=str(cand.version),
        filename=offer.filename if offer is not None else Path(url).name,
        url=url,
        kind=kind,
        index_url=redact(offer.source.url)
        if offer is not None and offer.source.kind != "direct"
        else None,
        requested_as=requested_as,
        hashes=dict(offer.hashes) if offer is not None else {},
        yanked=yanked,
        upload_time=upload if isinstance(upload, dt.datetime) else None,
        requires_python=offer.requires_python if offer is not None else None,
        local_file=loaded.local_file,
        sha256=loaded.sha256,
        page_url=redact(offer.page_url)
        if offer is not None and offer.source.kind == "index"
        else None,
        offered_by=tuple(redact(o.source.url) for o in cand.offers),
        metadata_name=loaded.metadata.name,
        metadata_version=str(loaded.metadata.version),
        findings=findings,
    )


def confusion_finding(cand: Cand, project: ProjectOffers, *, pinned: bool) -> Finding | None:
    """``INDEX-CONFUSION`` when the choice of ``cand`` depends on which source answered.

    Not confusion: one source lists the project; the policy pins the project to a source;
    every source that lists the project advertises the chosen file name with the same
    sha256 (a mirror). Confusion: any source lists the project but not that exact file —
    another version, or the same file name with other bytes, or no hash to compare.
    """
    offer = cand.offer
    sources = project.sources
    if pinned or offer is None or len(sources) < 2:
        return None
    same = {
        o.source.url
        for o in project.offers
        if o.filename == offer.filename and o.sha256 is not None and o.sha256 == offer.sha256
    }
    clash = any(o.filename == offer.filename and o.sha256 != offer.sha256 for o in project.offers)
    if not clash and all(s.url in same for s in sources):
        return None
    labels = [redact(s.url) for s in sources]
    chosen = redact(offer.source.url)
    return Finding(
        "INDEX-CONFUSION",
        Severity.HIGH,
        f"{cand.name} is offered by {len(sources)} sources ({', '.join(labels)}) that do not "
        f"all serve {offer.filename} with the same sha256; it would come from {chosen}. A "
        "project on more than one index is how dependency confusion works (a higher version "
        "on an extra index wins silently): say which index it may come from with "
        f'[[package]] name = "{cand.name}" index = "<url>" in the policy.',
        offer.filename,
        {
            "project": cand.name,
            "sources": labels,
            "chosen": chosen,
            "sha256": offer.sha256,
            "policy_key": "package.index",
        },
    )


def index_pins(packages: Sequence[object]) -> dict[str, str]:
    """``[[package]] index`` values by canonical name; two different pins fail closed."""
    pins: dict[str, str] = {}
    for rule in packages:
        pin = getattr(rule, "index", None)
        if not pin:
            continue
        name = canonicalize_name(str(getattr(rule, "name", "")))
        if pins.setdefault(name, pin).rstrip("/") != pin.rstrip("/"):
            raise ResolveError(
                f"the policy pins {name} to two indexes ({pins[name]} and {pin}); "
                "say which one in one [[package]] block"
            )
    return pins


def make_resolver(
    python: Path,
    fetcher: Fetcher,
    *,
    packages: Sequence[object] = (),
    build_metadata: BuildMetadata | None = None,
    on_target: Callable[[Target], None] | None = None,
    probe: Callable[[], Target] | None = None,
) -> Callable[[InstallRequest], Resolution]:
    """The pipeline's resolve stage: probe ``python`` (once), then :func:`resolve`;
    ``on_target`` is told the probed target before resolution starts; ``probe``: the
    result of a probe of ``python`` already under way (the pipeline starts one early).

    ``packages`` are the policy's ``[[package]]`` rules (their ``index`` pins the source);
    ``build_metadata`` is the build stage's hook, passed only when the policy allows builds.
    """
    from safe_pip.gate import hints
    from safe_pip.gate.target import probe_target

    def run(request: InstallRequest) -> Resolution:
        key = hints.request_key(request, python)
        likely = hints.load(key)
        # The pages are read while the target is probed (a subprocess): the resolver then
        # finds them in the fetcher's page cache.
        reading = read_pages_early(fetcher, request, [*_names(request), *likely])
        try:
            target = probe() if probe is not None else probe_target(python)
        finally:
            reading.shutdown(wait=False)
        if on_target is not None:
            on_target(target)
        resolution = resolve(
            request,
            target,
            fetcher,
            build_metadata=build_metadata,
            index_pins=index_pins(packages),
            hints=likely,
        )
        hints.save(key, [*(a.name for a in resolution.artifacts), *resolution.satisfied])
        return resolution

    return run


def _names(request: InstallRequest) -> list[str]:
    return [r.name for r in request.requirements if r.name and r.url is None]


def read_pages_early(
    fetcher: Fetcher, request: InstallRequest, names: Sequence[str]
) -> ThreadPoolExecutor:
    """Start reading each index's page of ``names`` into ``fetcher``'s page cache, in
    threads; the caller shuts the pool down (without waiting: later readers of a page wait
    for its one read). Errors are left for the resolver's own read of the page to raise."""
    idx = request.index
    sources = sources_of(idx.index_url, idx.extra_index_urls, (), no_index=idx.no_index)
    urls = [
        s.project_page(canonicalize_name(n))
        for n in dict.fromkeys(names)
        for s in sources
        if s.url.startswith(("http:", "https:"))
    ]
    pool = ThreadPoolExecutor(PREFETCH_WORKERS, thread_name_prefix="safe-pip-pages")
    for url in urls:
        pool.submit(_read_quietly, fetcher, url)
    return pool


def _read_quietly(fetcher: Fetcher, url: str) -> None:
    try:
        fetcher.page(url)
    except Exception:  # remembered by the page cache; the resolver's read raises it
        return
