"""Identity and origin: a project on more than one index (dependency confusion)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_pip.gate.fetch import Fetcher
from safe_pip.gate.resolve import ResolveError
from safe_pip.gate.target import Target
from tests.support.index_server import IndexServer
from tests.support.install_requests import picked, request, run
from tests.support.wheels import build_wheel


def test_torchtriton_higher_version_on_extra_index_is_a_finding(
    index: IndexServer, extra: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    """The PyTorch-nightly shape: the primary has the real one, a public extra index a higher
    version of the same name. pip would silently take the extra's; safe-pip says so."""
    index.add(build_wheel(tmp_path / "real", "torchtriton", "2.0.0", requires=[]))
    index.add(build_wheel(tmp_path / "real", "nightly", "1.0", requires=["torchtriton"]))
    extra.add(build_wheel(tmp_path / "evil", "torchtriton", "3.0.0"))
    res = run(request("nightly", index=index.simple_url, extra=[extra.simple_url]), here, fetcher)
    art = next(a for a in res.artifacts if a.name == "torchtriton")
    assert art.version == "3.0.0" and art.index_url == extra.simple_url
    (finding,) = art.findings
    assert finding.rule_id == "INDEX-CONFUSION" and finding.severity.name == "HIGH"
    assert finding.detail["sources"] == [index.simple_url, extra.simple_url]
    assert res.offered_by["torchtriton"] == (index.simple_url, extra.simple_url)
    assert not next(a for a in res.artifacts if a.name == "nightly").findings


def test_policy_pin_decides_the_index_and_ignores_the_other(
    index: IndexServer, extra: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "real", "torchtriton", "2.0.0"))
    extra.add(build_wheel(tmp_path / "evil", "torchtriton", "3.0.0"))
    req = request("torchtriton", index=index.simple_url, extra=[extra.simple_url])
    res = run(req, here, fetcher, index_pins={"TorchTriton": index.simple_url.rstrip("/")})
    (art,) = res.artifacts
    assert (art.version, art.index_url, art.findings) == ("2.0.0", index.simple_url, ())
    assert res.offered_by["torchtriton"] == (index.simple_url, extra.simple_url)
    # Pinned to an index that does not have it: nothing else is considered.
    with pytest.raises(ResolveError):
        run(
            request("torchtriton", index=index.simple_url),
            here,
            fetcher,
            index_pins={"torchtriton": "http://127.0.0.1:9/simple/"},
        )


def test_identical_file_on_two_indexes_is_a_mirror_not_confusion(
    index: IndexServer, extra: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "w", "requests2", "1.0")
    index.add(wheel)
    extra.add(wheel)
    (art,) = run(
        request("requests2", index=index.simple_url, extra=[extra.simple_url]), here, fetcher
    ).artifacts
    assert art.findings == ()
    assert art.offered_by == (index.simple_url, extra.simple_url)
    assert art.index_url == index.simple_url  # the primary's copy, pip's order


def test_same_file_name_with_other_bytes_is_confusion(
    index: IndexServer, extra: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "a", "lib", "1.0"))
    extra.add(build_wheel(tmp_path / "b", "lib", "1.0", summary="other bytes"))
    (art,) = run(
        request("lib", index=index.simple_url, extra=[extra.simple_url]), here, fetcher
    ).artifacts
    assert [f.rule_id for f in art.findings] == ["INDEX-CONFUSION"]


def test_mirror_that_lacks_the_chosen_version_is_confusion(
    index: IndexServer, extra: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    """Nothing tells a lagging mirror from an attacker's higher version: the policy must."""
    old = build_wheel(tmp_path / "w", "lib", "1.0")
    index.add(old)
    extra.add(old)
    extra.add(build_wheel(tmp_path / "w", "lib", "1.1"))
    (art,) = run(
        request("lib", index=index.simple_url, extra=[extra.simple_url]), here, fetcher
    ).artifacts
    assert art.version == "1.1" and [f.rule_id for f in art.findings] == ["INDEX-CONFUSION"]
    # Pinned by the user to the version both serve identically: no confusion.
    (art,) = run(
        request("lib==1.0", index=index.simple_url, extra=[extra.simple_url]), here, fetcher
    ).artifacts
    assert art.findings == ()


def test_find_links_counts_as_a_source(
    index: IndexServer, here: Target, fetcher: Fetcher, tmp_path: Path
) -> None:
    index.add(build_wheel(tmp_path / "i", "lib", "1.0"))
    links = tmp_path / "links"
    build_wheel(links, "lib", "0.9")
    res = run(request("lib", index=index.simple_url, find_links=[str(links)]), here, fetcher)
    (art,) = res.artifacts
    assert art.version == "1.0" and [f.rule_id for f in art.findings] == ["INDEX-CONFUSION"]
    assert picked(
        run(
            request("lib", index=index.simple_url, find_links=[str(links)]),
            here,
            fetcher,
            index_pins={"lib": str(links)},
        )
    ) == {"lib": "0.9"}


def test_policy_keys_reach_the_resolver_and_the_fetcher(
    index: IndexServer, extra: IndexServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    """``[[package]] index`` pins the source; ``[network]`` bounds become the fetcher's."""
    from safe_pip.gate.fetch import bounds_from_policy
    from safe_pip.gate.resolve import index_pins, make_resolver
    from safe_pip.policy import load_policy
    from tests.support.venvs import isolated_env

    index.add(build_wheel(tmp_path / "real", "torchtriton", "2.0.0"))
    extra.add(build_wheel(tmp_path / "evil", "torchtriton", "3.0.0"))
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        'version = 1\n[network]\nmax_page = "1MiB"\ndeadline = 30\n'
        f'[[package]]\nname = "torchtriton"\nindex = "{index.simple_url}"\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    policy = load_policy(policy_file, cwd=tmp_path, env=isolated_env(home))
    assert index_pins(policy.packages) == {"torchtriton": index.simple_url}
    bounds = bounds_from_policy(policy.network)
    assert (bounds.max_page, bounds.deadline) == (1 << 20, 30)
    import sys

    resolve = make_resolver(Path(sys.executable), fetcher, packages=policy.packages)
    res = resolve(request("torchtriton", index=index.simple_url, extra=[extra.simple_url]))
    assert picked(res) == {"torchtriton": "2.0.0"} and res.artifacts[0].findings == ()


def test_two_different_pins_for_one_project_fail_closed() -> None:
    from safe_pip.gate.resolve import index_pins
    from safe_pip.policy.model import PackageRule

    with pytest.raises(ResolveError, match="two indexes"):
        index_pins(
            [PackageRule("x", index="https://a/simple"), PackageRule("x", index="https://b/")]
        )
