"""Fetch: download every artifact once into a content-addressed quarantine.

The file pip installs at the end is the file stored here, named by its own
sha256 (``quarantine/ab/abcdef.../<original filename>``), so "the bytes
installed are the bytes scanned" holds by construction.  Downloads stream to a
temporary file in the same directory while hashing; the file is renamed into
place only when its digest equals the hash the index advertised.  A mismatch is
refused (the index or something between lied), and so is any network error:
fetch fails closed.

Connection settings follow pip's (certificate bundle, client certificate,
trusted hosts, proxy, credentials embedded in index URLs, ``~/.netrc``) so a
user who can ``pip install`` can ``safe-pip install``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import platformdirs

from safe_pip.errors import NetworkError

CHUNK = 1 << 20
TIMEOUT = 60.0
MAX_REDIRECTS = 5


class FetchError(NetworkError):
    """A download failed or could not be verified; nothing is installed."""


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
    """The subset of pip's network configuration that downloads must honour."""

    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    credentials: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """``host[:port]`` → (user, password), taken from index URLs that embed them."""
    timeout: float = TIMEOUT
    index_urls: tuple[str, ...] = ()
    """Index URLs from the command line and pip's configuration (may embed credentials)."""


def credentials_from_urls(urls: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Collect ``user:password@`` from index URLs: pip's report redacts them from file URLs."""
    creds: dict[str, tuple[str, str]] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.username and parts.hostname:
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            creds.setdefault(host, (unquote(parts.username), unquote(parts.password or "")))
    return creds


def _strip_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if not parts.username:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), auth


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
        on_bytes: Callable[[int], None] | None = None,
    ) -> tuple[Path, str, int]:
        """Write chunks to a temp file while hashing; move into place by digest."""
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
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
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


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Fetched:
    url: str
    path: Path
    sha256: str
    size: int
    cached: bool


class Fetcher:
    """Downloads with pip's network settings; one ``requests.Session`` per run."""

    def __init__(self, quarantine: Quarantine, settings: NetSettings | None = None) -> None:
        import requests

        self.quarantine = quarantine
        self.settings = settings or NetSettings()
        self.session = requests.Session()
        if self.settings.proxy:
            self.session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        if self.settings.client_cert:
            self.session.cert = self.settings.client_cert
        self.session.headers["User-Agent"] = "safe-pip"

    def close(self) -> None:
        self.session.close()

    def _verify_for(self, host: str) -> bool | str:
        if host in self.settings.trusted_hosts or any(
            host.split(":")[0] == t for t in self.settings.trusted_hosts
        ):
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

    def get(
        self,
        url: str,
        *,
        accept: str | None = None,
        limit: int | None = None,
        https_only: bool = False,
    ) -> bytes:
        """A small document (an index page, a signature, a policy): fully read.

        ``limit`` caps the body (a larger one is refused, never truncated).  With
        ``https_only`` redirects are followed by hand and a hop to anything but https is
        refused *before* it is requested.  Errors are :class:`FetchError` carrying the
        HTTP status, or ``unreachable`` when no server answered.
        """
        import requests

        bare, auth = self._auth_for(url)
        headers = {"Accept": accept} if accept else {}
        for _ in range(MAX_REDIRECTS + 1):
            if https_only and urlsplit(bare).scheme != "https":
                raise FetchError(f"refusing to fetch {bare}: https only")
            host = urlsplit(bare).netloc.rsplit("@", 1)[-1]
            try:
                with self.session.get(
                    bare,
                    headers=headers,
                    auth=auth,
                    timeout=self.settings.timeout,
                    verify=self._verify_for(host),
                    stream=True,
                    allow_redirects=not https_only,
                ) as resp:
                    if https_only and resp.is_redirect and "location" in resp.headers:
                        bare, auth = self._auth_for(urljoin(bare, resp.headers["location"]))
                        continue
                    resp.raise_for_status()
                    body = bytearray()
                    for chunk in resp.iter_content(CHUNK):
                        body += chunk
                        if limit is not None and len(body) > limit:
                            raise FetchError(f"{bare} is larger than {limit} bytes; refusing it")
                    return bytes(body)
            except requests.exceptions.SSLError as exc:
                # Not "the network is down": someone answered with the wrong certificate.
                raise FetchError(f"cannot fetch {bare}: TLS failed: {exc}") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise FetchError(f"cannot fetch {bare}: {exc}", unreachable=True) from exc
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                raise FetchError(f"cannot fetch {bare}: {exc}", status=status) from exc
            except requests.RequestException as exc:
                raise FetchError(f"cannot fetch {bare}: {exc}") from exc
        raise FetchError(f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects")

    def fetch(
        self,
        url: str,
        *,
        expected_sha256: str | None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Fetched:
        """Bring one artifact into quarantine (or find it there) and return where it is."""
        bare_url = url.split("#", 1)[0]
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
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(f"{url}: file URLs on other hosts are not supported")
        source = Path(url2pathname(unquote(parts.path)))
        try:
            with source.open("rb") as fh:
                path, sha, size = self.quarantine.store_stream(
                    iter(lambda: fh.read(CHUNK), b""),
                    filename,
                    expected_sha256=expected,
                    url=url,
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
        import requests

        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"{url}: unsupported URL scheme {scheme!r}")
        bare, auth = self._auth_for(url)
        host = urlsplit(bare).netloc
        try:
            with self.session.get(
                bare,
                auth=auth,
                stream=True,
                timeout=self.settings.timeout,
                verify=self._verify_for(host),
                headers={"Accept-Encoding": "identity"},
            ) as resp:
                resp.raise_for_status()
                path, sha, size = self.quarantine.store_stream(
                    resp.iter_content(CHUNK),
                    filename,
                    expected_sha256=expected,
                    url=bare,
                    on_bytes=on_bytes,
                )
        except requests.RequestException as exc:
            raise FetchError(f"cannot download {bare}: {exc}") from exc
        except OSError as exc:
            raise FetchError(f"cannot store {bare} in quarantine: {exc}") from exc
        return Fetched(url, path, sha, size, False)
