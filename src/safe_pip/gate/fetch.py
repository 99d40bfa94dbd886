"""Fetch: every network and file read of the gate, bounded, and the quarantine it fills.

Two kinds of reads go through one :class:`Fetcher` per run:

* **index pages** (PEP 503 HTML, PEP 691 JSON, find-links pages, PEP 658 ``.metadata``
  files, signature sidecars): read fully into memory, so they are capped in *decompressed*
  size — a gzip-bombed page is refused after ``max_page`` bytes, never inflated whole — and
  each URL is read **once per run**: resolution, the yanked and minimum-age checks and the
  signature lookups all get the same bytes from the page cache, so the index cannot show them
  different answers and is not asked twice;
* **artifacts**: streamed into the content-addressed quarantine
  (``quarantine/ab/abcdef.../<original filename>``) while hashing, refused past
  ``max_download`` bytes, renamed into place only when the digest equals the hash the index
  advertised. The file pip installs at the end is the file stored here.

Every request has a connect timeout, a read timeout (silence between bytes) and a total
deadline, so a slow or stalling index ends in :class:`FetchError` instead of hanging the gate.
Any failure raises :class:`FetchError`; callers fail closed.

Connection settings follow pip's (certificate bundle, client certificate, trusted hosts,
proxy, credentials embedded in index URLs, ``~/.netrc``) so a user who can ``pip install``
can ``safe-pip install``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

import platformdirs

from safe_pip.errors import FetchError

if TYPE_CHECKING:
    import requests

__all__ = [
    "Bounds",
    "FetchError",
    "Fetched",
    "Fetcher",
    "HashMismatch",
    "NetSettings",
    "Quarantine",
    "cache_dir",
    "credentials_from_urls",
    "fetch_all",
    "hash_file",
]

CHUNK = 1 << 16
MiB = 1 << 20
GiB = 1 << 30
#: What an index page request accepts: PEP 691 JSON first, HTML as the fallback (pip's order).
PAGE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


K = TypeVar("K")
V = TypeVar("V")


class Once(Generic[K, V]):
    """Compute each key's value once across threads; later callers wait for the first.

    Failures are remembered as well, so one run sees one answer per page, never a retry
    that an index could answer differently.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[K, Future[V]] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            future = self._table.get(key)
            owner = future is None
            if future is None:
                future = self._table[key] = Future()
        if owner:
            try:
                future.set_result(make())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()


@dataclass(frozen=True)
class Bounds:
    """Limits on every read; policy ``[network]`` settings, these defaults otherwise.

    The defaults are generous enough for the largest real wheels (CUDA builds of torch are
    under 2.5 GiB; the biggest public simple pages are a few MiB) and tight enough that a
    hostile or broken index cannot exhaust memory or hold the gate forever.
    """

    connect_timeout: float = 15.0
    """Seconds to establish a connection."""
    read_timeout: float = 60.0
    """Seconds of silence allowed between two reads."""
    deadline: float = 900.0
    """Seconds one request may take in total (a trickling server is cut off)."""
    max_download: int = 4 * GiB
    """Bytes one artifact may have."""
    max_page: int = 64 * MiB
    """Bytes one index page, metadata file or sidecar may have once decompressed."""
    retries: int = 2
    """Extra attempts after a failed connection (never after bytes were received)."""


