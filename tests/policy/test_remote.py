"""The org policy fetched from an https URL with a sigstore bundle (``policy.remote``).

Everything is real: a throwaway sigstore (``tests/support/fakesigstore.py``: its
own CA, CT log and transparency log, real signatures) signs the policy file,
and a real HTTPS server on 127.0.0.1, with a certificate from a CA made in the
test and trusted through ``REQUESTS_CA_BUNDLE``, serves it.  safe-pip runs
the same code path as in production: TLS, status codes, the bundle check
against the pinned (here: the fake) trusted root, the cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safe_pip.errors import PolicyError
from safe_pip.policy.pins import Identity
from safe_pip.policy.remote import META_FILE, POLICY_FILE, cache_folder
from safe_pip.policy.remote_model import RemoteSource
from tests.policy.policy_machine import Machine
from tests.support import fakesigstore as fs

ISSUER = "https://token.actions.githubusercontent.com"
SAN = "https://github.com/acme/policy/.github/workflows/sign.yml@refs/heads/main"
OTHER_SAN = "https://github.com/mallory/policy/.github/workflows/sign.yml@refs/heads/main"
SIGNER = fs.Claims.github("acme/policy", "sign.yml", ref="refs/heads/main")
"""The org's real signing run, with the extensions Fulcio puts in its certificate."""


def publication(serial: int = 1, age: dt.timedelta = dt.timedelta(minutes=1)) -> bytes:
    """The signed ``[publication]`` table: a serial, and an issue time ``age`` ago."""
    issued = (dt.datetime.now(dt.timezone.utc) - age).replace(microsecond=0)
    return f"\n[publication]\nserial = {serial}\nissued = {issued.isoformat()}\n".encode()


RULES = b"""version = 1

[names]
deny = ["evil-remote-pkg"]

[install]
min_age = "2d"
"""
REMOTE_POLICY = RULES + publication()
PATH = "/org/policy.toml"


# -- a real HTTPS server on the loopback ----------------------------------------------------
@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A CA made now and a server certificate for 127.0.0.1 that it signed."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "safe-pip test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    out = Tls(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


@dataclass
class PolicyServer:
    """Serves ``files`` (path → bytes) over HTTPS; anything else is 404."""

    tls: Tls
    files: dict[str, bytes] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                code = server.status.get(self.path)
                body = server.files.get(self.path)
                if code is None:
                    code = 200 if body is not None else 404
                if code in (301, 302) and body is not None:
                    self.send_response(code)
                    self.send_header("Location", body.decode())
                    self.end_headers()
                    return
                payload = body if code == 200 and body is not None else b"no\n"
                self.send_response(code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.up = True

    def url(self, path: str = PATH) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Go down for good: the port then refuses connections."""
        if self.up:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)
            self.up = False


@pytest.fixture
def server(tls: Tls) -> Iterator[PolicyServer]:
    s = PolicyServer(tls)
    yield s
    s.stop()


# -- the fake sigstore and a machine whose org file points at the server --------------------
@dataclass
class Remote:
    machine: Machine
    server: PolicyServer
    fake: fs.FakeSigstore
    root: Path

    def publish(
        self,
        body: bytes = REMOTE_POLICY,
        *,
        san: str = SAN,
        suffix: str = ".sigstore.json",
        signed: bytes | None = None,
        claims: fs.Claims | None = None,
    ) -> None:
        """Serve ``body`` with a valid bundle over ``signed`` (default: body), by the org's
        signing run (``SIGNER``), the same workflow of another repository (``san``), or
        any ``claims``."""
        if claims is None:
            repo = san.removeprefix("https://github.com/").split("/.github/", 1)[0]
            claims = fs.Claims.github(repo, "sign.yml", ref="refs/heads/main")
            assert claims.san == san
        bundle = self.fake.hashedrekord_bundle(body if signed is None else signed, claims)
        self.server.files = {PATH: body, PATH + suffix: bundle}

    def point(self, extra: str = "", *, root: bool = True) -> None:
        """Write the local org file: a pointer to the server's policy."""
        lines = [
            "version = 1",
            "",
            "[remote]",
            f'url = "{self.server.url()}"',
            f'identity = "{SAN}"',
            f'issuer = "{ISSUER}"',
        ]
        if root:
            lines.append(f'trusted_root = "{self.root}"')
        self.machine.write(self.machine.org, "\n".join(lines) + "\n" + extra)

    def spec(self) -> RemoteSource:
        return RemoteSource(self.server.url(), Identity(SAN, ISSUER))

    def cache(self) -> Path:
        return cache_folder(self.spec(), self.machine.env)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.machine.cli(*args)


@pytest.fixture
def remote(
    machine: Machine,
    server: PolicyServer,
    tmp_path: Path,
    tls: Tls,
    monkeypatch: pytest.MonkeyPatch,
) -> Remote:
    fake = fs.FakeSigstore()
    root = fake.write_root(tmp_path / "fake_root.json")
    for name in ("NO_PROXY", "no_proxy"):  # the loopback server must not go through a proxy
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca))  # the in-process client trusts it too
    machine.env.update(
        SAFE_PIP_CACHE_DIR=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),  # the record of verified serials
        REQUESTS_CA_BUNDLE=str(tls.ca),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    r = Remote(machine, server, fake, root)
    r.point()
    return r


