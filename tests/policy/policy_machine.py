"""A fake machine for policy tests: org file, user config home, project folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from safe_pip.gate.fetch import https_client
from safe_pip.policy import Policy, load_policy, resolve_policy
from safe_pip.policy.layering import MergeResult


@dataclass
class Machine:
    """A fake machine: org file, user config home, a project folder."""

    root: Path
    env: dict[str, str]

    @property
    def org(self) -> Path:
        return self.root / "etc" / "policy.toml"

    @property
    def user(self) -> Path:
        return self.root / "xdg" / "safe-pip" / "policy.toml"

    @property
    def project(self) -> Path:
        return self.root / "project"

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, cli: Path | None = None, cwd: Path | None = None) -> Policy:
        return load_policy(cli, cwd=cwd or self.project, env=self.env, http=https_client)

    def resolve(self, cli: Path | None = None, cwd: Path | None = None) -> MergeResult:
        return resolve_policy(cli, cwd=cwd or self.project, env=self.env, http=https_client)

    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env}
        return subprocess.run(
            [sys.executable, "-m", "safe_pip", "policy", *args],
            cwd=cwd or self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
