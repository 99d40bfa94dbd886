"""The resolvelib provider: pip's choices, over wheel metadata only.

It reproduces the pip semantics users rely on — extras, markers evaluated in the target,
constraints, ``--pre``, ``--upgrade`` and the upgrade strategy, already-installed
distributions (a satisfied requirement needs nothing), ``--no-deps``, ``Requires-Python``
(both the page's and METADATA's), yanked files (PEP 592: only for an ``==``/``===`` pin),
``--no-binary``/``--prefer-binary``, ``--hash`` preference and wheel-tag preference — with
one difference that is the point of it: **nothing is ever built**. A candidate's dependencies
come from its PEP 658 ``.metadata`` file (hash-checked) or from the METADATA inside the wheel,
which is downloaded once into the quarantine and later reused by the fetch stage. An sdist
or a local tree is a candidate only when the pipeline passes a build hook (the build stage,
which vets build dependencies first); otherwise it is recorded as refused, so a requirement
that only an sdist could satisfy ends as ``SDIST-REFUSED``, not "no matching distribution".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider
from unearth.evaluator import Evaluator, FormatControl, TargetPython
from unearth.link import Link

from safe_pip.errors import FetchError
from safe_pip.gate.fetch import Fetcher, HashMismatch, Once, file_url_path, strip_auth
from safe_pip.gate.finder import Finder, Offer, Source, offer_from_link
from safe_pip.gate.inputs import ResolveOptions
from safe_pip.gate.metadata import CoreMetadata, MetadataError, metadata_from_wheel, parse_metadata
from safe_pip.gate.target import InstalledDist, Target

PYTHON: str = "<python>"
"""The identifier of the interpreter itself (``Requires-Python`` is a dependency on it)."""

Origin = Literal["index", "direct", "installed", "python"]


@dataclass(frozen=True)
class Req:
    """A requirement on one identifier (a project, a project with extras, or Python)."""

    name: str
    extras: frozenset[str] = frozenset()
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    url: str | None = None
    """A direct reference (a wheel or sdist URL, ``file:`` included)."""
    pin: Cand | None = None
    """An extras candidate's requirement on exactly its base candidate."""
    parent: str = "the command line"
    user: bool = False
    requested_as: str | None = None
    """The name as the user wrote it (top-level requirements only)."""
    hashes: frozenset[str] = frozenset()
    local_path: str | None = None
    editable: bool = False

    @property
    def identifier(self) -> str:
        if self.name == PYTHON:
            return PYTHON
        return self.name + (f"[{','.join(sorted(self.extras))}]" if self.extras else "")

    def __str__(self) -> str:
        if self.name == PYTHON:
            return f"Python{self.specifier}"
        return self.identifier + (f" @ {self.url}" if self.url else str(self.specifier))


class Cand:
    """One possible choice for an identifier. Equal when they would install the same thing."""

    def __init__(
        self,
        name: str,
        version: Version,
        origin: Origin,
        *,
        extras: frozenset[str] = frozenset(),
        offers: tuple[Offer, ...] = (),
        installed: InstalledDist | None = None,
        base: Cand | None = None,
        url: str | None = None,
        kind: str = "wheel",
    ) -> None:
        self.name = name
        self.version = version
        self.origin = origin
        self.extras = extras
        self.offers = offers
        """Index candidates: the identical file as each source offers it (chosen first)."""
        self.installed = installed
        self.base = base
        self.url = url if url is not None else (offers[0].url if offers else None)
        self.kind = kind

    @property
    def key(self) -> tuple[object, ...]:
        return (self.name, str(self.version), self.extras, self.origin, self.url)

    @property
    def identifier(self) -> str:
        return Req(self.name, self.extras).identifier

    @property
    def offer(self) -> Offer | None:
        return self.offers[0] if self.offers else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cand) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"<{self.identifier} {self.version} {self.origin}>"


@dataclass
class Loaded:
    """A candidate's metadata, and the quarantined file it was read from (if any)."""

    metadata: CoreMetadata
    local_file: Path | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Settings:
    """What changes choices: pip's options and the parts of the policy that apply here."""

    options: ResolveOptions = field(default_factory=ResolveOptions)
    builds: bool = False
    """Whether sdists and local trees may be candidates (a build hook was passed in)."""
    index_pins: Mapping[str, str] = field(default_factory=dict)
    """Canonical name → the one source (index URL or find-links location) it may come from."""

    def no_binary(self, name: str) -> bool:
        names = {n if n == ":all:" else canonicalize_name(n) for n in self.options.no_binary}
        return ":all:" in names or name in names