def error_of(remote: Remote) -> str:
    with pytest.raises(PolicyError) as info:
        remote.machine.load()
    return str(info.value)


# -- the cases -------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".sigstore.json", ".sigstore"])
def test_signed_remote_policy_becomes_the_org_layer(remote: Remote, suffix: str) -> None:
    remote.publish(suffix=suffix)
    policy = remote.machine.load()
    deny = policy.names.denied("evil-remote-pkg")
    assert deny is not None and deny.source.layer == "org"
    assert policy.install.min_age == dt.timedelta(days=2)
    org = policy.sources[0]
    assert org.layer == "org" and org.remote is not None
    assert org.remote.url == remote.server.url() and org.remote.identity == SAN
    assert org.remote.pointer == remote.machine.org and not org.remote.cached
    # Messages point at the verified copy, a file a person can open.
    assert org.path == remote.cache() / POLICY_FILE
    assert org.path.read_bytes() == REMOTE_POLICY
    assert deny.source.path == org.path and deny.source.line == 4

    shown = remote.cli("show")
    assert shown.returncode == 0, shown.stderr
    assert f"source: {remote.server.url()}" in shown.stdout
    assert f"signed by: {SAN} (issuer {ISSUER})" in shown.stdout
    assert f"named in: {remote.machine.org}" in shown.stdout
    assert '"evil-remote-pkg",' in shown.stdout


def test_dsse_bundle_naming_the_policy_is_accepted(remote: Remote) -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "policy.toml", "digest": {"sha256": hashlib.sha256(REMOTE_POLICY).hexdigest()}}
        ],
        "predicateType": "https://example.org/safe-pip-policy/v1",
        "predicate": {},
    }
    bundle = remote.fake.dsse_bundle(statement, SIGNER)
    remote.server.files = {PATH: REMOTE_POLICY, PATH + ".sigstore.json": bundle}
    assert remote.machine.load().names.denied("evil-remote-pkg") is not None
    remote.server.files[PATH] = REMOTE_POLICY + b"# changed\n"
    assert "digest-mismatch" in error_of(remote)


def test_lower_layers_can_only_tighten_the_remote_org_policy(remote: Remote) -> None:
    remote.publish()
    remote.machine.write(remote.machine.user, 'version = 1\n[install]\nmin_age = "1d"\n')
    with pytest.raises(PolicyError, match="would loosen the org's"):
        remote.machine.load()
    remote.machine.write(remote.machine.user, 'version = 1\n[names]\ndeny = ["more-evil"]\n')
    policy = remote.machine.load()
    assert policy.names.denied("more-evil") and policy.names.denied("evil-remote-pkg")


