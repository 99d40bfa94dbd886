"""The server's settings: command line, an optional TOML file, and tokens from the environment.

Tokens never come from the command line (``ps`` shows it to every user of the host): they
come from the ``[server.tokens]`` table of the configuration file or from
``SAFE_PIP_SERVE_ADMIN_TOKENS``, ``SAFE_PIP_SERVE_PUSH_TOKENS`` and
``SAFE_PIP_SERVE_INDEX_TOKENS`` (comma-separated). No index tokens: the index is open (put it
on a network only the organisation reaches); no admin or push tokens: those endpoints refuse
everyone.

The whole configuration travels to worker processes (uvicorn ``--workers``, gunicorn) as JSON
in ``SAFE_PIP_SERVE_CONFIG_JSON``, or as a file path in ``SAFE_PIP_SERVE_CONFIG``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from safe_pip.errors import UsageError

ENV_JSON = "SAFE_PIP_SERVE_CONFIG_JSON"
ENV_FILE = "SAFE_PIP_SERVE_CONFIG"
TOKEN_ENV = {
    "admin": "SAFE_PIP_SERVE_ADMIN_TOKENS",
    "push": "SAFE_PIP_SERVE_PUSH_TOKENS",
    "index": "SAFE_PIP_SERVE_INDEX_TOKENS",
}


@dataclass(frozen=True)
class ServerConfig:
    upstreams: tuple[str, ...]
    """Upstream simple indexes, highest priority first."""
    policy: str | None = None
    """Policy file (the organisation's); None: the built-in default."""
    database: str = ""
    """``sqlite:///PATH`` or ``postgresql://...``; empty: SQLite in the data folder."""
    store: str = ""
    """Content-addressed artifact store; empty: ``store/`` in the data folder."""
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    """Server processes (several need PostgreSQL)."""
    scan_workers: int = 2
    """Vetting processes per server process."""
    lease: float = 60.0
    wait: float = 20.0
    """Seconds a file request waits for its verdict before answering 503 + Retry-After."""
    tokens: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``admin``, ``push``, ``index`` -> accepted tokens."""

    def tokens_for(self, kind: str) -> tuple[str, ...]:
        return tuple(self.tokens.get(kind, ()))

    def to_json(self) -> str:
        doc = asdict(self)
        doc["tokens"] = {k: list(v) for k, v in self.tokens.items()}
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        doc = json.loads(text)
        doc["upstreams"] = tuple(doc["upstreams"])
        doc["tokens"] = {k: tuple(v) for k, v in dict(doc.get("tokens") or {}).items()}
        return cls(**doc)

    def resolved(self) -> ServerConfig:
        """Defaults filled in and every value checked (raises UsageError)."""
        if not self.upstreams:
            raise UsageError("at least one --upstream URL is needed")
        for url in self.upstreams:
            if urlsplit(url).scheme not in ("http", "https"):
                raise UsageError(f"--upstream {url}: an http(s) URL of a simple index is needed")
        data = Path(platformdirs.user_data_dir("safe-pip")) / "server"
        database = self.database or f"sqlite:///{data / 'state.sqlite3'}"
        store = self.store or str(data / "store")
        if self.workers > 1 and database.startswith("sqlite:"):
            raise UsageError("several --workers share state through PostgreSQL: pass --database")
        if self.port < 0 or self.workers < 1 or self.scan_workers < 1:
            raise UsageError("--port, --workers and --scan-workers must be positive")
        tokens = dict(self.tokens)
        for kind, var in TOKEN_ENV.items():
            extra = [t.strip() for t in os.environ.get(var, "").split(",") if t.strip()]
            tokens[kind] = tuple(dict.fromkeys([*tokens.get(kind, ()), *extra]))
        return ServerConfig(
            upstreams=tuple(u if u.endswith("/") else u + "/" for u in self.upstreams),
            policy=self.policy,
            database=database,
            store=str(Path(store).expanduser().absolute()),
            host=self.host,
            port=self.port,
            workers=self.workers,
            scan_workers=self.scan_workers,
            lease=self.lease,
            wait=self.wait,
            tokens=tokens,
        )


def read_file(path: Path) -> dict[str, Any]:
    """The ``[server]`` table of a TOML configuration file."""
    from safe_pip.policy._toml import TomlSyntaxError, loads

    try:
        doc = loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    except (ValueError, TomlSyntaxError) as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from exc
    table = doc.get("server")
    if not isinstance(table, dict):
        raise UsageError(f"{path}: no [server] table")
    known = {f for f in ServerConfig.__dataclass_fields__}
    unknown = set(table) - known
    if unknown:
        raise UsageError(f"{path}: unknown [server] keys: {', '.join(sorted(unknown))}")
    out = dict(table)
    if "upstreams" in out:
        out["upstreams"] = tuple(_strings(out["upstreams"], f"{path}: server.upstreams"))
    if "tokens" in out:
        tokens = out["tokens"]
        if not isinstance(tokens, dict):
            raise UsageError(f"{path}: [server.tokens] must be a table")
        out["tokens"] = {
            k: tuple(_strings(v, f"{path}: server.tokens.{k}")) for k, v in tokens.items()
        }
    return out


def _strings(value: object, where: str) -> Sequence[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} must be an array of strings")
    return value


def from_environment() -> ServerConfig:
    """The configuration a worker process was started with."""
    text = os.environ.get(ENV_JSON)
    if text:
        return ServerConfig.from_json(text).resolved()
    path = os.environ.get(ENV_FILE)
    if not path:
        raise UsageError(f"set {ENV_FILE} to the server's configuration file")
    fields = read_file(Path(path))
    return ServerConfig(**{"upstreams": (), **fields}).resolved()