BuildHook = Callable[[Cand, Path], bytes]
"""``(candidate, local file or tree) -> METADATA bytes``: the build stage, when allowed."""


class Provider(AbstractProvider[Req, Cand, str]):
    def __init__(
        self,
        *,
        target: Target,
        finder: Finder,
        fetcher: Fetcher,
        settings: Settings,
        constraints: Mapping[str, Sequence[Req]],
        user_names: frozenset[str],
        build: BuildHook | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.target = target
        self.finder = finder
        self.fetcher = fetcher
        self.settings = settings
        self.constraints = constraints
        self.user_names = user_names
        self.build = build
        self.pool = pool
        self.python = Cand(PYTHON, Version(target.python_version), "python")
        self.tag_rank = target.tag_priority()
        self._target_python = _TargetPython(target)
        self._metadata: Once[tuple[object, ...], Loaded] = Once()
        self._prefetched: set[str] = set()
        self._lock = threading.Lock()
        self.refused: dict[str, list[Offer]] = {}
        """Names whose only matching files were sdists that may not be built here."""
        self.dependencies: dict[Cand, list[Req]] = {}

    # -- resolvelib interface -------------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Cand) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Cand],
        candidates: Mapping[str, Iterator[Cand]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[object, ...]:
        reqs = [info.requirement for info in information[identifier]]
        direct = any(r.url or r.pin or r.local_path for r in reqs)
        pinned = any(s.operator in ("==", "===") for r in reqs for s in r.specifier)
        user = any(r.user for r in reqs)
        return (identifier != PYTHON, not direct, not pinned, not user, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Cand]],
    ) -> Iterable[Cand]:
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        if identifier == PYTHON:
            ok = all(r.specifier.contains(self.python.version, prereleases=True) for r in reqs)
            return [self.python] if ok and self.python not in bad else []
        pins = [r.pin for r in reqs if r.pin is not None]
        if pins:
            chosen = pins[0]
            fits = all(self.is_satisfied_by(r, chosen) for r in reqs)
            return [chosen] if fits and chosen not in bad else []
        name = reqs[0].name
        extras = reqs[0].extras
        bases = self._base_matches(name, reqs)
        out: list[Cand] = []
        for base in bases:
            cand = base if not extras else self._with_extras(base, extras)
            if cand not in bad and all(self.is_satisfied_by(r, cand) for r in reqs):
                out.append(cand)
        return out

    def is_satisfied_by(self, requirement: Req, candidate: Cand) -> bool:
        if requirement.name == PYTHON:
            return requirement.specifier.contains(candidate.version, prereleases=True)
        if requirement.pin is not None:
            return candidate == requirement.pin or candidate.base == requirement.pin
        if canonicalize_name(candidate.name) != requirement.name:
            return False
        if requirement.url is not None or requirement.local_path is not None:
            return candidate.origin == "direct" and candidate.url == _direct_url(requirement)
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Cand) -> Iterable[Req]:
        if candidate.origin == "python":
            return []
        deps = list(self._dependencies(candidate))
        self.dependencies[candidate] = deps
        for dep in deps:
            self.prefetch(dep)
        return deps

    # -- dependencies -----------------------------------------------------------------------

    def _dependencies(self, cand: Cand) -> Iterator[Req]:
        label = f"{cand.name} {cand.version}"
        if cand.base is not None:
            yield Req(cand.name, pin=cand.base, parent=label)
            if self.settings.options.no_deps:
                return
            # pip ignores (with a warning) an extra the metadata does not provide.
            extras = cand.extras & self._provided_extras(cand.base)
            for req in self._requires(cand.base) if extras else ():
                if req.marker is not None and self.target.evaluate(req.marker, extras):
                    yield self._dep(req, label)
            return
        if cand.origin != "installed":
            meta = self.load(cand).metadata
            if meta.requires_python is not None:
                yield Req(PYTHON, specifier=meta.requires_python, parent=label)
        if self.settings.options.no_deps:
            return
        for req in self._requires(cand):
            if self.target.evaluate(req.marker):
                yield self._dep(req, label)

    def _requires(self, cand: Cand) -> tuple[Requirement, ...]:
        if cand.installed is not None:
            return tuple(Requirement(r) for r in cand.installed.requires)
        return self.load(cand).metadata.requires

    def _provided_extras(self, cand: Cand) -> frozenset[str]:
        if cand.installed is not None:
            return frozenset(canonicalize_name(e) for e in cand.installed.provides_extra)
        return self.load(cand).metadata.provides_extra

    def _dep(self, req: Requirement, parent: str) -> Req:
        return Req(
            canonicalize_name(req.name),
            frozenset(canonicalize_name(e) for e in req.extras),
            req.specifier,
            url=req.url,
            parent=parent,
        )

    # -- candidates -------------------------------------------------------------------------

    def _with_extras(self, base: Cand, extras: frozenset[str]) -> Cand:
        return Cand(
            base.name,
            base.version,
            base.origin,
            extras=extras,
            offers=base.offers,
            installed=base.installed,
            base=base,
            url=base.url,
            kind=base.kind,
        )

    def _base_matches(self, name: str, reqs: Sequence[Req]) -> list[Cand]:
        constraints = list(self.constraints.get(name, ()))
        direct = [r for r in (*reqs, *constraints) if r.url or r.local_path]
        if direct:
            urls = {_direct_url(r) for r in direct}
            if len(urls) != 1:
                return []  # two different direct references for one project never match
            return [self._direct_candidate(name, direct[0], named=any(r.user for r in direct))]
        spec = SpecifierSet()
        hashes: set[str] = set()
        for r in (*reqs, *constraints):
            spec &= r.specifier
            hashes |= r.hashes
        user = name in self.user_names
        offers = self._applicable(name, spec)
        ranked = self._rank(offers, hashes)
        installed = self._installed(name, spec)
        if installed is None:
            return ranked
        if not self._upgrade_allowed(user):
            return [installed] + [c for c in ranked if c.version != installed.version]
        out: list[Cand] = []
        placed = False
        for cand in ranked:
            if not placed and cand.version <= installed.version:
                out.append(installed)
                placed = True
            if cand.version != installed.version:
                out.append(cand)
        if not placed:
            out.append(installed)
        return out

    def _upgrade_allowed(self, user_requested: bool) -> bool:
        o = self.settings.options
        if not o.upgrade:
            return False
        if o.upgrade_strategy == "eager":
            return True
        return o.upgrade_strategy == "only-if-needed" and user_requested

    def _installed(self, name: str, spec: SpecifierSet) -> Cand | None:
        if self.settings.options.ignore_installed or self.settings.options.force_reinstall:
            return None
        dist = self.target.installed.get(canonicalize_name(name))
        if dist is None:
            return None
        try:
            version = Version(dist.version)
        except InvalidVersion:
            return None
        if not spec.contains(version, prereleases=True):
            return None
        return Cand(canonicalize_name(name), version, "installed", installed=dist, url=None)

    def pinned_sources(self, name: str) -> tuple[Source, ...]:
        """The sources ``name`` may come from: all, unless the policy names one."""
        pin = self.settings.index_pins.get(name)
        sources = self.finder.sources
        if pin is None:
            return sources
        return tuple(s for s in sources if source_matches(s.url, pin))

    def _applicable(self, name: str, spec: SpecifierSet) -> list[Offer]:
        """Offers that fit the target and the specifier, pip's prerelease and yanked rules."""
        allowed_sources = {s.url for s in self.pinned_sources(name)}
        offers = [o for o in self.finder.offers(name).offers if o.source.url in allowed_sources]
        s = self.settings
        binary_only = not s.builds
        no_binary = s.no_binary(name)
        control = FormatControl(
            only_binary={canonicalize_name(":all:")} if binary_only else set(),
            no_binary={canonicalize_name(name)} if no_binary else set(),
        )
        fits = _evaluator(name, self._target_python, FormatControl())
        strict = _evaluator(name, self._target_python, control)
        fitting = [o for o in offers if o.link is not None and fits.evaluate_link(o.link)]
        usable = [o for o in fitting if strict.evaluate_link(o.link) is not None]  # type: ignore[arg-type]
        exact = any(
            sp.operator == "===" or (sp.operator == "==" and "*" not in sp.version) for sp in spec
        )
        if not exact:
            usable = [o for o in usable if o.yanked is None]
            fitting = [o for o in fitting if o.yanked is None]
        prereleases = True if s.options.pre else None
        versions = {str(o.version) for o in usable}
        keep = set(spec.filter(versions, prereleases=prereleases))
        chosen = [o for o in usable if str(o.version) in keep]
        if not chosen:
            sdist_versions = set(
                spec.filter({str(o.version) for o in fitting}, prereleases=prereleases)
            )
            refused = [o for o in fitting if o.kind == "sdist" and str(o.version) in sdist_versions]
            if refused:
                with self._lock:
                    self.refused[name] = refused
        return chosen

    def _rank(self, offers: Sequence[Offer], hashes: set[str]) -> list[Cand]:
        """One candidate per distinct file, best first (pip's sort key)."""
        groups: dict[tuple[str, str], list[Offer]] = {}
        for offer in sorted(offers, key=lambda o: o.source.rank):
            ident = (offer.filename, offer.sha256 or f"?{offer.source.url}")
            groups.setdefault(ident, []).append(offer)
        worst = -len(self.tag_rank) - 1
        scored: list[tuple[tuple[object, ...], Cand]] = []
        for group in groups.values():
            first = group[0]
            if first.kind == "wheel":
                tags = _wheel_tags(first.filename)
                tag_value = max(
                    (-self.tag_rank[t] for t in tags if t in self.tag_rank), default=worst
                )
            else:
                tag_value = worst
            key = (
                bool(hashes) and (f"sha256:{first.sha256}" in hashes),
                any(o.yanked is None for o in group),
                self.settings.options.prefer_binary and first.kind == "wheel",
                first.version,
                tag_value,
                -first.source.rank,
            )
            cand = Cand(first.name, first.version, "index", offers=tuple(group), kind=first.kind)
            scored.append((key, cand))
        scored.sort(key=lambda item: item[0], reverse=True)
        return [cand for _, cand in scored]

    def _direct_candidate(self, name: str, req: Req, *, named: bool) -> Cand:
        """The one candidate of a direct reference. ``named``: the user wrote it (a
        requirement, not a dependency's metadata), the only way a local folder is built."""
        url = _direct_url(req)
        link = Link(url)
        source = Source(url, "direct", -1)
        offer: Offer | None = None
        if not req.editable:
            offer = offer_from_link(link, source, url)
        kind = offer.kind if offer is not None else "local"
        if kind == "wheel" and offer is not None:
            return Cand(name, offer.version, "direct", offers=(offer,), url=url, kind="wheel")
        if kind == "local" and not named:
            raise refuse_unnamed_tree(name, req.local_path or url, req.parent)
        # An sdist or a local tree: only the build hook can say what it is.
        if not self.settings.builds or self.build is None:
            raise SdistRefused(name, f"{req.local_path or url} needs a build", kind)
        placeholder = Cand(
            name,
            Version("0"),
            "direct",
            url=url,
            kind=kind,
            offers=() if offer is None else (offer,),
        )
        meta = self.load(placeholder).metadata
        return Cand(name, meta.version, "direct", url=url, kind=kind, offers=placeholder.offers)

    # -- metadata ---------------------------------------------------------------------------

    def load(self, cand: Cand) -> Loaded:
        """The candidate's metadata (read once per file, from any thread)."""
        target = cand.base or cand
        return self._metadata.get(target.key[:1] + target.key[3:], lambda: self._load(target))

    def _load(self, cand: Cand) -> Loaded:
        offer = cand.offer
        where = offer.filename if offer is not None else (cand.url or cand.name)
        if cand.kind == "wheel" and offer is not None:
            if offer.metadata_hash is not None:
                meta = self._pep658(offer)
                if meta is not None:
                    return Loaded(parse_metadata(meta, where + ".metadata"))
            got = self.fetcher.fetch(
                offer.url, expected_sha256=offer.sha256, filename=offer.filename
            )
            raw = metadata_from_wheel(got.path, cand.name)
            return Loaded(parse_metadata(raw, where), got.path, got.sha256)
        if self.build is None:
            raise SdistRefused(cand.name, f"{where} needs a build", cand.kind)
        if cand.kind == "local" or offer is None:
            path = file_url_path(cand.url or "")
            return Loaded(parse_metadata(self.build(cand, path), where))
        got = self.fetcher.fetch(offer.url, expected_sha256=offer.sha256, filename=offer.filename)
        return Loaded(parse_metadata(self.build(cand, got.path), where), got.path, got.sha256)

    def _pep658(self, offer: Offer) -> bytes | None:
        """The PEP 658 file, hash-checked; None if the index fails to serve it (then the
        wheel is read instead); a hash mismatch is a lie and fails closed."""
        import hashlib

        url = offer.url + ".metadata"
        try:
            raw = self.fetcher.get(url, accept="*/*")
        except FetchError:
            return None
        for algo, expected in offer.metadata_hash or ():
            if algo in hashlib.algorithms_guaranteed:
                actual = hashlib.new(algo, raw).hexdigest()
                if actual != expected:
                    raise HashMismatch(url, expected, actual)
        return raw

    def prefetch(self, req: Req) -> None:
        """Start reading ``req``'s pages and its likely choice's metadata in the background."""
        if req.name == PYTHON or req.url or req.pin is not None or req.local_path:
            return
        with self._lock:
            if req.identifier in self._prefetched:
                return
            self._prefetched.add(req.identifier)
        self.pool.submit(self._prefetch, req)

    def prefetch_hint(self, name: str) -> None:
        """Start reading a project that a previous resolution of the same request needed
        (:mod:`safe_pip.gate.hints`): its pages, and its likely choice's metadata when that
        is a PEP 658 file or the wheel is already in quarantine (a guess never downloads a
        wheel)."""
        self.pool.submit(self._prefetch, Req(canonicalize_name(name)), quarantined_only=True)

    def _prefetch(self, req: Req, *, quarantined_only: bool = False) -> None:
        try:
            for cand in self._base_matches(req.name, [req])[:1]:
                if cand.origin != "index" or cand.kind != "wheel":
                    continue
                offer = cand.offer
                if quarantined_only and not (
                    offer is not None
                    and (
                        offer.metadata_hash is not None  # PEP 658: a small file, not the wheel
                        or (
                            offer.sha256
                            and self.fetcher.quarantine.path_for(
                                offer.sha256, offer.filename
                            ).is_file()
                        )
                    )
                ):
                    continue
                self.load(cand)
        except Exception:  # the real lookup repeats it (Once) and reports the error
            return


