"""The org policy fetched from an https URL, accepted only with a valid sigstore bundle.

An organisation that would rather publish one policy file than push it with
MDM writes a *pointer* as the local org file::

    version = 1
    [remote]
    url = "https://policy.example.org/safe-pip/policy.toml"
    identity = "https://github.com/example/policy/.github/workflows/sign.yml@refs/heads/main"
    issuer = "https://token.actions.githubusercontent.com"
    # trusted_root = "root.json"   # default: the pinned production root
    # max_age = "1d"               # default: never use a cached copy offline

Why it is safe to take rules from the network: the local file (owned by the
administrator) decides *who* may sign the org policy, and nothing fetched is
used unless a sigstore bundle over its exact bytes verifies against the pinned
trusted root (:mod:`safe_pip.verify.trust`: offline, no TUF) with that
certificate identity and OIDC issuer.  https is defence in depth, not the
source of trust.

Fail closed, always with a :class:`~safe_pip.errors.PolicyError` (exit 2):
an unreachable server, an HTTP error, a missing or bad bundle, the wrong
signer, a file that is not valid policy TOML.  The one exception is offline
use: when the server cannot be *reached* (connection error, timeout, HTTP 5xx)
and the pointer sets ``max_age``, a copy verified within ``max_age`` is used and
``policy show`` says so.  A server that answers with something wrong never
falls back to the cache: that hides an attack or a broken publication.

The verified file, its bundle and the fetch time are kept under safe-pip's
cache folder.  The cache is writable by any process of the user, so a cached
copy is verified again before each use, never trusted because it is there.

Layering: this module holds no HTTP client of its own and imports nothing of the gate.
The command that loads the policy hands in the gate's client (``safe_pip.fetch.Fetcher``,
anything with the :class:`Http` shape, made ``https_only`` so a redirect to plain http is
refused before it is followed) through ``load_policy(http=...)``; the gate and the
verifiers only ever read the policy *model*.  Download failures arrive as
:class:`~safe_pip.errors.FetchError`, which says whether a server answered at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit

from safe_pip.errors import FetchError, PolicyError
from safe_pip.policy.model import RemoteOrigin, RemoteSource
from safe_pip.policy.parse import Layer, parse_text
from safe_pip.policy.values import format_duration

MAX_POLICY_BYTES = 1024 * 1024
"""A policy file is a few kB; refuse to read an endless response into memory."""
ABSENT = frozenset({404, 410})
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a cached fetch time may be before the cache is refused."""

POLICY_FILE = "policy.toml"
BUNDLE_FILE = "policy.toml.sigstore.json"
META_FILE = "verified.json"


class Unreachable(Exception):
    """The server could not be reached: the only failure a cached copy may cover."""


class Http(Protocol):
    """The HTTP client the loading command hands in (the gate's ``Fetcher``)."""

    def get(self, url: str, *, accept: str | None = None) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RemoteLayer:
    """The verified org layer, how it was obtained, and a note for ``policy show``."""

    layer: Layer
    origin: RemoteOrigin
    note: str | None = None


# -- cache ----------------------------------------------------------------------------------
def cache_folder(spec: RemoteSource, env: Mapping[str, str]) -> Path:
    """Where the verified copy for this URL *and signer* is kept.

    The key includes identity and issuer so that a pointer changed to another
    signer can never be served a copy someone else signed.  The root follows
    ``safe_pip.gate.fetch.cache_dir`` (``SAFE_PIP_CACHE_DIR`` overrides platformdirs),
    read from ``env`` so tests and callers with their own environment agree.
    """
    override = env.get("SAFE_PIP_CACHE_DIR", "").strip()
    if override:
        root = Path(override)
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("safe-pip"))
    key = hashlib.sha256(f"{spec.url}\n{spec.signer}".encode()).hexdigest()
    return root / "org-policy" / key[:32]


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store(folder: Path, spec: RemoteSource, body: bytes, bundle: bytes, when: dt.datetime) -> None:
    meta = {
        "url": spec.url,
        "signer": str(spec.signer),
        "sha256": hashlib.sha256(body).hexdigest(),
        "verified_at": when.isoformat(),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / POLICY_FILE, body)
        _write_atomic(folder / BUNDLE_FILE, bundle)
        _write_atomic(folder / META_FILE, json.dumps(meta, indent=2).encode())
    except OSError as exc:
        raise PolicyError(
            f"cannot keep the verified org policy from {spec.url} in {folder}: {exc}; "
            "set SAFE_PIP_CACHE_DIR to a writable folder"
        ) from exc