def test_signed_by_the_wrong_identity_is_refused(remote: Remote) -> None:
    remote.publish(san=OTHER_SAN)
    message = error_of(remote)
    assert "wrong-identity" in message and OTHER_SAN in message and SAN in message
    shown = remote.cli("show")
    assert shown.returncode == 2 and "wrong-identity" in shown.stderr
    assert not (remote.cache() / POLICY_FILE).exists()  # nothing unverified is kept


def test_tampered_policy_bytes_are_refused(remote: Remote) -> None:
    loosened = REMOTE_POLICY.replace(b'"evil-remote-pkg"', b'"harmless"')
    remote.publish(loosened, signed=REMOTE_POLICY)
    assert "digest-mismatch" in error_of(remote)


def test_missing_bundle_is_refused(remote: Remote) -> None:
    remote.server.files = {PATH: REMOTE_POLICY}
    message = error_of(remote)
    assert "no sigstore bundle" in message
    assert remote.server.requests == [PATH, PATH + ".sigstore.json", PATH + ".sigstore"]


def test_default_root_is_the_pinned_production_root(remote: Remote) -> None:
    """Without trusted_root the fake signature must fail: the production root is pinned."""
    remote.publish()
    remote.point(root=False)
    assert "wrong-root" in error_of(remote)


def test_signed_but_invalid_policy_is_refused_with_url_and_line(remote: Remote) -> None:
    remote.publish(b'version = 1\n[install]\nmin_age = "soon"\n')
    message = error_of(remote)
    assert f"{remote.server.url()}:3: install.min_age" in message
    remote.publish(b"version = 1\n[install\n")
    assert f"{remote.server.url()}:2: invalid TOML" in error_of(remote)
    chained = f'version = 1\n[remote]\nurl = "{remote.server.url("/b.toml")}"\n'
    chained += f'identity = "{SAN}"\nissuer = "{ISSUER}"\n'
    remote.publish(chained.encode())
    assert f"{remote.server.url()}:2: a fetched org policy may not name another" in (
        error_of(remote)
    )


def test_server_down_without_cache_is_refused(remote: Remote) -> None:
    remote.point('max_age = "1d"\n')
    remote.server.stop()
    message = error_of(remote)
    assert "cannot reach" in message and "no verified copy is cached" in message
    shown = remote.cli("show")
    assert shown.returncode == 2 and "no verified copy is cached" in shown.stderr


def test_server_down_with_fresh_cache_uses_it_and_says_so(remote: Remote) -> None:
    remote.point('max_age = "1d"\n')
    remote.publish()
    remote.machine.load()  # online: verified and cached
    remote.server.stop()
    policy = remote.machine.load()
    assert policy.names.denied("evil-remote-pkg") is not None
    org = policy.sources[0]
    assert org.remote is not None and org.remote.cached
    assert any("could not be fetched" in n and "max_age" in n for n in policy.notes)
    shown = remote.cli("show")
    assert shown.returncode == 0, shown.stderr
    assert "OFFLINE" in shown.stdout and "could not be fetched" in shown.stdout
    assert f"source: {remote.server.url()}" in shown.stdout


def test_without_max_age_the_cache_is_never_used(remote: Remote) -> None:
    remote.publish()
    remote.machine.load()
    remote.server.stop()
    assert "never used offline" in error_of(remote)


