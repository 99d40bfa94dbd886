"""Verify stage: what the bytes and the index say about each artifact, against the policy.

Runs the verifiers of :mod:`safe_pip.verify` on every fetched artifact -- name rules,
index rules (allowlist, yanked, cooldown), hash pins (the user's ``--hash`` values and the
policy's) and signatures (PEP 740 provenance, sigstore sidecars) -- and adds their findings
to the artifact's record. Verifiers report at fixed severities; only decide turns them into
a verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.gate import identity, intel
from safe_pip.gate.inputs import InstallRequest
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.state import ArtifactRun
from safe_pip.models import Finding, Severity
from safe_pip.verify.hashes import hash_findings
from safe_pip.verify.index import artifact_findings
from safe_pip.verify.names import name_findings

if TYPE_CHECKING:
    from safe_pip.gate.fetch import Fetcher
    from safe_pip.policy.model import Policy

WORKERS = 8


def user_pins(request: InstallRequest) -> dict[str, frozenset[str]]:
    """Project name -> the sha256 digests the user's ``--hash`` options allow."""
    pins: dict[str, set[str]] = {}
    for req in request.requirements + request.constraints:
        if req.hashes and req.name:
            digests = {h.split(":", 1)[-1].lower() for h in req.hashes}
            pins.setdefault(req.name, set()).update(digests)
    return {name: frozenset(d) for name, d in pins.items()}


def index_urls(request: InstallRequest) -> tuple[str, ...]:
    """Every index the request may take files from, primary first."""
    index = request.index
    urls = ([index.index_url] if index.index_url else []) + list(index.extra_index_urls)
    return tuple(dict.fromkeys(urls))


def candidate_pages(art: ResolvedArtifact, indexes: Sequence[str]) -> list[str]:
    """Pages that may describe ``art``: the one it was listed on, then each index's."""
    pages = [art.page_url] if art.page_url and art.page_url.startswith(("http:", "https:")) else []
    for index in indexes:
        if index.startswith(("http:", "https:")):
            page = index.rstrip("/") + f"/{art.name}/"
            if page not in pages:
                pages.append(page)
    return pages