# -- network --------------------------------------------------------------------------------
def _get(http: Http, url: str, limit: int) -> bytes | None:
    """GET an https URL: its body, ``None`` when absent, PolicyError/Unreachable otherwise."""
    if urlsplit(url).scheme != "https":
        raise PolicyError(f"refusing to fetch the org policy over {url}: https only")
    try:
        body = http.get(url, accept="*/*")
    except FetchError as exc:
        if exc.status in ABSENT:
            return None
        if exc.unreachable:
            raise Unreachable(f"cannot reach {url}: {exc}") from exc
        if exc.status is not None and exc.status >= 500:
            raise Unreachable(f"{url} answered HTTP {exc.status}") from exc
        if exc.status is not None:
            raise PolicyError(
                f"cannot fetch the org policy: {url} answered HTTP {exc.status}"
            ) from exc
        raise PolicyError(f"cannot fetch the org policy: {exc}") from exc
    if len(body) > limit:
        raise PolicyError(f"{url} is larger than {limit} bytes; refusing it")
    return body


def _bundle_urls(spec: RemoteSource) -> tuple[str, ...]:
    if spec.bundle is not None:
        return (spec.bundle,)
    return (spec.url + ".sigstore.json", spec.url + ".sigstore")


def _download(spec: RemoteSource, http: Http) -> tuple[bytes, bytes]:
    """The policy bytes and its bundle; Unreachable only when the server is."""
    from safe_pip.verify.bundles import MAX_SIGNATURE_BYTES

    body = _get(http, spec.url, MAX_POLICY_BYTES)
    if body is None:
        raise PolicyError(f"cannot fetch the org policy: {spec.url} answered HTTP 404")
    for url in _bundle_urls(spec):
        bundle = _get(http, url, MAX_SIGNATURE_BYTES)
        if bundle is not None:
            return body, bundle
    raise PolicyError(
        f"the org policy at {spec.url} has no sigstore bundle (tried "
        f"{', '.join(_bundle_urls(spec))}); an unsigned org policy is never used"
    )


# -- verification ---------------------------------------------------------------------------
def _verify(spec: RemoteSource, body: bytes, bundle: bytes, scratch: Path, what: str) -> None:
    """Check the bundle over ``body``: pinned root, exact SAN and issuer, or PolicyError."""
    from safe_pip.verify.bundles import verify_bundle
    from safe_pip.verify.errors import SignatureError, TrustRootError
    from safe_pip.verify.trust import make_verifier

    name = PurePosixPath(urlsplit(spec.url).path).name or POLICY_FILE
    try:
        verifier = make_verifier(spec.trusted_root)
    except TrustRootError as exc:
        raise PolicyError(f"{spec.source.where}: [remote] trusted_root: {exc}") from exc
    scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=scratch, prefix=".verify.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        result = verify_bundle(
            Path(tmp),
            bundle,
            expected=[spec.signer],
            verifier=verifier,
            filename=name,
            source=f"bundle for {spec.url}",
        )
    except SignatureError as exc:
        raise PolicyError(
            f"the org policy {what} failed its signature check ({exc}); "
            f"expected a signature by {spec.signer} "
            f"as {spec.source.where} requires; refusing to use it"
        ) from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    if not result.pinned:  # verify_bundle raises on a mismatch; this keeps it true by construction
        raise PolicyError(f"the org policy {what} is not signed by {spec.signer}")


