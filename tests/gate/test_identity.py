"""Identity: requested name, file name and METADATA must agree; name rules see every name.

Real wheels (and an sdist) are built on disk and run through the verify stage in process,
with the policy the user would have: the checks read the quarantined bytes exactly as the
pipeline does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from safe_pip.gate.fetch import Fetcher, Quarantine
from safe_pip.gate.inputs import IndexSettings, InstallRequest, ResolveOptions
from safe_pip.gate.resolve import ResolvedArtifact
from safe_pip.gate.state import ArtifactRun
from safe_pip.gate.verify import verify_all
from safe_pip.policy.model import NamePattern, NamesPolicy, Policy
from tests.support.wheels import build_sdist, build_wheel, sha256_file


def relabel(wheel: Path, *, name: str | None = None, version: str | None = None) -> Path:
    """The same wheel with another Name/Version inside its METADATA."""
    out = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".dist-info/METADATA"):
                lines = data.decode().splitlines()
                if name is not None:
                    lines = [f"Name: {name}" if ln.startswith("Name:") else ln for ln in lines]
                if version is not None:
                    lines = [
                        f"Version: {version}" if ln.startswith("Version:") else ln for ln in lines
                    ]
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(info, data)
    out.replace(wheel)
    return wheel


def strip_metadata(wheel: Path) -> Path:
    out = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("/METADATA"):
                dst.writestr(info, src.read(info))
    out.replace(wheel)
    return wheel


def check(
    path: Path,
    *,
    name: str,
    version: str = "1.0",
    requested_as: str | None = None,
    policy: Policy | None = None,
    tmp: Path,
) -> list[str]:
    art = ResolvedArtifact(
        name=name,
        version=version,
        filename=path.name,
        url=path.as_uri(),
        kind="wheel" if path.name.endswith(".whl") else "sdist",
        index_url=None,
        requested_as=requested_as,
    )
    run = ArtifactRun(artifact=art, label=path.name, path=path, sha256=sha256_file(path))
    request = InstallRequest((), (), IndexSettings(None), ResolveOptions())
    fetcher = Fetcher(Quarantine(tmp / "q"))
    try:
        verify_all([run], request=request, policy=policy or Policy(), fetcher=fetcher)
    finally:
        fetcher.close()
    # Only what identity and name rules say (signature checks have their own tests).
    return sorted({f.rule_id for f in run.findings if f.rule_id.startswith(("INSTALL-", "NAME-"))})


def test_agreeing_wheel_has_no_identity_finding(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "goodpkg", "1.0")
    assert check(wheel, name="goodpkg", requested_as="GoodPkg", tmp=tmp_path) == []


def test_metadata_naming_another_project_blocks(tmp_path: Path) -> None:
    wheel = relabel(build_wheel(tmp_path / "w", "goodpkg", "1.0"), name="otherpkg")
    assert check(wheel, name="goodpkg", requested_as="goodpkg", tmp=tmp_path) == [
        "INSTALL-IDENTITY-MISMATCH"
    ]


def test_metadata_naming_another_release_blocks(tmp_path: Path) -> None:
    wheel = relabel(build_wheel(tmp_path / "w", "goodpkg", "1.0"), version="2.0")
    assert check(wheel, name="goodpkg", tmp=tmp_path) == ["INSTALL-IDENTITY-MISMATCH"]


def test_equal_versions_spelled_differently_agree(tmp_path: Path) -> None:
    wheel = relabel(build_wheel(tmp_path / "w", "goodpkg", "1.0"), version="1.0.0")
    assert check(wheel, name="goodpkg", tmp=tmp_path) == []


def test_requested_name_differing_from_the_file_blocks(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "goodpkg", "1.0")
    assert check(wheel, name="goodpkg", requested_as="otherpkg", tmp=tmp_path) == [
        "INSTALL-IDENTITY-MISMATCH"
    ]


def test_wheel_without_metadata_blocks(tmp_path: Path) -> None:
    wheel = strip_metadata(build_wheel(tmp_path / "w", "goodpkg", "1.0"))
    assert check(wheel, name="goodpkg", tmp=tmp_path) == ["INSTALL-IDENTITY-MISMATCH"]


@pytest.mark.parametrize("where", ["metadata", "requested"])
def test_deny_list_sees_every_name_the_artifact_carries(tmp_path: Path, where: str) -> None:
    """A denied name hiding in METADATA (what pip installs) or in the request is found
    even though the resolver's name is an innocent one."""
    wheel = build_wheel(tmp_path / "w", "goodpkg", "1.0")
    if where == "metadata":
        relabel(wheel, name="shadylib")
    policy = Policy(names=NamesPolicy(deny=(NamePattern("shady*"),)))
    requested = "shadylib" if where == "requested" else "goodpkg"
    rules = check(wheel, name="goodpkg", requested_as=requested, policy=policy, tmp=tmp_path)
    assert rules == ["INSTALL-IDENTITY-MISMATCH", "NAME-DENIED"]


def test_typosquat_in_metadata_is_found(tmp_path: Path) -> None:
    wheel = relabel(build_wheel(tmp_path / "w", "goodpkg", "1.0"), name="torchvision-optimized")
    rules = check(wheel, name="goodpkg", requested_as="goodpkg", tmp=tmp_path)
    assert rules == ["INSTALL-IDENTITY-MISMATCH", "NAME-TYPOSQUAT"]


def test_sdist_pkg_info_is_read(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "w", "sourceonly", "1.0")
    assert check(sdist, name="sourceonly", tmp=tmp_path) == []
    assert check(sdist, name="sourceonly", version="2.0", tmp=tmp_path) == [
        "INSTALL-IDENTITY-MISMATCH"
    ]