class HashMismatch(FetchError):
    """The downloaded bytes differ from the hash the index advertised."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{url}: downloaded bytes have sha256 {actual}, but the index advertised {expected}"
        )
        self.url = url
        self.expected = expected
        self.actual = actual


def cache_dir() -> Path:
    """safe-pip's cache root (``SAFE_PIP_CACHE_DIR`` overrides the platform default)."""
    override = os.environ.get("SAFE_PIP_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("safe-pip"))


@dataclass(frozen=True)
class NetSettings:
    """The subset of pip's network configuration that every read must honour."""

    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    credentials: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """``host[:port]`` → (user, password), taken from index URLs that embed them."""
    bounds: Bounds = field(default_factory=Bounds)
    index_urls: tuple[str, ...] = ()
    """Index URLs from the command line and pip's configuration (may embed credentials)."""
    https_only: bool = False
    """Refuse every plain-http request, redirects included, before it is sent (the org
    policy loader: a hop to http would let anyone on the path answer)."""


def credentials_from_urls(urls: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Collect ``user:password@`` from index URLs: file URLs on those hosts need them too."""
    creds: dict[str, tuple[str, str]] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.username and parts.hostname:
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            creds.setdefault(host, (unquote(parts.username), unquote(parts.password or "")))
    return creds


def redact(url: str) -> str:
    """``url`` without a password, for messages and reports."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _strip_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if not parts.username:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), auth


def strip_auth(url: str) -> str:
    """``url`` without ``user:password@`` (for comparing and labelling sources)."""
    return _strip_auth(url)[0]


def file_url_path(url: str) -> Path:
    """The local path of a ``file:`` URL; other hosts are refused (pip reads only local)."""
    parts = urlsplit(url.split("#", 1)[0])
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"{url}: file URLs on other hosts are not supported")
    return Path(url2pathname(unquote(parts.path)))


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Quarantine:
    """Content-addressed store of downloaded artifacts."""

    root: Path

    @classmethod
    def default(cls) -> Quarantine:
        return cls(cache_dir() / "quarantine")

    def path_for(self, sha256: str, filename: str) -> Path:
        if "/" in filename or "\\" in filename or filename in ("", ".", ".."):
            raise FetchError(f"refusing unsafe file name {filename!r}")
        return self.root / sha256[:2] / sha256 / filename

    def lookup(self, sha256: str, filename: str) -> Path | None:
        """A stored file, re-hashed so a tampered cache entry is never trusted."""
        path = self.path_for(sha256, filename)
        if not path.is_file():
            return None
        if hash_file(path) != sha256:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return path

    def store_stream(
        self,
        chunks: Iterable[bytes],
        filename: str,
        *,
        expected_sha256: str | None,
        url: str,
        max_bytes: int | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> tuple[Path, str, int]:
        """Write chunks to a temp file while hashing; move into place by digest."""
        self.path_for("00", filename)  # refuse an unsafe name before writing anything
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".partial-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise FetchError(
                            f"{url}: larger than the download cap of {max_bytes} bytes "
                            "([network] max_download)"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if expected_sha256 is not None and actual != expected_sha256.lower():
                raise HashMismatch(url, expected_sha256.lower(), actual)
            final = self.path_for(actual, filename)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return final, actual, size
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


@dataclass(frozen=True)
class Fetched:
    url: str
    path: Path
    sha256: str
    size: int
    cached: bool


@dataclass(frozen=True)
class Page:
    """One document read in full (an index page, a metadata file, a sidecar)."""

    url: str
    """The URL asked for (without credentials)."""
    content: bytes
    content_type: str
    final_url: str
    """Where the document really came from after redirects (relative links resolve here)."""


class _Inflater:
    """Decompress a ``Content-Encoding`` stream without ever producing more than the cap."""

    def __init__(self, encoding: str, cap: int, url: str) -> None:
        self.url = url
        self.cap = cap
        self.size = 0
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._obj: Any = None
        elif enc in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._obj = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or raw-gzip header
        else:
            raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            yield self._count(data)
            return
        while data:
            out = self._obj.decompress(data, self.cap - self.size + 1)
            yield self._count(out)
            data = self._obj.unconsumed_tail

    def _count(self, out: bytes) -> bytes:
        self.size += len(out)
        if self.size > self.cap:
            raise FetchError(
                f"{self.url}: larger than {self.cap} bytes once decompressed ([network] max_page)"
            )
        return out


class Fetcher:
    """Bounded reads with pip's network settings; one per run, shared by every stage.

    Thread-safe: downloads and page reads run in parallel from a thread pool, and two
    threads asking for the same page wait for one read.
    """

    def __init__(self, quarantine: Quarantine, settings: NetSettings | None = None) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.quarantine = quarantine
        self.settings = settings or NetSettings()
        self.bounds = self.settings.bounds
        self.session = requests.Session()
        retry = Retry(
            total=self.bounds.retries,
            connect=self.bounds.retries,
            read=0,
            status=0,
            other=0,
            backoff_factor=0.1,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=16, max_retries=retry)
        self.session.mount(
            "http://", _https_only_adapter() if self.settings.https_only else adapter
        )
        self.session.mount("https://", adapter)
        if self.settings.proxy:
            self.session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        if self.settings.client_cert:
            self.session.cert = self.settings.client_cert
        self.session.headers["User-Agent"] = "safe-pip"
        self._pages: Once[str, Page] = Once()
        self.on_fetched: Callable[[Fetched], None] | None = None
        """Told of every artifact :meth:`fetch` returns (the pipeline starts scanning and
        looking for the signatures of wheels the resolver brings in)."""
        self.page_reads = 0
        """How many documents were really read (not served from the page cache)."""

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection details ---------------------------------------------------------------

    def _verify_for(self, host: str) -> bool | str:
        bare = host.rsplit("@", 1)[-1]
        if bare in self.settings.trusted_hosts or bare.split(":")[0] in self.settings.trusted_hosts:
            return False
        return self.settings.cert or True

    def _auth_for(self, url: str) -> tuple[str, tuple[str, str] | None]:
        bare, auth = _strip_auth(url)
        if auth is None:
            parts = urlsplit(bare)
            host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
            auth = self.settings.credentials.get(host) or self.settings.credentials.get(
                parts.hostname or ""
            )
        return bare, auth  # None → requests falls back to ~/.netrc

    @contextlib.contextmanager
    def _open(self, url: str, headers: Mapping[str, str]) -> Iterator[requests.Response]:
        """A streamed HTTP response with status checked; every error as FetchError."""
        import requests

        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"{redact(url)}: unsupported URL scheme {scheme!r}")
        bare, auth = self._auth_for(url)
        try:
            resp = self.session.get(
                bare,
                headers=dict(headers),
                auth=auth,
                stream=True,
                timeout=(self.bounds.connect_timeout, self.bounds.read_timeout),
                verify=self._verify_for(urlsplit(bare).netloc),
            )
        except requests.exceptions.SSLError as exc:  # someone answered, with the wrong cert
            raise FetchError(f"cannot fetch {bare}: TLS failed: {_reason(exc)}") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FetchError(f"cannot fetch {bare}: {_reason(exc)}", unreachable=True) from exc
        except requests.RequestException as exc:
            raise FetchError(f"cannot fetch {bare}: {_reason(exc)}") from exc
        try:
            if resp.status_code >= 400:
                raise FetchError(
                    f"cannot fetch {bare}: HTTP {resp.status_code} {resp.reason or ''}".rstrip(),
                    status=resp.status_code,
                )
            yield resp
        finally:
            resp.close()

    def _chunks(self, resp: requests.Response, url: str, started: float) -> Iterator[bytes]:
        """Raw body chunks as they arrive (``read1``: one socket read each, so the total
        deadline is checked between reads and a trickling server is cut off in time)."""
        import requests
        import urllib3

        deadline = self.bounds.deadline
        raw = resp.raw
        try:
            while True:
                if time.monotonic() - started > deadline:
                    raise FetchError(
                        f"{url}: not finished within the deadline of {deadline:g}s "
                        "([network] deadline)"
                    )
                chunk = raw.read1(CHUNK, decode_content=False)
                if not chunk:
                    return
                yield chunk
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"cannot read {url}: {_reason(exc)}") from exc

    # -- documents (pages) --------------------------------------------------------------------

    def page(self, url: str, *, accept: str = PAGE_ACCEPT) -> Page:
        """Read a document once per run (errors are remembered too) and return it."""
        key = url.split("#", 1)[0]
        return self._pages.get(key, lambda: self._read_page(key, accept))

    def get(self, url: str, *, accept: str | None = None) -> bytes:
        """A small document's bytes (shared page cache); FetchError on any failure."""
        return self.page(url, accept=accept or PAGE_ACCEPT).content

    def _read_page(self, url: str, accept: str) -> Page:
        cap = self.bounds.max_page
        if url.startswith("file:"):
            path = file_url_path(url)
            try:
                with path.open("rb") as fh:
                    data = fh.read(cap + 1)
            except OSError as exc:
                raise FetchError(f"cannot read {path}: {exc}") from exc
            if len(data) > cap:
                raise FetchError(f"{path}: larger than {cap} bytes ([network] max_page)")
            ctype = "text/html" if path.suffix.lower() in (".html", ".htm") else ""
            return Page(url, data, ctype, url)
        started = time.monotonic()
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        with self._open(url, headers) as resp:
            self.page_reads += 1
            bare = resp.url or url
            inflater = _Inflater(resp.headers.get("Content-Encoding", ""), cap, bare)
            parts: list[bytes] = []
            for chunk in self._chunks(resp, bare, started):
                if len(chunk) > cap:
                    raise FetchError(f"{bare}: larger than {cap} bytes ([network] max_page)")
                parts.extend(inflater.feed(chunk))
            return Page(url, b"".join(parts), resp.headers.get("Content-Type", ""), bare)

    # -- artifacts ----------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        expected_sha256: str | None,
        filename: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Fetched:
        """Bring one artifact into quarantine (or find it there) and return where it is.

        ``filename``: the name the caller judged the file by (the resolver's). The stored copy
        carries exactly that name, because pip decides from the name alone whether a file is
        a wheel to unpack or a source archive to build: the name the scanner, the identity
        check and the final pip see must be one name. Without it (documents such as the
        intel database), the last segment of the URL's path.
        """
        got = self._fetch(url, expected_sha256, filename, on_bytes)
        if self.on_fetched is not None:
            self.on_fetched(got)
        return got

    def _fetch(
        self,
        url: str,
        expected_sha256: str | None,
        filename: str | None,
        on_bytes: Callable[[int], None] | None,
    ) -> Fetched:
        bare_url = url.split("#", 1)[0]
        if filename is None:
            filename = unquote(urlsplit(bare_url).path.rsplit("/", 1)[-1])
        if expected_sha256:
            hit = self.quarantine.lookup(expected_sha256.lower(), filename)
            if hit is not None:
                return Fetched(url, hit, expected_sha256.lower(), hit.stat().st_size, True)
        if bare_url.startswith("file:"):
            return self._fetch_file(bare_url, filename, expected_sha256, on_bytes)
        return self._fetch_http(bare_url, filename, expected_sha256, on_bytes)

    def _fetch_file(
        self,
        url: str,
        filename: str,
        expected: str | None,
        on_bytes: Callable[[int], None] | None,
    ) -> Fetched:
        source = file_url_path(url)
        try:
            with source.open("rb") as fh:
                path, sha, size = self.quarantine.store_stream(
                    iter(lambda: fh.read(1 << 20), b""),
                    filename,
                    expected_sha256=expected,
                    url=url,
                    max_bytes=self.bounds.max_download,
                    on_bytes=on_bytes,
                )
        except OSError as exc:
            raise FetchError(f"cannot read {source}: {exc}") from exc
        return Fetched(url, path, sha, size, False)

    def _fetch_http(
        self,
        url: str,
        filename: str,
        expected: str | None,
        on_bytes: Callable[[int], None] | None,
    ) -> Fetched:
        started = time.monotonic()
        cap = self.bounds.max_download
        with self._open(url, {"Accept-Encoding": "identity"}) as resp:
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise FetchError(
                    f"{redact(url)}: {length} bytes, over the download cap of {cap} bytes "
                    "([network] max_download)"
                )
            try:
                path, sha, size = self.quarantine.store_stream(
                    self._chunks(resp, redact(url), started),
                    filename,
                    expected_sha256=expected,
                    url=redact(url),
                    max_bytes=cap,
                    on_bytes=on_bytes,
                )
            except OSError as exc:
                raise FetchError(f"cannot store {redact(url)} in quarantine: {exc}") from exc
        if length.isdigit() and int(length) != size:
            raise FetchError(f"{redact(url)}: truncated ({size} of {length} bytes)")
        return Fetched(url, path, sha, size, False)