def test_stale_cache_beyond_max_age_is_refused(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    """max_age counts from the signed issue time: a copy signed 23 hours ago is fine now
    and stale two hours later, whatever the cache's own (user-writable) fetch time says."""
    remote.point('max_age = "1d"\n')
    remote.publish(RULES + publication(age=dt.timedelta(hours=23)))
    remote.machine.load()
    remote.server.stop()
    assert remote.machine.load().sources[0].remote is not None  # offline, still fresh
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    monkeypatch.setattr("safe_pip.policy.remote._now", lambda: later)
    meta_path = remote.cache() / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["verified_at"] = later.isoformat()  # what the attacker writes; never read
    meta_path.write_text(json.dumps(meta))
    assert "outside [remote] max_age" in error_of(remote)


def test_cached_copy_is_verified_again(remote: Remote) -> None:
    """The cache is user-writable: an edited copy must not become the org policy."""
    remote.point('max_age = "1d"\n')
    remote.publish()
    remote.machine.load()
    remote.server.stop()
    cached = remote.cache() / POLICY_FILE
    cached.write_bytes(cached.read_bytes().replace(b'"evil-remote-pkg"', b'"harmless"'))
    assert "digest-mismatch" in error_of(remote)


def test_a_bad_answer_never_falls_back_to_the_cache(remote: Remote) -> None:
    """Only an unreachable server may be covered by the cache, not a wrong answer."""
    remote.point('max_age = "1d"\n')
    remote.publish()
    remote.machine.load()
    remote.publish(san=OTHER_SAN)
    assert "wrong-identity" in error_of(remote)
    remote.server.status[PATH] = 403
    assert "HTTP 403" in error_of(remote)
    remote.server.status[PATH] = 503  # the service is down: the fresh cache applies
    org = remote.machine.load().sources[0]
    assert org.remote is not None and org.remote.cached


def test_redirect_to_plain_http_is_refused(remote: Remote) -> None:
    remote.publish()
    remote.server.status[PATH] = 302
    remote.server.files[PATH] = f"http://127.0.0.1:{remote.server.port}/x".encode()
    assert "https only" in error_of(remote)


def test_pointer_file_rules(remote: Remote) -> None:
    """Only version and [remote] in the pointer; [remote] only in the org layer."""
    remote.point("\n[install]\nallow_sdist = false\n")
    message = error_of(remote)
    assert f"{remote.machine.org}:9: 'install' cannot be set next to [remote]" in message
    remote.point()
    bad = remote.machine.write(
        remote.machine.root / "bad.toml",
        'version = 1\n[remote]\nurl = "http://example.invalid/p.toml"\nidentity = "x"\n',
    )
    checked = remote.cli("check", str(bad))
    assert checked.returncode == 1
    assert f"{bad}:3: remote.url" in checked.stderr and "missing required key 'issuer'" in (
        checked.stderr
    )
    assert remote.cli("check", str(remote.machine.org)).returncode == 0  # no fetch in check
    remote.publish()
    remote.machine.write(remote.machine.user, remote.machine.org.read_text())
    assert "only read from the org policy" in error_of(remote)


def test_install_refuses_when_the_remote_policy_does_not_verify(remote: Remote) -> None:
    remote.publish(san=OTHER_SAN)
    m = remote.machine
    env = {
        **os.environ,
        **m.env,
        "XDG_CACHE_HOME": str(m.root / "xdg-cache"),
        "XDG_STATE_HOME": str(m.root / "state"),
        "XDG_DATA_HOME": str(m.root / "d"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "safe_pip", "install", "--dry-run", "six"],
        cwd=m.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "wrong-identity" in result.stderr


def test_a_locked_remote_policy_ignores_lower_layers(remote: Remote) -> None:
    remote.publish(b"version = 1\nlocked = true\n" + REMOTE_POLICY.split(b"\n", 1)[1])
    remote.machine.write(remote.machine.user, 'version = 1\n[install]\nmin_age = "1d"\n')
    policy = remote.machine.load()
    assert policy.locked and policy.install.min_age == dt.timedelta(days=2)
    assert any("is locked" in n and str(remote.machine.user) in n for n in policy.notes)


# -- who may sign the org policy (issue 18) ----------------------------------------------------
LOOSE = b"version = 1\n\n[enforcement]\nescape_hatch = true\n"


def test_a_reusable_signing_workflow_called_elsewhere_cannot_sign_the_org_policy(
    remote: Remote,
) -> None:
    """acme's signing workflow is reusable: mallory's repository calls it and gets a
    certificate whose subject is exactly the pinned identity.  The org policy it signs
    turns the escape hatch on; it must never be used."""
    claims = fs.Claims.reusable("acme/policy", "sign.yml", caller="mallory/pwn")
    assert claims.san == SAN
    remote.publish(LOOSE, claims=claims)
    message = error_of(remote)
    assert "wrong-repository" in message and "mallory/pwn" in message
    assert not (remote.cache() / POLICY_FILE).exists()


def test_another_branch_cannot_sign_the_org_policy(remote: Remote) -> None:
    claims = fs.Claims.reusable(
        "acme/policy", "sign.yml", caller="acme/policy", ref="refs/heads/feature"
    )
    assert claims.san == SAN
    remote.publish(LOOSE, claims=claims)
    assert "wrong-ref" in error_of(remote)


def test_a_certificate_without_the_run_extensions_cannot_sign_the_org_policy(
    remote: Remote,
) -> None:
    claims = fs.Claims.github("acme/policy", "sign.yml", ref="refs/heads/main")
    claims.omit = ("12",)
    remote.publish(LOOSE, claims=claims)
    assert "wrong-repository" in error_of(remote)


def test_the_pointer_can_name_the_one_caller_of_a_shared_signing_workflow(
    remote: Remote,
) -> None:
    remote.point('repository = "https://github.com/acme/org-config"\nref = "refs/heads/main"\n')
    remote.publish(claims=fs.Claims.reusable("acme/policy", "sign.yml", caller="acme/org-config"))
    assert remote.machine.load().names.denied("evil-remote-pkg") is not None
    remote.publish(claims=fs.Claims.reusable("acme/policy", "sign.yml", caller="mallory/cfg"))
    assert "wrong-repository" in error_of(remote)


# -- freshness: a signed serial and issue time (issue 18) -------------------------------------
LOOSER = b"version = 1\n\n[enforcement]\nescape_hatch = true\n"


def test_a_policy_without_a_signed_publication_is_refused(remote: Remote) -> None:
    remote.publish(RULES)
    assert "carries no [publication] serial" in error_of(remote)


def test_a_replayed_older_serial_is_refused(remote: Remote) -> None:
    """Whoever answers for the URL replays last month's validly signed, looser policy."""
    remote.publish(RULES + publication(serial=7))
    remote.machine.load()
    remote.publish(LOOSER + publication(serial=6, age=dt.timedelta(days=30)))
    message = error_of(remote)
    assert "serial 6, lower than 7" in message and "highest verified" in message
    remote.publish(RULES + publication(serial=8))  # a newer one is taken, and raises the floor
    assert remote.machine.load().sources[0].remote is not None
    remote.publish(RULES + publication(serial=7))
    assert "lower than 8" in error_of(remote)


def test_one_serial_for_two_different_policies_is_refused(remote: Remote) -> None:
    remote.publish(RULES + publication(serial=3))
    remote.machine.load()
    remote.publish(LOOSER + publication(serial=3))
    assert "other bytes than the policy verified earlier with that serial" in error_of(remote)


def test_swapping_an_older_signed_policy_into_the_cache_and_going_offline_fails(
    remote: Remote,
) -> None:
    """The attack: a user process keeps last week's looser signed policy, puts it (and its
    bundle) into the cache, rewrites verified_at, and makes the URL unreachable."""
    remote.point('max_age = "3d"\n')
    remote.publish(LOOSER + publication(serial=1, age=dt.timedelta(days=2)))
    old_body, old_bundle = remote.server.files[PATH], remote.server.files[PATH + ".sigstore.json"]
    remote.machine.load()
    remote.publish(RULES + publication(serial=2))
    remote.machine.load()
    remote.server.stop()
    cache = remote.cache()
    (cache / POLICY_FILE).write_bytes(old_body)
    (cache / "policy.toml.sigstore.json").write_bytes(old_bundle)
    meta = json.loads((cache / META_FILE).read_text())
    meta["verified_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
    (cache / META_FILE).write_text(json.dumps(meta))
    assert "serial 1, lower than 2" in error_of(remote)


def test_without_the_serial_record_max_age_from_the_signed_time_still_holds(
    remote: Remote,
) -> None:
    """The record is user-writable too; deleting it leaves max_age, counted from the
    signed issue time, which the attacker cannot change."""
    remote.point('max_age = "1d"\n')
    remote.publish(LOOSER + publication(serial=1, age=dt.timedelta(hours=12)))
    stale = (remote.server.files[PATH], remote.server.files[PATH + ".sigstore.json"])
    remote.machine.load()
    remote.publish(RULES + publication(serial=2))
    remote.machine.load()
    remote.server.stop()
    for record in (remote.machine.root / "state").rglob("*.json"):
        record.unlink()
    (remote.cache() / POLICY_FILE).write_bytes(stale[0])
    (remote.cache() / "policy.toml.sigstore.json").write_bytes(stale[1])
    assert remote.machine.load().enforcement.escape_hatch  # the honest residual: within max_age
    remote.publish(LOOSER + publication(serial=1, age=dt.timedelta(days=2)))
    old = remote.server.files
    (remote.cache() / POLICY_FILE).write_bytes(old[PATH])
    (remote.cache() / "policy.toml.sigstore.json").write_bytes(old[PATH + ".sigstore.json"])
    assert "outside [remote] max_age" in error_of(remote)


def test_max_age_bounds_a_policy_fetched_online_too(remote: Remote) -> None:
    """A fresh machine has no serial record: a month-old policy is still refused."""
    remote.point('max_age = "7d"\n')
    remote.publish(LOOSER + publication(serial=9, age=dt.timedelta(days=30)))
    assert "outside [remote] max_age" in error_of(remote)


def test_a_policy_issued_in_the_future_is_refused(remote: Remote) -> None:
    remote.publish(RULES + publication(age=-dt.timedelta(days=1)))
    assert "in the future" in error_of(remote)


def test_min_serial_in_the_pointer_is_a_floor_on_a_fresh_machine(remote: Remote) -> None:
    remote.point("min_serial = 5\n")
    remote.publish(LOOSER + publication(serial=4))
    message = error_of(remote)
    assert "lower than 5" in message and "min_serial" in message
    remote.publish(RULES + publication(serial=5))
    assert remote.machine.load().names.denied("evil-remote-pkg") is not None


def test_an_unreadable_serial_record_fails_closed(remote: Remote) -> None:
    remote.publish()
    remote.machine.load()
    (record,) = (remote.machine.root / "state").rglob("*.json")
    record.write_text("{not json")
    assert "cannot be read" in error_of(remote)


def test_show_names_the_serial_and_issue_time(remote: Remote) -> None:
    remote.publish(RULES + publication(serial=12))
    shown = remote.cli("show")
    assert shown.returncode == 0, shown.stderr
    assert "serial 12, issued at" in shown.stdout


def test_publication_is_read_only_from_the_org_policy(remote: Remote) -> None:
    remote.publish()
    remote.machine.write(remote.machine.user, "version = 1\n" + publication().decode())
    assert "[publication] is only read from the org policy" in error_of(remote)
    checked = remote.cli("check", str(remote.machine.user))
    assert checked.returncode == 0  # a signed org file on its own is valid
    bad = remote.machine.write(
        remote.machine.root / "bad.toml",
        "version = 1\n[publication]\nserial = 0\nissued = 2026-01-01T00:00:00\n",
    )
    checked = remote.cli("check", str(bad))
    assert checked.returncode == 1
    assert f"{bad}:3: publication.serial" in checked.stderr
    assert f"{bad}:4: publication.issued" in checked.stderr and "time zone" in checked.stderr