class SdistRefused(MetadataError):
    """Resolution needs a build that is not allowed here (no build hook)."""

    def __init__(self, name: str, why: str, kind: str, *, advice: str | None = None) -> None:
        super().__init__(f"{name}: {why}")
        self.name = name
        self.why = why
        self.kind = kind
        self.advice = advice
        """How to allow it, when the policy key the finding names by default would not."""


NOT_NAMED = (
    "safe-pip builds only the local folders you name yourself: a path in an artifact's "
    "metadata is the artifact choosing code on your disk to run. If you do want it built, "
    "name it (safe-pip install PATH) next to what depends on it"
)


def refuse_unnamed_tree(name: str, path: str, named_by: str) -> SdistRefused:
    """The refusal for a local folder that no input of the user named."""
    return SdistRefused(
        name,
        f"{named_by} names the local folder {path}, which you did not ask to install",
        "local",
        advice=NOT_NAMED,
    )


class _TargetPython(TargetPython):
    """unearth's target description, with the tags probed from the real interpreter."""

    def __init__(self, target: Target) -> None:
        major, minor, *rest = (int(p) for p in target.python_version.split(".")[:3])
        super().__init__(py_ver=(major, minor, *rest))
        self._tags = list(target.tags)

    def supported_tags(self) -> list[Any]:
        return self._tags


def _evaluator(name: str, target: TargetPython, control: FormatControl) -> Evaluator:
    return Evaluator(name, target_python=target, allow_yanked=True, format_control=control)


def _wheel_tags(filename: str) -> frozenset[Any]:
    from packaging.utils import parse_wheel_filename

    return parse_wheel_filename(filename)[3]


def _direct_url(req: Req) -> str:
    if req.url:
        return req.url.split("#", 1)[0] if req.url.startswith("file:") else req.url
    assert req.local_path is not None
    return Path(req.local_path).absolute().as_uri()


def source_matches(source_url: str, pin: str) -> bool:
    """Is ``source_url`` the source ``pin`` names (same URL or path, ignoring a trailing /)?"""
    a = strip_auth(source_url).rstrip("/")
    b = strip_auth(pin).rstrip("/")
    return a == b or a.startswith(b + "/")
