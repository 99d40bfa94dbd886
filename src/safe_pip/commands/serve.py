"""safe-pip serve: the organisation's vetting index (PEP 503 / PEP 691) in front of upstreams.

``safe-pip serve --upstream URL [--upstream URL ...] [--policy FILE] [--database URL]
[--store DIR] [--host H] [--port P] [--workers N] [--scan-workers N] [--config FILE]``

Every client (pip, uv, poetry, pdm, a Dockerfile) points at this index; the first request
for a file vets it with the install gate's own code and later ones are served from the store.
Tokens come from the ``[server.tokens]`` table of ``--config`` or the environment
(``SAFE_PIP_SERVE_ADMIN_TOKENS``, ``..._PUSH_TOKENS``, ``..._INDEX_TOKENS``), never from the
command line. Needs the ``server`` extra: ``pip install 'safe-pip[server]'``. TLS belongs to
the reverse proxy in front (docs/server.md).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from safe_pip.errors import UsageError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="URL",
        help="an upstream simple index (repeatable; the first has priority)",
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="the organisation's policy")
    parser.add_argument(
        "--database", metavar="URL", help="sqlite:///PATH (default) or postgresql://..."
    )
    parser.add_argument("--store", type=Path, metavar="DIR", help="the artifact store")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--workers", type=int, help="server processes (several need PostgreSQL)")
    parser.add_argument("--scan-workers", type=int, help="vetting processes per server process")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file with a [server] table"
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as exc:
        raise UsageError(
            "safe-pip serve needs the server extra: pip install 'safe-pip[server]'"
        ) from exc
    from safe_pip.server.config import ENV_JSON, ServerConfig, read_file

    fields = read_file(args.config) if args.config else {}
    given = {
        "upstreams": tuple(args.upstream) or None,
        "policy": str(args.policy) if args.policy else None,
        "database": args.database,
        "store": str(args.store) if args.store else None,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "scan_workers": args.scan_workers,
    }
    fields.update({k: v for k, v in given.items() if v is not None})
    config = ServerConfig(**{"upstreams": (), **fields}).resolved()
    if config.workers > 1:
        os.environ[ENV_JSON] = config.to_json()
        uvicorn.run(
            "safe_pip.server.app:from_environment",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            log_level="info",
            proxy_headers=True,
        )
        return 0
    from safe_pip.server.app import create_app

    app = create_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", proxy_headers=True)
    return 0
