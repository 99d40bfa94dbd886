"""Each key declared once: the declarations drive parsing, merging, show and the digest.

And TOML keys are paths: a quoted key containing a dot is one key, never a second
spelling of a nested one (issue 18).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safe_pip.errors import PolicyError
from safe_pip.policy import Policy, check_files
from safe_pip.policy.keys import walk
from safe_pip.policy.layering import merge
from safe_pip.policy.parse import parse_text
from safe_pip.policy.show import render
from tests.policy.policy_machine import Machine

FULL = """\
version = 1
locked = true
lower_exceptions = ["PICKLE-GLOBAL-UNKNOWN"]

[names]
deny = ["evil-*", "other"]
allow = ["reqeusts"]
typosquat = "warn"

[index]
allowed = ["https://mirror.example/simple/"]

[install]
allow_sdist = true
min_age = "36h"
yanked = "warn"
local_builds = false

[hashes]
require = "pinned"

[signatures]
require = "listed"
trusted_root = "root.json"

[scan]
allow_globals = ["acme.*"]
unknown_globals = "warn"

[scan.limits]
depth = 4
members = 1000
bytes = "2GiB"
member_bytes = "512MiB"
ratio = 50.5
pickle_opcodes = 1000000
time = "2m"

[audit]
log = "audit.jsonl"

[network]
connect_timeout = 5
read_timeout = "30s"
deadline = "5m"
max_download = "1GiB"
max_page = "8MiB"

[enforcement]
escape_hatch = true
gate_download = true
mode = "pilot"

[intel]
source = "https://osv.mirror.example/PyPI/all.zip"
vulnerabilities = "block-high"
max_age = "1d"
on_stale = "block"

[[package]]
name = "torch"
versions = ">=2,<3"
hashes = ["{a}"]
publisher = [
  "github:pytorch/pytorch@release.yml#pypi",
  {{ identity = "x@y.z", issuer = "https://idp.example" }},
]
allow_globals = ["torch.nn.Module"]
index = "https://download.example/whl/cpu"

[[exception]]
package = "legacy"
rule = "PICKLE-GLOBAL-UNKNOWN"
reason = "reviewed"
expires = 2099-01-01
version = "1.0"
sha256 = "{b}"
advisory = "GHSA-0000-0000-0000"
""".format(a="a" * 64, b="b" * 64)


def parsed(text: str, path: Path) -> Policy:
    layer, problems = parse_text(text, path, "org")
    assert problems == [] and layer is not None, problems
    return merge([layer]).policy


def test_every_declared_setting_is_read_shown_and_digested(tmp_path: Path) -> None:
    """A file setting every key differs from the default in each of them, and show says so."""
    policy = parsed(FULL, tmp_path / "org.toml")
    default = Policy()
    shown = render(policy)
    for m in walk(Policy):
        if m.meta.kind != "setting":
            continue
        section, _, _ = m.key.rpartition(".")
        value, base = policy, default
        for part in m.key.split("."):
            value, base = getattr(value, part), getattr(base, part)
        assert value != base, f"{m.key} was not read from the file"
        assert policy.origin(m.key).line is not None, m.key
        assert f"\n{m.name} = " in shown, f"{m.key} missing from policy show"
        if section:
            assert f"\n[{section}]\n" in shown
    assert policy.digest() != default.digest()


def test_show_is_a_faithful_single_layer_policy(tmp_path: Path) -> None:
    """``policy show > file`` reads back as the same policy (same digest, same rules)."""
    policy = parsed(FULL, tmp_path / "org.toml")
    flat = tmp_path / "flat.toml"
    flat.write_text(render(policy), encoding="utf-8")
    assert check_files([flat]) == []
    again = parsed(flat.read_text(encoding="utf-8"), flat)
    assert again == policy and again.digest() == policy.digest()
    pubs = again.for_package("torch", "2.1").publishers
    assert pubs is not None and [p.kind for p in pubs] == ["github", "identity"]


def test_a_changed_key_changes_the_digest(tmp_path: Path) -> None:
    base = parsed(FULL, tmp_path / "org.toml").digest()
    changed = FULL.replace("depth = 4", "depth = 5")
    assert parsed(changed, tmp_path / "org.toml").digest() != base


# -- TOML keys are paths ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (
            'version = 1\ninstall = { allow_sdist = false }\n"install.allow_sdist" = true\n',
            3,
            "install.allow_sdist",
        ),
        (
            'version = 1\n[install]\nallow_sdist = false\n[scan]\n"limits.depth" = 99\n',
            5,
            "limits.depth",
        ),
        ("version = 1\n'enforcement.escape_hatch' = true\n", 2, "enforcement.escape_hatch"),
    ],
)
def test_a_quoted_key_with_a_dot_is_one_unknown_key(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    (problem,) = check_files([path])
    assert problem.line == line
    assert f"unknown key {key!r}" in problem.message
    assert "a quoted key is one name, not a path" in problem.message


def test_dotted_and_quoted_single_names_still_work(tmp_path: Path) -> None:
    """Unquoted dotted keys are paths, and quoting a plain name changes nothing."""
    text = 'version = 1\ninstall.min_age = "2d"\n[names]\n"typosquat" = "warn"\n'
    policy = parsed(text, tmp_path / "p.toml")
    assert policy.install.min_age == dt.timedelta(days=2)
    assert policy.names.typosquat == "warn"


def test_the_quoted_key_cannot_loosen_the_users_policy(machine: Machine) -> None:
    """The attack: every other TOML reader sees allow_sdist = false; safe-pip must too."""
    machine.write(
        machine.user,
        'version = 1\ninstall = { allow_sdist = false }\n"install.allow_sdist" = true\n',
    )
    with pytest.raises(PolicyError, match=rf"{machine.user}:3: unknown key 'install.allow_sdist'"):
        machine.load()
    checked = machine.cli("check", str(machine.user))
    assert checked.returncode == 1 and f"{machine.user}:3" in checked.stderr


def test_quoted_key_in_pyproject_is_refused_with_its_line(machine: Machine) -> None:
    machine.write(
        machine.project / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.safe-pip]\nversion = 1\n"signatures.require" = "off"\n',
    )
    with pytest.raises(PolicyError, match=r"pyproject.toml:6: unknown key 'signatures.require'"):
        machine.load()


def test_a_table_key_with_a_scalar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('version = 1\nnames = "evil"\n', encoding="utf-8")
    (problem,) = check_files([path])
    assert problem.line == 2 and "[names] must be a table" in problem.message
