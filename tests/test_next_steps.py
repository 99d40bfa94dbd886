"""Every block says what to do next, and the exception it offers really lifts the block.

The offered ``[[exception]]`` is written into the file the step names and loaded by the
real policy loader; ``decide`` then allows exactly that file.  Where the org policy does not
let the user except a rule, the step sends the user to the org policy instead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from safe_pip import next_steps
from safe_pip.decide import decide
from safe_pip.models import Decision, Finding, Severity
from safe_pip.policy import Policy, load_policy

SHA = "ab" * 32
GADGET = Finding("PICKLE-GLOBAL-DANGEROUS", Severity.CRITICAL, "os.system", "m.whl!m/model.pt@2")
BROKEN = Finding("ZIP-CRC-MISMATCH", Severity.MEDIUM, "bad crc", "m.whl!m/data.bin")
TODAY = dt.date(2026, 1, 1)


def _env(tmp_path: Path, org: str | None = None) -> dict[str, str]:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    if org is not None:
        (tmp_path / "org.toml").write_text("version = 1\n" + org)
        env["SAFE_PIP_ORG_POLICY"] = str(tmp_path / "org.toml")
    return env


def _blocked(*findings: Finding) -> next_steps.Blocked:
    url = "https://user:s3cret@mirror.example:8443/simple/"
    return next_steps.Blocked(findings, "modelzoo", "1.0", SHA, url)


def test_a_gadget_block_explains_reports_and_offers_a_working_exception(tmp_path: Path) -> None:
    env = _env(tmp_path)
    policy = load_policy(cwd=tmp_path, env=env)
    steps = next_steps.lines(_blocked(GADGET, BROKEN), policy, env=env, today=TODAY)
    text = "\n".join(steps)
    assert steps[0] == (
        "PICKLE-GLOBAL-DANGEROUS: Pickle imports a known code-execution gadget: "
        "safe-pip policy explain PICKLE-GLOBAL-DANGEROUS"
    )
    assert "safe-pip policy explain ZIP-CRC-MISMATCH" in steps[1]
    assert "may be malicious" in steps[2]
    assert "(https://mirror.example:8443)" in steps[2] and "s3cret" not in text
    user_file = tmp_path / "config" / "safe-pip" / "policy.toml"
    assert f"add to your user policy {user_file}:" in steps[3]
    assert "expires = 2026-01-31" in text and f'sha256 = "{SHA}"' in text

    toml = steps[3].split(":\n", 1)[1]
    user_file.parent.mkdir(parents=True)
    user_file.write_text("version = 1\n" + toml + "\n")
    excepted = load_policy(cwd=tmp_path, env=env)

    def verdict(sha256: str) -> Decision:
        return decide(
            [GADGET, BROKEN], target="m.whl", policy=excepted, package="modelzoo",
            version="1.0", sha256=sha256, today=TODAY,
        ).decision  # fmt: skip

    assert verdict(SHA) is Decision.ALLOW
    assert verdict("cd" * 32) is Decision.BLOCK  # bound to the exact file


def test_an_accident_is_not_called_malicious(tmp_path: Path) -> None:
    steps = next_steps.lines(_blocked(BROKEN), Policy(), env=_env(tmp_path), today=TODAY)
    assert not any("malicious" in s for s in steps)


def test_rules_the_org_keeps_to_itself_go_to_the_org_policy(tmp_path: Path) -> None:
    env = _env(tmp_path, 'lower_exceptions = ["PICKLE-GLOBAL-UNKNOWN"]\n')
    policy = load_policy(cwd=tmp_path, env=env)
    (step,) = [s for s in next_steps.lines(_blocked(GADGET), policy, env=env) if "[[exc" in s]
    assert f"the org policy {tmp_path / 'org.toml'} (its lower_exceptions" in step
    env = _env(tmp_path, "locked = true\n")
    policy = load_policy(cwd=tmp_path, env=env)
    (step,) = [s for s in next_steps.lines(_blocked(GADGET), policy, env=env) if "[[exc" in s]
    assert re.search(r"the org policy \S+org\.toml \(it is locked; ask its owner\)", step)


def test_a_denied_name_offers_no_exception(tmp_path: Path) -> None:
    denied = Finding("NAME-DENIED", Severity.CRITICAL, "denied", "m.whl")
    steps = next_steps.lines(_blocked(denied), Policy(), env=_env(tmp_path))
    assert steps == (
        "NAME-DENIED: Package name is on the deny list: safe-pip policy explain NAME-DENIED",
    )


def _refused(key: str) -> Finding:
    """A build refusal as the resolver makes it: it names the switch that refused it."""
    detail = {"policy_key": f"install.{key}", "project": "srcproj"}
    return Finding("SDIST-REFUSED", Severity.HIGH, "srcproj-1.0.tar.gz", "srcproj", detail)


def _setting_step(steps: tuple[str, ...]) -> str:
    (step,) = [s for s in steps if s.startswith("allow this by policy?")]
    return step


def test_a_refused_build_offers_the_switch_and_pasting_it_allows_the_build(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    policy = load_policy(cwd=tmp_path, env=env)
    assert policy.install.allow_sdist is False
    blocked = next_steps.Blocked((_refused("allow_sdist"),))  # no package: resolution refused
    step = _setting_step(next_steps.lines(blocked, policy, env=env, today=TODAY))
    user_file = tmp_path / "config" / "safe-pip" / "policy.toml"
    assert step == f"allow this by policy? put in your user policy {user_file}:\n" + (
        "[install]\nallow_sdist = true"
    )
    user_file.parent.mkdir(parents=True)
    user_file.write_text("version = 1\n" + step.split(":\n", 1)[1] + "\n")
    assert load_policy(cwd=tmp_path, env=env).install.allow_sdist is True
    # A local tree is refused by its own switch, and that is the one offered.
    off = replace(policy, install=replace(policy.install, local_builds=False))
    step = _setting_step(next_steps.lines(next_steps.Blocked((_refused("local_builds"),)), off))
    assert step.endswith(":\n[install]\nlocal_builds = true")


def test_a_switch_set_above_the_user_is_sent_to_the_file_that_set_it(tmp_path: Path) -> None:
    env = _env(tmp_path, "[install]\nallow_sdist = false\n")
    policy = load_policy(cwd=tmp_path, env=env)
    step = _setting_step(next_steps.lines(next_steps.Blocked((_refused("allow_sdist"),)), policy))
    assert f"the org policy {tmp_path / 'org.toml'} (it sets install.allow_sdist;" in step
    project = tmp_path / "proj"
    project.mkdir()
    (project / "safe-pip.toml").write_text("version = 1\n[install]\nallow_sdist = false\n")
    policy = load_policy(cwd=project, env=_env(tmp_path / "home"))
    step = _setting_step(next_steps.lines(next_steps.Blocked((_refused("allow_sdist"),)), policy))
    assert step.startswith(f"allow this by policy? put in {project / 'safe-pip.toml'}:")


def test_index_confusion_asks_which_index_and_does_not_choose_for_the_user(
    tmp_path: Path,
) -> None:
    sources = ["https://internal.example/simple/", "https://mirror.example/simple/"]
    detail = {"policy_key": "package.index", "project": "corp-utils", "sources": sources}
    confusion = Finding("INDEX-CONFUSION", Severity.HIGH, "two sources", "c.whl", detail)
    steps = next_steps.lines(_blocked(confusion), Policy(), env=_env(tmp_path), today=TODAY)
    toml = _setting_step(steps).split(":\n", 1)[1]
    assert toml.splitlines() == [
        f"# the one index corp-utils may come from: {sources[0]} or {sources[1]}",
        "[[package]]",
        'name = "corp-utils"',
        'index = "CHOOSE-ONE"',
    ]


def test_a_setting_without_one_obvious_value_offers_no_snippet(tmp_path: Path) -> None:
    young = Finding("X", Severity.HIGH, "too new", "m.whl", {"policy_key": "install.min_age"})
    assert not any(
        s.startswith("allow this by policy?")
        for s in next_steps.lines(_blocked(young), Policy(), env=_env(tmp_path), today=TODAY)
    )
