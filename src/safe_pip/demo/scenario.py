"""``safe-pip demo``: the real gate, one clean install and one blocked attack, offline.

A newcomer's first command must show the gate at work, and ``safe-pip install requests``
proves nothing (requests is one of safe-pip's own dependencies: "nothing to do").  So
the demo sets up everything in a throwaway folder — two real wheels, a package index on
127.0.0.1, a fresh virtual environment — and runs the real ``safe-pip install`` twice,
showing its real output: the clean wheel is vetted and installed, the seed attack
(``torchvision-optimized`` carrying a ``model.pt`` whose pickle would run a command) is
blocked.  Then it checks what it claims: the clean one is installed, the attack is not,
and the pickle's command never ran.

The child runs are isolated from this machine's settings, so the demo shows safe-pip's
built-in default policy whatever the machine has: pip's configuration is switched off
(``PIP_CONFIG_FILE`` = ``os.devnull``, no ``PIP_*`` variables), the org policy is the
shipped default written into the folder, and ``HOME``/``XDG_*`` point inside it (no user
policy, a separate verdict cache and quarantine, its own audit log).  Nothing reaches
beyond 127.0.0.1, so it works offline.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from safe_pip.demo.artifacts import build_wheel, evil_wheel
from safe_pip.demo.index import LocalIndex, write_index
from safe_pip.errors import SafePipError

CLEAN = ("hello-gate", "1.0")
ATTACK = ("torchvision-optimized", "0.1")
EXPECTED_RULE = "PICKLE-GLOBAL-DANGEROUS"
"""The finding the attack must be blocked by: its pickle imports ``os.system``."""


class DemoError(SafePipError):
    """The demo could not set itself up (no ``venv`` module, a full disk): exit 2."""


@dataclass
class Outcome:
    """What the demo saw, checked against what it claims."""

    checks: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> None:
        self.checks.append((ok, text))

    @property
    def as_designed(self) -> bool:
        return bool(self.checks) and all(ok for ok, _ in self.checks)


class Narrator:
    """The demo's own lines on ``out``: numbered steps, indented details, ✓ and ✗."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self.steps = 0

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, text: str) -> None:
        self.steps += 1
        self.say(self._paint(f"{self.steps}. {text}", "1"))

    def detail(self, text: str) -> None:
        self.say(f"   {text}")

    def command(self, argv: Sequence[str]) -> None:
        self.say(self._paint("   $ " + shlex.join(argv), "2"))

    def check(self, ok: bool, text: str) -> None:
        mark = self._paint("✓", "32") if ok else self._paint("✗", "31")
        self.say(f"   {mark} {text}")


