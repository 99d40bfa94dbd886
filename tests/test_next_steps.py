"""Every block says what to do next, and the exception it offers really lifts the block.

The offered ``[[exception]]`` is written into the file the step names and loaded by the
real policy loader; ``decide`` then allows exactly that file.  Where the org policy does not
let the user except a rule, the step sends the user to the org policy instead.
"""

from __future__ import annotations

import datetime as dt
import re
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
