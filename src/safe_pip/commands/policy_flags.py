"""How commands load the policy: the one-run flags as the top layer, and the HTTP client.

Individual command-line flags, turned into the top policy layer.

``--policy FILE`` adds a whole file; these flags add single values for one run
(``--deny NAME``, ``--min-age 7d``...).  They become a TOML layer named
``<command line>`` (see ``safe_pip.policy.load``) above every file, so they obey
exactly the same rules: they are validated like a file, and against a locked or
stricter org policy they may only tighten, never loosen.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.gate.fetch import Fetcher
    from safe_pip.policy import Policy


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "policy flags",
        "one-run policy values; a layer above --policy that may only tighten org rules",
    )
    group.add_argument(
        "--deny", action="append", default=[], metavar="NAME", help="deny a package name or glob"
    )
    group.add_argument("--min-age", metavar="DURATION", help='minimum upload age, e.g. "7d"')
    group.add_argument(
        "--signatures",
        choices=("off", "available", "listed", "always"),
        help="which artifacts must carry a verifying signature",
    )
    group.add_argument(
        "--unknown-globals",
        choices=("block", "warn"),
        help="what a pickle global outside the allowlist does",
    )
    group.add_argument(
        "--allow-global",
        action="append",
        default=[],
        metavar="MODULE.NAME",
        help="allow one more pickle global (exact name or module.*)",
    )


def flags_toml(args: argparse.Namespace) -> str | None:
    """The flags as a policy TOML document, or None when none was given."""
    sections: dict[str, list[str]] = {}

    def put(table: str, key: str, value: object) -> None:
        sections.setdefault(table, []).append(f"{key} = {json.dumps(value)}")

    if getattr(args, "deny", None):
        put("names", "deny", list(args.deny))
    if getattr(args, "min_age", None):
        put("install", "min_age", args.min_age)
    if getattr(args, "signatures", None):
        put("signatures", "require", args.signatures)
    if getattr(args, "unknown_globals", None):
        put("scan", "unknown_globals", args.unknown_globals)
    if getattr(args, "allow_global", None):
        put("scan", "allow_globals", list(args.allow_global))
    if not sections:
        return None
    lines = ["version = 1"]
    for table, entries in sections.items():
        lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"


def load_from_args(args: argparse.Namespace) -> Policy:
    """The effective policy for a command: its ``--policy`` file, its flags, the layers.

    Commands load the policy; the policy package never imports the gate, so this is where
    the two meet: an org policy named by ``[remote]`` is fetched with the gate's https-only
    client (``safe_pip.gate.fetch.https_client``, see ``safe_pip.policy.remote``).
    """
    from safe_pip.policy import load_policy

    return load_policy(getattr(args, "policy", None), flags=flags_toml(args), http=_https_client)


def _https_client() -> Fetcher:
    """The gate's client, imported only when a ``[remote]`` pointer is followed (the gate's
    HTTP stack is most of a short ``safe-pip scan``'s start-up otherwise)."""
    from safe_pip.gate.fetch import https_client

    return https_client()