def child_env(folder: Path, org_policy: Path) -> dict[str, str]:
    """This process's environment minus every setting that would change the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SAFE_PIP_"))}
    env.pop("VIRTUAL_ENV", None)
    home = folder / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        SAFE_PIP_ORG_POLICY=str(org_policy),
    )
    return env


def demo_policy(folder: Path) -> Path:
    """The shipped default policy, with the audit log kept inside the folder."""
    from safe_pip.policy import shipped_policy_text

    path = folder / "policy.toml"
    log = json.dumps(str(folder / "audit.jsonl"))  # a TOML basic string
    path.write_text(shipped_policy_text("default") + f"\n[audit]\nlog = {log}\n", "utf-8")
    return path


@contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """The throwaway folder (kept with ``--keep``, for a look at what the demo made)."""
    if keep:
        yield Path(tempfile.mkdtemp(prefix="safe-pip-demo-"))
        return
    with tempfile.TemporaryDirectory(prefix="safe-pip-demo-") as tmp:
        yield Path(tmp)


def _make_venv(folder: Path, env: dict[str, str]) -> Path:
    venv = folder / "venv"
    proc = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DemoError(
            "could not create a virtual environment with "
            f"'{sys.executable} -m venv' ({detail[-1] if detail else 'no output'}); on "
            "Debian and Ubuntu the venv module is the python3-venv package"
        )
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed(python: Path, env: dict[str, str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise DemoError(f"could not list the demo environment: {proc.stderr.strip()}")
    found: dict[str, str] = json.loads(proc.stdout)
    return found


def _blocking_rules(report: Path) -> set[str]:
    """Rule ids of the blocking findings in a ``--report`` JSON file."""
    try:
        doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {
        f["rule_id"]
        for s in doc.get("targets", [])
        for f in s.get("findings", [])
        if f.get("blocking")
    }


def _gate(
    say: Narrator, folder: Path, env: dict[str, str], python: Path, url: str, name: str
) -> tuple[int, set[str]]:
    """One real ``safe-pip install``; its report goes to our stdout as it would for a user."""
    report = folder / f"{name}.json"
    shown = ["safe-pip", "install", "--python", str(python), "--index-url", url, name]
    argv = [sys.executable, "-m", "safe_pip", "install", "--report", str(report), *shown[2:]]
    say.command(shown)
    say.out.flush()
    code = subprocess.run(argv, env=env, cwd=folder, stdin=subprocess.DEVNULL).returncode
    return code, _blocking_rules(report)


def _expect(say: Narrator, outcome: Outcome, ok: bool, seen: str, wanted: str) -> None:
    """Record one claim and show it: ``✓ seen``, or ``✗ seen (expected wanted)``."""
    text = seen if ok or not wanted else f"{seen} (expected {wanted})"
    outcome.check(ok, text)
    say.check(ok, text if wanted or ok else f"not true: {seen}")


def run(say: Narrator, *, keep: bool = False) -> Outcome:
    """Set up, install the clean wheel, block the attack, check, clean up."""
    outcome = Outcome()
    with workspace(keep) as folder:
        say.say(f"safe-pip demo: the install gate at work, in a throwaway folder {folder}")
        say.say("(nothing leaves 127.0.0.1; your own pip and safe-pip settings are not read)")
        say.say()
        marker = folder / "PWNED"
        wheels = folder / "wheels"
        clean = build_wheel(wheels, *CLEAN, summary="a clean package")
        attack = evil_wheel(wheels, marker, *ATTACK)
        say.step("Built two real wheels")
        say.detail(f"{clean.name}: a clean package")
        say.detail(f"{attack.name}: the seed attack, a typosquat of torchvision whose")
        say.detail(f"model.pt is a pickle that runs `touch {marker}` when loaded")
        write_index(folder / "index", [clean, attack])
        env = child_env(folder, demo_policy(folder))
        with LocalIndex(folder / "index") as index:
            say.step(f"Serving them from a package index at {index.simple_url}")
            say.step("Creating a fresh virtual environment to install into")
            python = _make_venv(folder, env)
            say.detail(str(python))
            say.step(f"Installing {CLEAN[0]} through the gate (resolve, fetch, verify, scan)")
            code, _ = _gate(say, folder, env, python, index.simple_url, CLEAN[0])
            _expect(say, outcome, code == 0, f"exit {code}", "0: allowed and installed")
            say.step(f"Installing {ATTACK[0]} through the gate")
            code, rules = _gate(say, folder, env, python, index.simple_url, ATTACK[0])
            why = f"exit {code}, blocked by {', '.join(sorted(rules)) or 'nothing'}"
            wanted = f"1: blocked by policy ({EXPECTED_RULE} among the reasons)"
            _expect(say, outcome, code == 1 and EXPECTED_RULE in rules, why, wanted)
        say.step("Checking what happened to the environment")
        present = _installed(python, env)
        for ok, text in (
            (present.get(CLEAN[0]) == CLEAN[1], f"{CLEAN[0]} {CLEAN[1]} is installed"),
            (ATTACK[0] not in present, f"{ATTACK[0]} is not installed"),
            (not marker.exists(), f"the pickle's command never ran (no {marker.name} file)"),
        ):
            _expect(say, outcome, ok, text, "")
        say.say()
        if keep:
            say.say(f"Kept {folder} (--keep): the index, the venv and the audit log are there.")
        else:
            say.say(f"Removed {folder}.")
    return outcome
