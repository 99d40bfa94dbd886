"""The policies safe-pip ships, read from package data.

The repository keeps the reviewed copies in ``policies/``; the package carries
identical copies in ``safe_pip/data/policies/`` so ``policy init`` works from
an installed wheel (a test keeps the two in step).
"""

from __future__ import annotations

from importlib import resources

from safe_pip.errors import PolicyError

PROFILES: dict[str, str] = {
    "default": "default.toml",
    "strict": "strict.toml",
    "org": "org-example.toml",
    "pilot": "pilot.toml",
}


def shipped_policy_text(profile: str) -> str:
    """The text of a shipped profile; a missing data file is an error, not a default."""
    if profile not in PROFILES:
        raise PolicyError(f"unknown profile {profile!r} (choose {', '.join(PROFILES)})")
    resource = resources.files("safe_pip") / "data" / "policies" / PROFILES[profile]
    try:
        return resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            f"the shipped {profile} policy is missing from this installation: {exc}"
        ) from None
