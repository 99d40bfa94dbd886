"""The client side of the fleet inventory: ``safe-pip audit --push URL``.

Sends what an environment has installed to the organisation's index (``POST /v1/inventory``)
so that incident response can ask it who has a package. Needs nothing of the server's extra
(plain ``requests``); the token comes from ``SAFE_PIP_PUSH_TOKEN``, never from the command
line. A push that fails is an error (exit 2): an inventory that silently did not arrive is
worse than none.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from safe_pip.errors import SafePipError, UsageError

TOKEN_ENV = "SAFE_PIP_PUSH_TOKEN"
TIMEOUT = (10.0, 60.0)


def endpoint(url: str) -> str:
    """The inventory endpoint for a server URL (its base, or the endpoint itself)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--push {url}: an http(s) URL of a safe-pip serve index is needed")
    path = parts.path.rstrip("/")
    if path.endswith("/v1/inventory"):
        return url
    for tail in ("/simple",):
        if path.endswith(tail):
            path = path[: -len(tail)]
    return f"{parts.scheme}://{parts.netloc}{path}/v1/inventory"


def push(
    url: str,
    dists: Sequence[tuple[str, str]],
    *,
    environment: str,
    machine: str | None = None,
    token: str | None = None,
) -> int:
    """Send ``(name, version)`` pairs; returns how many the server stored."""
    import requests

    token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    if not token:
        raise UsageError(f"--push needs a push token in ${TOKEN_ENV}")
    body: dict[str, object] = {
        "machine": machine or socket.getfqdn(),
        "environment": environment,
        "distributions": [{"name": n, "version": v} for n, v in dists],
    }
    target = endpoint(url)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        resp = requests.post(target, data=json.dumps(body), headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SafePipError(f"cannot push the inventory to {target}: {exc}") from exc
    if resp.status_code != 200:
        raise SafePipError(
            f"the index refused the inventory (HTTP {resp.status_code}): {resp.text.strip()[:300]}"
        )
    try:
        return int(resp.json()["stored"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SafePipError(f"{target} answered something that is not an inventory receipt") from exc
