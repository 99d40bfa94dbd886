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
from safe_pip.policy.parse import Layer, parse_text
from safe_pip.policy.remote_model import Publication, RemoteOrigin, RemoteSource
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


# -- freshness ------------------------------------------------------------------------------
def state_folder(env: Mapping[str, str]) -> Path:
    """Where the highest verified serial of each URL is kept (not the cache: clearing a
    cache must not lower the floor).  ``$XDG_STATE_HOME/safe-pip``, else platformdirs'."""
    override = env.get("XDG_STATE_HOME", "").strip()
    if override:
        return Path(override) / "safe-pip" / "org-policy"
    import platformdirs

    return Path(platformdirs.user_state_dir("safe-pip")) / "org-policy"


@dataclass(frozen=True)
class Seen:
    """The highest serial verified for one URL, and which bytes carried it."""

    serial: int
    sha256: str


def _seen_path(spec: RemoteSource, env: Mapping[str, str]) -> Path:
    return state_folder(env) / (hashlib.sha256(spec.url.encode()).hexdigest()[:32] + ".json")


def _read_seen(spec: RemoteSource, env: Mapping[str, str]) -> Seen | None:
    """The record for ``spec.url``; an unreadable record fails closed (it may be a floor)."""
    path = _seen_path(spec, env)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PolicyError(
            f"the record of the org policy serials verified for {spec.url} ({path}) cannot be "
            f"read: {exc}; refusing to guess which serial is the newest"
        ) from exc
    serial, sha = doc.get("serial") if isinstance(doc, dict) else None, doc.get("sha256")
    if doc.get("url") != spec.url or not isinstance(serial, int) or not isinstance(sha, str):
        raise PolicyError(f"the record of org policy serials in {path} is not valid")
    return Seen(serial, sha)