def https_client() -> Fetcher:
    """The gate's client for documents that must come over https only (the org policy
    named by a ``[remote]`` pointer): a redirect to plain http is refused before it is sent.

    The policy package never imports the gate; commands and the server pass this to
    ``load_policy(http=...)``.
    """
    return Fetcher(Quarantine.default(), NetSettings(https_only=True))


def _https_only_adapter() -> Any:
    from requests.adapters import BaseAdapter

    class HttpsOnly(BaseAdapter):
        """Mounted for ``http://`` when ``NetSettings.https_only``: nothing is sent."""

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            import requests

            raise requests.exceptions.InvalidSchema(
                f"refusing to fetch {redact(str(request.url))}: https only"
            )

        def close(self) -> None:
            pass

    return HttpsOnly()


def _reason(exc: BaseException) -> str:
    """The innermost useful message of a requests/urllib3 error chain."""
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."


class Wanted(Protocol):
    """What the fetch stage needs of a resolved artifact (``ResolvedArtifact`` has it)."""

    @property
    def url(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def advertised_sha256(self) -> str | None: ...
    @property
    def local_file(self) -> Path | None: ...
    @property
    def sha256(self) -> str | None: ...


def fetch_all(
    wanted: Sequence[Wanted],
    fetcher: Fetcher,
    *,
    workers: int = 8,
    on_bytes: Callable[[int], None] | None = None,
    on_done: Callable[[Wanted], None] | None = None,
) -> list[Fetched | FetchError]:
    """The fetch stage: every artifact in quarantine, in parallel, in ``wanted``'s order.

    A file the resolver already downloaded (it had to read METADATA from the wheel) is taken
    as it is, not downloaded again. Each failure is returned in its place, so the caller can
    say which artifact failed; any failure must block the install.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(item: Wanted) -> Fetched | FetchError:
        try:
            have = item.local_file
            if have is not None and item.sha256 is not None and have.is_file():
                return Fetched(item.url, have, item.sha256, have.stat().st_size, True)
            return fetcher.fetch(
                item.url,
                expected_sha256=item.advertised_sha256,
                filename=item.filename,
                on_bytes=on_bytes,
            )
        except FetchError as exc:
            return exc
        finally:
            if on_done is not None:
                on_done(item)

    if not wanted:
        return []
    with ThreadPoolExecutor(max(1, min(workers, len(wanted))), "safe-pip-fetch") as pool:
        return list(pool.map(one, wanted))


def fetch_stage(
    runs: Sequence[Any],
    fetcher: Fetcher,
    progress: Callable[[int, str], Any],
    todo: Callable[[Any], bool],
) -> None:
    """The pipeline's fetch stage over its ``ArtifactRun`` records (``run.artifact`` is a
    ``ResolvedArtifact``): files the resolver already downloaded are reused, the rest are
    downloaded in parallel. A hash mismatch is an ``INSTALL-HASH-MISMATCH`` finding on its
    artifact; any other failure raises :class:`FetchError` (nothing is installed)."""
    from safe_pip.models import Finding, Severity

    chosen = [r for r in runs if todo(r)]
    bar = progress(len(chosen), "downloading")
    try:
        results = fetch_all(
            [r.artifact for r in chosen],
            fetcher,
            on_done=lambda art: bar.advance(art.url.rsplit("/", 1)[-1]),
        )
    finally:
        bar.close()
    errors: list[str] = []
    for run, got in zip(chosen, results, strict=True):
        if isinstance(got, HashMismatch):
            run.findings.append(
                Finding(
                    "INSTALL-HASH-MISMATCH",
                    Severity.CRITICAL,
                    str(got),
                    run.artifact.filename,
                    {"expected": got.expected, "actual": got.actual, "url": got.url},
                )
            )
        elif isinstance(got, FetchError):
            errors.append(str(got))
        else:
            run.path, run.sha256, run.size, run.cached_file = (
                got.path,
                got.sha256,
                got.size,
                got.cached,
            )
    if errors:
        raise FetchError("; ".join(errors[:3]) + ("" if len(errors) <= 3 else " ..."))


def bounds_from_policy(network: Any) -> Bounds:
    """:class:`Bounds` from the policy's ``[network]`` table."""
    return Bounds(
        connect_timeout=network.connect_timeout,
        read_timeout=network.read_timeout,
        deadline=network.deadline,
        max_download=network.max_download,
        max_page=network.max_page,
    )