def verify_all(
    runs: Sequence[ArtifactRun],
    *,
    request: InstallRequest,
    policy: Policy,
    fetcher: Fetcher,
    now: dt.datetime | None = None,
) -> list[str]:
    """Add name, index, hash, signature and intel findings to every fetched artifact;
    return the notes said once for the whole run (see :mod:`safe_pip.gate.intel`)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    pins = user_pins(request)
    for run in runs:
        art = run.artifact
        if art is None:
            continue
        loc = art.filename
        found = identity.claims(art, run.path)
        run.findings += identity.mismatch_findings(art, found, fetched=run.path is not None)
        for name in identity.names(found):  # every name the artifact carries
            for finding in name_findings(name, policy.names, location=loc, requested=art.requested):
                if finding not in run.findings:
                    run.findings.append(finding)
        run.findings += art.findings  # what the resolver found (INDEX-CONFUSION)
        run.findings += artifact_findings(art, policy=policy, now=now, location=loc)
        if run.sha256 is not None:
            run.findings += hash_findings(
                art.name, art.version, run.sha256, user_pins=pins, policy=policy, location=loc
            )
    verify_signatures(runs, policy, fetcher, index_urls(request))
    return intel.check_all(runs, policy=policy, now=now)


def wants_signatures(policy: Policy, name: str, version: str) -> bool:
    """Whether signatures are looked for at all: a pinned publisher, or ``require`` not off."""
    pinned = policy.for_package(name, version).publishers is not None
    return pinned or policy.signatures.require != "off"


class SignaturePrefetch:
    """Signature discovery's requests for each wheel the resolver brings in, started at once.

    On a plain HTML index, which cannot state provenance, discovery asks the Integrity API and
    every sidecar name for each file (:func:`safe_pip.verify.sources.probe_urls`); a PEP 691
    page is left to discovery, which follows what it states. Those answers go into
    the fetcher's page cache, which keeps one answer per URL for the run (a 404 included),
    so :func:`verify_signatures` later reads the same responses without waiting for them; it
    still decides, from the page, which of them to use. A file whose name does not parse, or
    that the policy checks no signature for, is not prefetched.
    """

    def __init__(self, fetcher: Fetcher, policy: Policy, indexes: Sequence[str]) -> None:
        self.fetcher = fetcher
        self.policy = policy
        self.indexes = [i for i in indexes if i.startswith(("http:", "https:"))]
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            WORKERS, thread_name_prefix="safe-pip-sig-prefetch"
        )

    def fetched(self, url: str, filename: str) -> None:
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename
        from packaging.version import InvalidVersion

        from safe_pip.verify.sources import probe_urls

        pool = self._pool
        if pool is None or not url.startswith(("http:", "https:")):
            return
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return
        if not wants_signatures(self.policy, name, str(version)):
            return
        pages = [i.rstrip("/") + f"/{name}/" for i in self.indexes]
        probes = probe_urls(url, filename, pages, name, str(version))
        pool.submit(self._probe, pages, probes, pool)

    def _probe(self, pages: Sequence[str], probes: Sequence[str], pool: ThreadPoolExecutor) -> None:
        """Read ``probes`` only if every page is plain HTML: a PEP 691 page may state the
        provenance itself, and then discovery asks nothing else (the index has spoken)."""
        from safe_pip.errors import FetchError
        from safe_pip.verify import sources
        from safe_pip.verify.index import JSON_ACCEPT

        for page in pages:
            try:
                doc = self.fetcher.page(page, accept=JSON_ACCEPT)
            except FetchError as exc:
                if sources.http_status(exc) in sources.NO_JSON_STATUSES:
                    continue  # no such page: it states nothing
                return  # discovery meets the same error and judges it
            if "json" in doc.content_type.lower():
                return
        for probe in probes:
            try:
                pool.submit(self._read, probe)
            except RuntimeError:  # closed meanwhile: discovery asks for itself
                return

    def _read(self, url: str) -> None:
        from safe_pip.errors import FetchError

        try:
            self.fetcher.get(url)
        except FetchError:  # remembered: discovery reads the same answer and judges it
            return

    def close(self) -> None:
        """Stop taking files and drop the reads not started (the run is over, or discovery
        asks for itself); reads under way finish."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def verify_signatures(
    runs: Sequence[ArtifactRun],
    policy: Policy,
    fetcher: Fetcher,
    indexes: Sequence[str] = (),
) -> None:
    """Find each artifact's signatures and verify them (docs/signatures.md).

    Where signatures are looked for, in order: the index's PEP 691 JSON entry for the file
    (a ``provenance`` key means the index has spoken: a URL must be readable, ``null``
    means none and nothing else is probed; a page failing with anything but "no JSON API
    here" blocks, since it might have stated one); otherwise the sidecars next to the file
    (``safe_pip.verify.sources.SIDECARS``), where a 404/410 means absent and any other
    failure blocks; for ``file://`` and find-links folders the same sidecar names on disk.
    ``require = "off"`` skips all of it except for packages the policy pins a publisher
    for: those are signed by it or blocked, whatever ``require`` says. What absence means
    is decided by ``verify_artifact_signatures``.
    """

    def checked(run: ArtifactRun) -> bool:
        art = run.artifact
        if art is None or run.path is None or art.kind not in ("wheel", "sdist"):
            return False
        return wants_signatures(policy, art.name, art.version)

    todo = [r for r in runs if checked(r)]
    if not todo:
        return
    pages_of = {
        id(r): candidate_pages(r.artifact, indexes)
        for r in todo
        if r.artifact is not None and not r.artifact.url.startswith("file:")
    }
    pages = list(dict.fromkeys(p for ps in pages_of.values() for p in ps))
    page_errors: dict[str, str] = {}

    def json_page(url: str) -> tuple[str, Any]:
        from safe_pip.gate.fetch import FetchError
        from safe_pip.verify import sources
        from safe_pip.verify.index import JSON_ACCEPT

        try:
            return url, json.loads(fetcher.get(url, accept=JSON_ACCEPT))
        except ValueError:  # HTML, not PEP 691: this index has no JSON API
            return url, None
        except FetchError as exc:
            if sources.http_status(exc) not in sources.NO_JSON_STATUSES:
                page_errors[url] = str(exc)  # it might state a provenance we cannot see
            return url, None

    with (
        tempfile.TemporaryDirectory(prefix="safe-pip-sig-") as tmp,
        ThreadPoolExecutor(max_workers=WORKERS) as pool,
    ):
        docs = dict(pool.map(json_page, pages))
        list(
            pool.map(
                lambda pos, run: _verify_one(
                    run,
                    policy,
                    fetcher,
                    pages_of.get(id(run), []),
                    docs,
                    page_errors,
                    Path(tmp) / str(pos),
                ),
                range(len(todo)),
                todo,
            )
        )


def _verify_one(
    run: ArtifactRun,
    policy: Policy,
    fetcher: Fetcher,
    pages: Sequence[str],
    docs: Mapping[str, Any],
    page_errors: Mapping[str, str],
    scratch: Path,
) -> None:
    from safe_pip.verify import sources, verify_artifact_signatures

    art, path = run.artifact, run.path
    assert art is not None and path is not None
    if art.url.startswith("file:"):
        found = sources.local_sidecars(art.url)
    else:
        found = sources.remote_signatures(
            art.url,
            art.filename,
            run.sha256,
            [(p, docs.get(p), page_errors.get(p)) for p in pages],
            fetcher,
            scratch,
            project=art.name,
            version=art.version,
        )
    run.findings.extend(
        Finding(
            "SIG-INVALID",
            Severity.HIGH,
            f"a signature source for {art.filename} could not be read, so what it holds could "
            f"not be checked: {source}: {why}",
            art.filename,
            {"reason": "unavailable", "source": source},
        )
        for source, why in found.unreadable
    )
    pins = policy.for_package(art.name, art.version).publishers
    run.findings.extend(
        verify_artifact_signatures(
            path,
            name=art.name,
            version=art.version,
            sidecars=found.sidecars,
            provenance_json=found.provenance,
            expected=pins or (),
            pinned=pins is not None,
            require=policy.signatures.require,
            trusted_root=policy.signatures.trusted_root,
            filename=art.filename,
        )
    )
