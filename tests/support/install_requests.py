"""Building an :class:`InstallRequest` in one line, for the resolver's tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packaging.requirements import Requirement

from safe_pip.gate.fetch import Fetcher
from safe_pip.gate.inputs import IndexSettings, InstallRequest, RequirementInput, ResolveOptions
from safe_pip.gate.resolve import Resolution, resolve
from safe_pip.gate.target import Target


def request(
    *reqs: str,
    index: str | None = None,
    extra: Sequence[str] = (),
    find_links: Sequence[str] = (),
    no_index: bool = False,
    constraints: Sequence[str] = (),
    hashes: dict[str, frozenset[str]] | None = None,
    **options: Any,
) -> InstallRequest:
    hashes = hashes or {}
    return InstallRequest(
        requirements=tuple(
            RequirementInput(
                Requirement(r), "test", hashes=hashes.get(Requirement(r).name, frozenset())
            )
            for r in reqs
        ),
        constraints=tuple(RequirementInput(Requirement(c), "constraints.txt") for c in constraints),
        index=IndexSettings(
            index_url=index,
            extra_index_urls=tuple(extra),
            find_links=tuple(find_links),
            no_index=no_index,
        ),
        options=ResolveOptions(**options),
    )


def picked(resolution: Resolution) -> dict[str, str]:
    return {a.name: a.version for a in resolution.artifacts}


def run(req: InstallRequest, target: Target, fetcher: Fetcher, **kwargs: object) -> Resolution:
    return resolve(req, target, fetcher, **kwargs)  # type: ignore[arg-type]
