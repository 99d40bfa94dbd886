"""The ASGI app: the simple index, vetted file downloads, refusals and the fleet endpoints.

Routes (everything else is 404, including any path outside these namespaces):

``GET /simple/``, ``GET /simple/<project>/``
    PEP 503 HTML or PEP 691 JSON (``Accept``). A project page lists the upstream files that
    are allowed or not yet judged, never one that is blocked; if every file is blocked the
    page is refused (403, through the refusal URL below) so clients that print URLs show why.
``GET /files/<sha256>/<filename>`` (+ ``.metadata``, ``.provenance``)
    The vetted bytes. The first request vets the file (the install gate's code, once across
    all workers and replicas); a refused file redirects to ``/-/refused/<id>/<RULES>/<file>``,
    which answers 403. pip, uv and poetry print that final URL in their error, so the rule ids
    reach the developer; the 403 body explains and gives the policy lines that would allow it.
``POST /v1/inventory`` (push token), ``GET /v1/installed?name=`` and ``GET /v1/audit``
    (admin token): the fleet inventory and the audit records.
``GET /healthz``
    200 when the state database answers.

Fail closed everywhere: an upstream that is down, slow, huge or malformed is a 502; a
database error is a 503; a verdict still being computed elsewhere is a 503 with Retry-After;
no path serves bytes without a stored verdict that allows them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from safe_pip.errors import FetchError, SafePipError
from safe_pip.gate.fetch import Fetcher, NetSettings, Quarantine, credentials_from_urls
from safe_pip.models import Finding, Verdict
from safe_pip.server import pages
from safe_pip.server.config import ServerConfig
from safe_pip.server.db import Database, DatabaseError, StoredVerdict
from safe_pip.server.upstream import ProjectListing, UpstreamFile, read_project
from safe_pip.server.vetting import (
    Settings,
    StillVetting,
    UpstreamError,
    Vetter,
    VettingFailed,
    finding_from_dict,
)

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
SHA = re.compile(r"^[0-9a-f]{64}$")
RULES_IN_URL = 6
"""At most this many rule ids in a refusal URL (the rest are in the body)."""


def load_server_policy(path: str | None) -> Policy:
    """The organisation's policy for the server: ``path`` as the org layer, nothing else.

    A server has no user or project: neither the home folder of the account it runs as nor
    its working directory may change what it allows.
    """
    from safe_pip.gate.fetch import https_client
    from safe_pip.policy import load_policy
    from safe_pip.policy.discover import ORG_ENV

    env = {ORG_ENV: str(Path(path).absolute()) if path else "", "XDG_CONFIG_HOME": "/nonexistent"}
    return load_policy(None, cwd=Path("/"), env=env, http=https_client)


@dataclass
class Server:
    """Everything the routes share (one per server process)."""

    config: ServerConfig
    policy: Policy
    db: Database
    vetter: Vetter
    store: Quarantine
    net: NetSettings
    started: float = 0.0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, config: ServerConfig) -> Server:
        config = config.resolved()
        policy = load_server_policy(config.policy)
        db = Database(config.database)
        from safe_pip.gate.fetch import bounds_from_policy

        bounds = bounds_from_policy(policy.network)
        settings = Settings(
            upstreams=config.upstreams,
            store=Path(config.store),
            bounds=bounds,
            scan_workers=config.scan_workers,
            lease=config.lease,
            wait=max(config.lease * 10, 600.0),
        )
        net = NetSettings(
            credentials=credentials_from_urls(config.upstreams),
            bounds=bounds,
            index_urls=config.upstreams,
        )
        return cls(
            config=config,
            policy=policy,
            db=db,
            vetter=Vetter(policy=policy, settings=settings, db=db),
            store=Quarantine(Path(config.store)),
            net=net,
        )

    def fetcher(self) -> Fetcher:
        """A fetcher for one request: its page cache lives as long as the request."""
        return Fetcher(self.store, self.net)

    def listing(self, project: str) -> ProjectListing:
        with self.fetcher() as fetcher:
            return read_project(
                project, upstreams=self.config.upstreams, policy=self.policy, fetcher=fetcher
            )

    def decide(
        self,
        stored: Sequence[dict[str, Any]],
        page: Sequence[Finding],
        *,
        project: str,
        version: str,
        sha256: str,
        filename: str,
    ) -> Verdict:
        from safe_pip.decide import decide

        findings = [finding_from_dict(f) for f in stored] + list(page)
        return decide(
            findings,
            target=filename,
            policy=self.policy,
            package=project,
            version=version,
            sha256=sha256,
        )


# -- access ---------------------------------------------------------------------------------


def _presented(request: Request) -> tuple[str | None, str]:
    """``(token, who)`` from Basic (password is the token) or Bearer authorization."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, "anonymous"
        return password or None, user or "basic"
    return None, "anonymous"


