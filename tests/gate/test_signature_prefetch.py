"""Signature discovery's requests started early (``gate/verify.py: SignaturePrefetch``).

Against a real index on 127.0.0.1: the prefetch asks exactly what discovery would ask, once,
and discovery afterwards reads those answers instead of asking again, with the same
findings as without the prefetch (a present, unverifiable sidecar still blocks). A policy
that checks no signature gets no requests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from safe_pip.gate.fetch import Fetcher, NetSettings, Quarantine
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.state import ArtifactRun
from safe_pip.gate.verify import SignaturePrefetch, verify_signatures
from safe_pip.policy.model import Policy
from safe_pip.verify.sources import probe_urls
from tests.support.index_server import IndexServer
from tests.support.wheels import build_wheel


def served(index: IndexServer, tmp_path: Path) -> tuple[Path, str, str]:
    wheel = build_wheel(tmp_path / "w", "signedpkg", "1.0")
    entry = index.add(wheel, metadata=False)
    # A sidecar that is there but holds no valid bundle: must still be read and judged.
    index.documents[f"/files/{wheel.name}.sigstore.json"] = b"{}"
    return wheel, entry.sha256, f"{index.url}/files/{wheel.name}"


def run_for(index: IndexServer, wheel: Path, sha: str, url: str) -> ArtifactRun:
    art = ResolvedArtifact(
        name="signedpkg",
        version="1.0",
        url=f"{url}#sha256={sha}",
        filename=wheel.name,
        kind="wheel",
        index_url=index.simple_url,
        page_url=f"{index.simple_url}signedpkg/",
        requested_as="signedpkg",
        hashes={"sha256": sha},
    )
    return ArtifactRun(artifact=art, label=wheel.name, path=wheel, sha256=sha)


def findings(run: ArtifactRun) -> list[tuple[str, object]]:
    return [(f.rule_id, f.detail.get("source")) for f in run.findings]


def test_prefetched_answers_are_the_ones_discovery_uses(
    index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    wheel, sha, url = served(index, tmp_path)
    policy = Policy()
    plain = run_for(index, wheel, sha, url)
    verify_signatures([plain], policy, fetcher, (index.simple_url,))
    asked_plainly = sorted(index.requests)

    index.requests.clear()
    with Fetcher(Quarantine(tmp_path / "q2"), NetSettings()) as fresh:
        prefetch = SignaturePrefetch(fresh, policy, (index.simple_url,))
        prefetch.fetched(url, wheel.name)
        prefetch.close()
        early = sorted(
            probe_urls(url, wheel.name, [f"{index.simple_url}signedpkg/"], "signedpkg", "1.0")
        )
        again = run_for(index, wheel, sha, url)
        verify_signatures([again], policy, fresh, (index.simple_url,))
    assert findings(again) == findings(plain)
    assert any(rule == "SIG-INVALID" for rule, _ in findings(again))
    # Every probe once; the page discovery reads for PEP 691 is the only other request.
    assert sorted(index.requests) == asked_plainly
    assert {index.url + r for r in index.requests} >= set(early)
    assert len(index.requests) == len(set(index.requests))


def test_no_requests_when_nothing_would_be_asked(
    index: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    wheel, _sha, url = served(index, tmp_path)
    off = dataclasses.replace(
        Policy(), signatures=dataclasses.replace(Policy().signatures, require="off")
    )
    unchecked = SignaturePrefetch(fetcher, off, (index.simple_url,))
    unchecked.fetched(url, wheel.name)  # the policy checks no signature here
    unchecked.close()
    prefetch = SignaturePrefetch(fetcher, Policy(), (index.simple_url,))
    prefetch.fetched("file:///somewhere/" + wheel.name, wheel.name)  # sidecars on disk
    prefetch.fetched(url, "not-a-wheel-name.txt")  # not a file discovery would look up
    prefetch.close()
    prefetch.fetched(url, wheel.name)  # closed: the run's discovery asks for itself
    assert index.requests == []
