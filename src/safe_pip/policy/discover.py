"""Where each policy layer lives on this machine.

- **org**: ``$SAFE_PIP_ORG_POLICY`` if set (it must then exist: an org that
  points at a policy and loses it must not silently get none), else the
  system file — ``/etc/safe-pip/policy.toml``, on macOS
  ``/Library/Application Support/safe-pip/policy.toml``, on Windows
  ``%ProgramData%\\safe-pip\\policy.toml``.
- **user**: ``$XDG_CONFIG_HOME/safe-pip/policy.toml``, else platformdirs'
  user config folder.
- **project**: ``safe-pip.toml`` or a ``pyproject.toml`` with
  ``[tool.safe-pip]``, searched from the working directory upward.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from safe_pip.errors import PolicyError

ORG_ENV = "SAFE_PIP_ORG_POLICY"
PROJECT_FILE = "safe-pip.toml"


def system_org_path(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    if platform == "win32":
        return Path(env.get("PROGRAMDATA", r"C:\ProgramData")) / "safe-pip" / "policy.toml"
    if platform == "darwin":
        return Path("/Library/Application Support/safe-pip/policy.toml")
    return Path("/etc/safe-pip/policy.toml")


def org_policy_path(env: Mapping[str, str]) -> Path | None:
    configured = env.get(ORG_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise PolicyError(
                f"{ORG_ENV} names {path}, which is not a readable file; "
                "refusing to continue without the org policy"
            )
        return path
    system = system_org_path(env)
    return system if system.exists() else None


def user_policy_path(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return Path(xdg) / "safe-pip" / "policy.toml"
    import platformdirs

    return platformdirs.user_config_path("safe-pip", appauthor=False) / "policy.toml"


def _declares_table(pyproject: Path) -> bool:
    """Cheap first look; the real parse (and its errors) happens when loading."""
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PolicyError(f"cannot read {pyproject}: {exc.strerror}") from None
    return "safe-pip" in text and any(
        line.strip().replace('"', "").replace("'", "").startswith("[tool.safe-pip")
        for line in text.splitlines()
    )


def project_policy_path(cwd: Path) -> Path | None:
    """The nearest project policy at or above ``cwd``; two in one folder is an error."""
    for folder in (cwd, *cwd.parents):
        own = folder / PROJECT_FILE
        pyproject = folder / "pyproject.toml"
        in_pyproject = pyproject.is_file() and _declares_table(pyproject)
        if own.is_file() and in_pyproject:
            raise PolicyError(
                f"both {own} and [tool.safe-pip] in {pyproject} define a project policy; keep one"
            )
        if own.is_file():
            return own
        if in_pyproject:
            return pyproject
    return None