def _allowed(token: str | None, accepted: Sequence[str]) -> bool:
    if token is None:
        return False
    # Compare against every token (no early exit): timing reveals nothing about which.
    hits = [hmac.compare_digest(token.encode(), t.encode()) for t in accepted]
    return any(hits)


def _client(request: Request, who: str) -> str:
    host = request.client.host if request.client else "?"
    return f"{who}@{host}"


def _need_index(server: Server, request: Request) -> tuple[Response | None, str]:
    token, who = _presented(request)
    accepted = server.config.tokens_for("index") + server.config.tokens_for("admin")
    if not server.config.tokens_for("index"):
        return None, _client(request, who)
    if _allowed(token, accepted):
        return None, _client(request, who)
    return (
        PlainTextResponse(
            "safe-pip: this index needs a token (basic auth: any user name, the token as "
            "password)\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="safe-pip"'},
        ),
        _client(request, who),
    )


def _need(server: Server, request: Request, kinds: Sequence[str]) -> tuple[Response | None, str]:
    token, who = _presented(request)
    accepted = tuple(t for k in kinds for t in server.config.tokens_for(k))
    if not accepted:
        return (
            PlainTextResponse(
                f"safe-pip: no {' or '.join(kinds)} token is configured, so this endpoint is "
                "closed\n",
                status_code=403,
            ),
            _client(request, who),
        )
    if _allowed(token, accepted):
        return None, _client(request, who)
    return (
        PlainTextResponse(
            "safe-pip: a valid token is needed (Authorization: Bearer TOKEN)\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="safe-pip"'},
        ),
        _client(request, who),
    )


# -- errors ---------------------------------------------------------------------------------


def _failure(exc: BaseException) -> Response:
    """Every failure as a response that serves nothing."""
    if isinstance(exc, (UpstreamError, FetchError)):
        return PlainTextResponse(f"safe-pip: upstream failure: {exc}\n", status_code=502)
    if isinstance(exc, StillVetting):
        return PlainTextResponse(
            f"safe-pip: {exc}; try again shortly\n", status_code=503, headers={"Retry-After": "5"}
        )
    if isinstance(exc, DatabaseError):
        return PlainTextResponse(f"safe-pip: {exc}\n", status_code=503)
    if isinstance(exc, (VettingFailed, SafePipError)):
        return PlainTextResponse(f"safe-pip: {exc}\n", status_code=500)
    return PlainTextResponse(
        f"safe-pip: internal error: {type(exc).__name__}: {exc}\n", status_code=500
    )