def _parse(spec: RemoteSource, body: bytes, path: Path, what: str) -> Layer:
    """Parse the verified bytes as the org layer; problems name the URL and line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"the org policy {what} is not UTF-8 text: {exc}") from exc
    layer, problems = parse_text(text, path, "org")
    if layer is not None and layer.remote is not None and not problems:
        line = layer.remote.source.line or 1
        raise PolicyError(
            f"{spec.url}:{line}: a fetched org policy may not name another [remote]; "
            "put the rules in this file"
        )
    if layer is None or problems:
        lines = "\n".join(f"  {spec.url}:{p.line}: {p.message}" for p in problems)
        raise PolicyError(
            f"the org policy {what} is signed but invalid ({len(problems)} problem(s)):\n{lines}"
        )
    return layer


# -- entry point ----------------------------------------------------------------------------
def load_remote_layer(
    spec: RemoteSource,
    pointer: Path,
    env: Mapping[str, str],
    http: Http,
    *,
    now: dt.datetime | None = None,
) -> RemoteLayer:
    """Fetch, verify, cache and parse the org policy ``spec`` points at.

    Returns the org :class:`Layer` whose ``path`` is the verified copy in the
    cache (so ``file:line`` in messages points at a file a person can open)
    and a :class:`RemoteOrigin` naming the URL and signer for ``policy show``.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    folder = cache_folder(spec, env)
    try:
        body, bundle = _download(spec, http)
    except Unreachable as exc:
        return _from_cache(spec, pointer, folder, now, str(exc))
    _verify(spec, body, bundle, folder, f"fetched from {spec.url}")
    layer = _parse(spec, body, folder / POLICY_FILE, f"fetched from {spec.url}")
    _store(folder, spec, body, bundle, now)
    origin = RemoteOrigin(spec.url, spec.signer, pointer, now)
    return RemoteLayer(layer, origin)


def _from_cache(
    spec: RemoteSource, pointer: Path, folder: Path, now: dt.datetime, why: str
) -> RemoteLayer:
    """The cached copy when the server is unreachable, within ``max_age`` and re-verified."""
    if spec.max_age <= dt.timedelta(0):
        raise PolicyError(
            f"cannot fetch the org policy ({why}); {spec.source.where} sets no "
            "[remote] max_age, so a cached copy is never used offline"
        )
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        verified_at = dt.datetime.fromisoformat(meta["verified_at"])
        body = (folder / POLICY_FILE).read_bytes()
        bundle = (folder / BUNDLE_FILE).read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            f"cannot fetch the org policy ({why}) and no verified copy is cached in {folder}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PolicyError(
            f"cannot fetch the org policy ({why}) and the cached copy in {folder} "
            f"is unreadable: {exc}"
        ) from exc
    if verified_at.tzinfo is None:
        verified_at = verified_at.replace(tzinfo=dt.timezone.utc)
    age = now - verified_at
    if age > spec.max_age or age < -CLOCK_SKEW:
        raise PolicyError(
            f"cannot fetch the org policy ({why}); the cached copy was verified at "
            f"{verified_at.isoformat(timespec='seconds')}, which is outside [remote] max_age = "
            f'"{format_duration(spec.max_age)}" ({spec.source.where})'
        )
    what = f"cached from {spec.url} in {folder}"
    _verify(spec, body, bundle, folder, what)
    layer = _parse(spec, body, folder / POLICY_FILE, what)
    origin = RemoteOrigin(spec.url, spec.signer, pointer, verified_at, cached=True)
    note = (
        f"org policy {spec.url} could not be fetched ({why}); using the copy verified at "
        f"{verified_at.isoformat(timespec='seconds')} "
        f"({format_duration(dt.timedelta(seconds=int(max(age.total_seconds(), 0))))} ago, within "
        f'max_age = "{format_duration(spec.max_age)}"), signature checked again'
    )
    return RemoteLayer(layer, origin, note)