def _record_seen(spec: RemoteSource, env: Mapping[str, str], pub: Publication, body: bytes) -> None:
    path = _seen_path(spec, env)
    doc = {
        "url": spec.url,
        "serial": pub.serial,
        "sha256": hashlib.sha256(body).hexdigest(),
        "issued": pub.issued.isoformat(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(doc, indent=2).encode())
    except OSError as exc:
        raise PolicyError(
            f"cannot record the serial of the org policy from {spec.url} in {path}: {exc}; "
            "without it an older signed policy could be replayed later"
        ) from exc


def _fresh(
    spec: RemoteSource,
    layer: Layer,
    body: bytes,
    seen: Seen | None,
    now: dt.datetime,
    what: str,
) -> Publication:
    """The signed ``[publication]`` of a verified policy, or PolicyError: never a rollback.

    Everything here comes from the signed bytes or from the administrator's pointer;
    nothing from a file a user process could have rewritten (the ``verified_at`` the cache
    keeps is for people only).  The record of the highest serial is user-writable too;
    what it adds is protection against whoever answers for the URL (see docs/policy.md).
    """
    pub = layer.publication
    if pub is None:
        raise PolicyError(
            f"the org policy {what} carries no [publication] serial and issued time inside "
            "its signed bytes, so an older signed policy could be replayed in its place; "
            "add [publication] serial = N (higher than the last) and issued = <now> and sign "
            "it again"
        )
    issued = pub.issued.astimezone(dt.timezone.utc)
    if issued > now + CLOCK_SKEW:
        raise PolicyError(
            f"the org policy {what} says it was issued at {issued.isoformat()}, in the future; "
            "refusing it (check the signer's clock)"
        )
    floor = max(spec.min_serial, seen.serial if seen is not None else 0)
    if pub.serial < floor:
        origin = (
            f"the highest verified for {spec.url} on this machine"
            if seen is not None and seen.serial == floor
            else f"[remote] min_serial at {spec.source.where}"
        )
        raise PolicyError(
            f"the org policy {what} has serial {pub.serial}, lower than {floor} ({origin}): "
            "an older policy replayed in place of a newer one is never used"
        )
    sha = hashlib.sha256(body).hexdigest()
    if seen is not None and pub.serial == seen.serial and sha != seen.sha256:
        raise PolicyError(
            f"the org policy {what} has serial {pub.serial}, but other bytes than the policy "
            f"verified earlier with that serial; each published policy needs a new serial"
        )
    if spec.max_age > dt.timedelta(0) and now - issued > spec.max_age:
        raise PolicyError(
            f"the org policy {what} was issued at {issued.isoformat(timespec='seconds')}, "
            f'outside [remote] max_age = "{format_duration(spec.max_age)}" '
            f"({spec.source.where}); the org signs it again at least that often"
        )
    return pub


# -- entry point ----------------------------------------------------------------------------
def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def load_remote_layer(
    spec: RemoteSource,
    pointer: Path,
    env: Mapping[str, str],
    http: Http,
    *,
    now: dt.datetime | None = None,
) -> RemoteLayer:
    """Fetch, verify, check the freshness of, cache and parse the org policy ``spec`` names.

    Returns the org :class:`Layer` whose ``path`` is the verified copy in the cache (so
    ``file:line`` in messages points at a file a person can open) and a
    :class:`RemoteOrigin` naming the URL, signer, serial and issue time for ``policy show``.
    """
    now = now or _now()
    folder = cache_folder(spec, env)
    seen = _read_seen(spec, env)
    try:
        body, bundle = _download(spec, http)
    except Unreachable as exc:
        return _from_cache(spec, pointer, folder, seen, now, str(exc))
    what = f"fetched from {spec.url}"
    _verify(spec, body, bundle, folder, what)
    layer = _parse(spec, body, folder / POLICY_FILE, what)
    pub = _fresh(spec, layer, body, seen, now, what)
    _store(folder, spec, body, bundle, now)
    if seen is None or pub.serial > seen.serial:
        _record_seen(spec, env, pub, body)
    origin = RemoteOrigin(spec.url, spec.signer, pointer, now, pub)
    return RemoteLayer(layer, origin)


def _from_cache(
    spec: RemoteSource,
    pointer: Path,
    folder: Path,
    seen: Seen | None,
    now: dt.datetime,
    why: str,
) -> RemoteLayer:
    """The cached copy when the server is unreachable: re-verified, no older than the
    newest serial seen, and issued within ``max_age`` (by its signed time)."""
    if spec.max_age <= dt.timedelta(0):
        raise PolicyError(
            f"cannot fetch the org policy ({why}); {spec.source.where} sets no "
            "[remote] max_age, so a cached copy is never used offline"
        )
    try:
        body = (folder / POLICY_FILE).read_bytes()
        bundle = (folder / BUNDLE_FILE).read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            f"cannot fetch the org policy ({why}) and no verified copy is cached in {folder}"
        ) from None
    except OSError as exc:
        raise PolicyError(
            f"cannot fetch the org policy ({why}) and the cached copy in {folder} "
            f"is unreadable: {exc}"
        ) from exc
    what = f"cached from {spec.url} in {folder}"
    _verify(spec, body, bundle, folder, what)
    layer = _parse(spec, body, folder / POLICY_FILE, what)
    pub = _fresh(spec, layer, body, seen, now, what)
    issued = pub.issued.astimezone(dt.timezone.utc)
    origin = RemoteOrigin(spec.url, spec.signer, pointer, issued, pub, cached=True)
    age = format_duration(dt.timedelta(seconds=int(max((now - issued).total_seconds(), 0))))
    note = (
        f"org policy {spec.url} could not be fetched ({why}); using the cached copy with "
        f"serial {pub.serial}, issued at {issued.isoformat(timespec='seconds')} ({age} ago, "
        f'within max_age = "{format_duration(spec.max_age)}"), signature checked again'
    )
    return RemoteLayer(layer, origin, note)