Handler = Callable[[Server, Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        server: Server = request.app.state.server
        try:
            return await handler(server, request)
        except Exception as exc:  # fail closed: every error is a response that serves nothing
            return _failure(exc)

    return endpoint


# -- index ----------------------------------------------------------------------------------


async def root(server: Server, request: Request) -> Response:
    denied, _ = _need_index(server, request)
    if denied is not None:
        return denied
    media = pages.choose(request.headers.get("accept", ""), request.query_params.get("format"))
    if media is None:
        return PlainTextResponse("safe-pip: no acceptable format\n", status_code=406)
    if media == pages.JSON_V1:
        return Response(pages.root_json(), media_type=media)
    return Response(pages.root_html(), media_type=media)


async def project(server: Server, request: Request) -> Response:
    denied, client = _need_index(server, request)
    if denied is not None:
        return denied
    name = str(request.path_params["project"])
    if not NAME.match(name):
        return PlainTextResponse("safe-pip: not a project name\n", status_code=404)
    canonical = canonicalize_name(name)
    if name != canonical or not request.url.path.endswith("/"):
        return RedirectResponse(f"../{canonical}/", status_code=301)
    media = pages.choose(request.headers.get("accept", ""), request.query_params.get("format"))
    if media is None:
        return PlainTextResponse("safe-pip: no acceptable format\n", status_code=406)
    listing = await run_in_threadpool(server.listing, canonical)
    if not listing.files:
        return PlainTextResponse(
            f"safe-pip: {canonical} is not on any upstream index\n", status_code=404
        )
    shas = [f.sha256 for f in listing.files if f.sha256]
    known = await run_in_threadpool(server.vetter.lookup_many, shas)
    listed: list[pages.Listed] = []
    hidden: dict[str, list[str]] = {}
    for f in listing.files:
        if f.sha256 is None:
            hidden[f.filename] = ["no sha256 on the upstream page"]
            continue
        stored = known.get(f.sha256)
        verdict = server.decide(
            stored.findings if stored else [],
            f.page_findings,
            project=f.artifact.name,
            version=f.artifact.version,
            sha256=f.sha256,
            filename=f.filename,
        )
        if not verdict.allowed:
            hidden[f.filename] = sorted({b.rule_id for b in verdict.blocking})
            continue
        allowed = stored is not None
        listed.append(
            pages.Listed(
                filename=f.filename,
                sha256=f.sha256,
                requires_python=f.artifact.requires_python,
                yanked=f.artifact.yanked,
                upload_time=f.artifact.upload_time,
                size=f.size if f.size is not None else (stored.size if stored else None),
                metadata_sha256=stored.metadata_sha256 if allowed and stored else None,
                provenance=bool(allowed and stored and stored.provenance_url),
            )
        )
    if not listed:
        return await _refuse_project(server, canonical, hidden, client)
    if media == pages.JSON_V1:
        return Response(pages.project_json(canonical, listed), media_type=media)
    return Response(pages.project_html(canonical, listed), media_type=media)


async def _refuse_project(
    server: Server, name: str, hidden: dict[str, list[str]], client: str
) -> Response:
    rules = sorted({r for rs in hidden.values() for r in rs if r.isupper() or "-" in r})
    lines = [f"safe-pip refused every file of {name}:", ""]
    lines += [f"  {fn}: {', '.join(rs)}" for fn, rs in sorted(hidden.items())]
    lines += ["", *_how_to_allow(rules, project=name)]
    record = await run_in_threadpool(
        server.db.audit,
        "refused",
        client=client,
        project=name,
        decision="block",
        rules=rules,
        detail={"text": "\n".join(lines) + "\n"},
    )
    return _refusal_redirect(record, rules, name)


def _refusal_redirect(record: int, rules: Sequence[str], what: str) -> Response:
    shown = "+".join(list(rules)[:RULES_IN_URL]) or "REFUSED"
    # Relative: right behind any proxy or prefix (both callers sit two segments deep).
    return RedirectResponse(f"../../-/refused/{record}/{shown}/{what}", status_code=303)


def _how_to_allow(rules: Sequence[str], *, project: str, sha256: str | None = None) -> list[str]:
    from safe_pip.rules import get_rule

    lines = ["How to allow it (in the organisation's policy, after a review):"]
    for rule_id in rules:
        rule = get_rule(rule_id)
        lines.append(f"  {rule_id}: {rule.how_to_allow if rule else 'see docs/rules.md'}")
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    for rule_id in rules:
        lines += [
            "",
            "  [[exception]]",
            f'  package = "{project}"',
            *([f'  sha256 = "{sha256}"'] if sha256 else []),
            f'  rule = "{rule_id}"',
            '  reason = "WHO reviewed WHAT, ticket"',
            f"  expires = {until}",
        ]
    return lines


# -- files ----------------------------------------------------------------------------------


def _project_of(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None
    return canonicalize_name(name), str(version)


async def files(server: Server, request: Request) -> Response:
    denied, client = _need_index(server, request)
    if denied is not None:
        return denied
    sha = str(request.path_params["sha256"])
    filename = str(request.path_params["filename"])
    if not SHA.match(sha):
        return PlainTextResponse("safe-pip: not a file of this index\n", status_code=404)
    for suffix, handler in ((".metadata", _metadata), (".provenance", _provenance)):
        if filename.endswith(suffix):
            return await handler(server, sha, filename[: -len(suffix)])
    named = _project_of(filename)
    if named is None:
        return PlainTextResponse("safe-pip: not a file of this index\n", status_code=404)
    project_name, version = named
    stored = await run_in_threadpool(server.vetter.lookup, sha)
    page: tuple[Finding, ...] = ()
    if stored is None or stored.filename != filename:
        outcome = await _vet_cold(server, project_name, sha, filename)
        if isinstance(outcome, Response):
            return outcome
        stored, page = outcome
    verdict = server.decide(
        stored.findings,
        page,
        project=project_name,
        version=version,
        sha256=sha,
        filename=filename,
    )
    if not verdict.allowed:
        return await _refuse_file(server, stored, verdict, client, page)
    path = server.store.path_for(sha, filename)
    if not path.is_file():
        # Another replica vetted it (its own store): the same bytes by sha256 are the vetted
        # bytes; bring them here with the hash checked while streaming, scan nothing again.
        await _restore(server, project_name, sha, filename)
    await run_in_threadpool(
        server.db.audit,
        "served",
        client=client,
        project=project_name,
        filename=filename,
        sha256=sha,
        decision="allow",
        rules=sorted({w.rule_id for w in verdict.warnings}),
    )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"ETag": f'"{sha}"', "Cache-Control": "private, max-age=31536000, immutable"},
    )


async def _vet_cold(
    server: Server, project_name: str, sha: str, filename: str
) -> Response | tuple[StoredVerdict, tuple[Finding, ...]]:
    """Read the upstream page fresh, judge the page facts, then vet (or wait for) the file."""
    listing = await run_in_threadpool(server.listing, project_name)
    match = _find(listing, sha, filename)
    if match is None:
        return PlainTextResponse(
            f"safe-pip: {filename} with sha256 {sha} is not offered by the upstream indexes\n",
            status_code=404,
        )
    page_verdict = server.decide(
        [],
        match.page_findings,
        project=project_name,
        version=match.artifact.version,
        sha256=sha,
        filename=filename,
    )
    if not page_verdict.allowed:
        # Refused on what the page says (index priority, name, age...): nothing downloaded.
        transient = StoredVerdict(
            sha256=sha,
            scanner="",
            policy=server.vetter.digest,
            project=project_name,
            version=match.artifact.version,
            filename=filename,
            size=0,
            decision="block",
            findings=[],
            metadata_sha256=None,
            provenance_url=None,
            created=0.0,
        )
        return transient, match.page_findings
    future = asyncio.wrap_future(server.vetter.submit(match))
    try:
        stored = await asyncio.wait_for(asyncio.shield(future), server.config.wait)
    except asyncio.TimeoutError:
        raise StillVetting(f"{filename} is being vetted (large files take a while)") from None
    return stored, match.page_findings


def _find(listing: ProjectListing, sha: str, filename: str) -> UpstreamFile | None:
    for f in listing.files:
        if f.filename == filename and f.sha256 == sha:
            return f
    return None


async def _restore(server: Server, project_name: str, sha: str, filename: str) -> None:
    listing = await run_in_threadpool(server.listing, project_name)
    match = _find(listing, sha, filename)
    if match is None:
        raise UpstreamError(f"{filename} ({sha}) is no longer offered upstream")

    def fetch() -> None:
        with server.fetcher() as fetcher:
            got = fetcher.fetch(match.artifact.url, expected_sha256=sha)
        if got.sha256 != sha:
            raise UpstreamError(f"{filename}: upstream bytes differ from the vetted ones")

    await run_in_threadpool(fetch)


async def _refuse_file(
    server: Server,
    stored: StoredVerdict,
    verdict: Verdict,
    client: str,
    page: Sequence[Finding],
) -> Response:
    rules = sorted({b.rule_id for b in verdict.blocking})
    lines = [
        f"safe-pip refused {stored.filename}",
        f"  project {stored.project} {stored.version}, sha256 {stored.sha256}",
        "",
    ]
    for f in verdict.blocking:
        lines += [f"  BLOCK {f.rule_id} ({f.severity}) {f.location}", f"        {f.message}"]
    for f in verdict.warnings:
        lines += [f"  warn  {f.rule_id} ({f.severity}) {f.location}", f"        {f.message}"]
    lines += ["", *_how_to_allow(rules, project=stored.project, sha256=stored.sha256)]
    record = await run_in_threadpool(
        server.db.audit,
        "refused",
        client=client,
        project=stored.project,
        filename=stored.filename,
        sha256=stored.sha256,
        decision="block",
        rules=rules,
        detail={"text": "\n".join(lines) + "\n"},
    )
    return _refusal_redirect(record, rules, stored.filename)


async def refused(server: Server, request: Request) -> Response:
    denied, _ = _need_index(server, request)
    if denied is not None:
        return denied
    try:
        record = int(str(request.path_params["record"]))
    except ValueError:
        return PlainTextResponse("safe-pip: no such refusal\n", status_code=404)
    found = await run_in_threadpool(server.db.audit_record, record)
    if found is None or found["event"] != "refused":
        return PlainTextResponse("safe-pip: no such refusal\n", status_code=404)
    text = str(found["detail"].get("text", "refused by policy\n"))
    return PlainTextResponse(text, status_code=403)


async def _vetted(server: Server, sha: str, filename: str) -> StoredVerdict | None:
    """The stored verdict of ``filename`` if it allows the file today, else None."""
    stored = await run_in_threadpool(server.vetter.lookup, sha)
    if stored is None or stored.filename != filename:
        return None
    verdict = server.decide(
        stored.findings,
        (),
        project=stored.project,
        version=stored.version,
        sha256=sha,
        filename=filename,
    )
    return stored if verdict.allowed else None


async def _metadata(server: Server, sha: str, filename: str) -> Response:
    stored = await _vetted(server, sha, filename)
    path = server.store.path_for(sha, filename + ".metadata")
    if stored is None or not stored.metadata_sha256 or not path.is_file():
        return PlainTextResponse("safe-pip: no vetted metadata for this file\n", status_code=404)
    return FileResponse(path, media_type="application/octet-stream")


async def _provenance(server: Server, sha: str, filename: str) -> Response:
    stored = await _vetted(server, sha, filename)
    url = stored.provenance_url if stored is not None else None
    if url is None:
        return PlainTextResponse("safe-pip: no provenance for this file\n", status_code=404)

    def get() -> bytes:
        with server.fetcher() as fetcher:
            return fetcher.get(url, accept="application/json")

    body = await run_in_threadpool(get)
    return Response(body, media_type="application/json")


# -- fleet ----------------------------------------------------------------------------------


async def push_inventory(server: Server, request: Request) -> Response:
    denied, client = _need(server, request, ("push", "admin"))
    if denied is not None:
        return denied
    body = await request.body()
    if len(body) > 16 << 20:
        return PlainTextResponse("safe-pip: inventory too large\n", status_code=413)
    try:
        doc = json.loads(body)
        machine = str(doc["machine"]).strip()
        environment = str(doc["environment"]).strip()
        dists = [
            (canonicalize_name(str(d["name"])), str(d["version"])) for d in doc["distributions"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        return PlainTextResponse(f"safe-pip: malformed inventory: {exc}\n", status_code=400)
    if not machine or not environment or len(machine) > 255 or len(environment) > 1024:
        return PlainTextResponse("safe-pip: machine and environment are needed\n", status_code=400)
    await run_in_threadpool(server.db.push_inventory, machine, environment, dists)
    await run_in_threadpool(
        server.db.audit,
        "inventory",
        client=client,
        detail={"machine": machine, "environment": environment, "count": len(dists)},
    )
    return JSONResponse({"machine": machine, "environment": environment, "stored": len(dists)})


async def installed(server: Server, request: Request) -> Response:
    denied, _ = _need(server, request, ("admin",))
    if denied is not None:
        return denied
    name = request.query_params.get("name", "")
    if not NAME.match(name):
        return PlainTextResponse("safe-pip: ?name=PROJECT is needed\n", status_code=400)
    rows = await run_in_threadpool(server.db.installed, canonicalize_name(name))
    return JSONResponse(
        {
            "name": canonicalize_name(name),
            "installations": [
                {
                    "machine": r.machine,
                    "environment": r.environment,
                    "version": r.version,
                    "pushed": dt.datetime.fromtimestamp(r.pushed, dt.timezone.utc).isoformat(),
                }
                for r in rows
            ],
        }
    )


async def audit_log(server: Server, request: Request) -> Response:
    denied, _ = _need(server, request, ("admin",))
    if denied is not None:
        return denied
    q = request.query_params
    try:
        limit = min(10_000, max(1, int(q.get("limit", "1000"))))
    except ValueError:
        return PlainTextResponse("safe-pip: limit must be a number\n", status_code=400)
    sha = q.get("sha256")
    records = await run_in_threadpool(
        server.db.audit_records, event=q.get("event"), sha256=sha, limit=limit
    )
    return JSONResponse({"records": records})


async def health(server: Server, request: Request) -> Response:
    await run_in_threadpool(server.db.ping)
    return JSONResponse({"ok": True, "upstreams": len(server.config.upstreams)})


def create_app(config: ServerConfig, *, server: Server | None = None) -> Starlette:
    """The app for ``config`` (its state database is migrated at start-up)."""
    built = server or Server.build(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        built.vetter.start()  # first: forked while this is the only thread
        await run_in_threadpool(built.db.migrate)
        try:
            yield
        finally:
            built.vetter.close()
            built.db.close()

    routes = [
        Route("/simple/", _guarded(root)),
        Route("/simple/{project}/", _guarded(project)),
        Route("/simple/{project}", _guarded(project)),
        Route("/files/{sha256}/{filename}", _guarded(files)),
        Route("/-/refused/{record}/{rules}/{what}", _guarded(refused)),
        Route("/v1/inventory", _guarded(push_inventory), methods=["POST"]),
        Route("/v1/installed", _guarded(installed)),
        Route("/v1/audit", _guarded(audit_log)),
        Route("/healthz", _guarded(health)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = built
    return app


def from_environment() -> Starlette:
    """App factory for uvicorn ``--workers`` and gunicorn (configuration from the environment)."""
    from safe_pip.server.config import from_environment as config

    return create_app(config())
