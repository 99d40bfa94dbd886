"""The pinned sigstore trusted root: where verification's trust comes from.

Why pinned: sigstore's convenience constructors (``Verifier.production()``)
refresh a TUF repository over the network and otherwise fall back to a cache in
the home directory that any process of the user can rewrite.  An install gate
must give the same answer offline and must not take its root of trust from a
writable cache, so safe-pip only ever uses

* the production ``trusted_root.json`` embedded in the installed ``sigstore``
  wheel (the default; it changes only when the sigstore package is upgraded), or
* a file the policy (or ``--trusted-root``) names, for a private sigstore
  deployment or a root refreshed on purpose.

Refreshing over TUF happens only in :func:`refresh_trusted_root`, which the
``safe-pip verify --refresh-trusted-root FILE`` command calls explicitly; the
result is written to a file that the policy can then pin.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.verify.errors import TrustRootError

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

#: Folder names inside ``sigstore/_store`` (the URL-quoted TUF repositories).
_PRODUCTION_STORE = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
_STAGING_STORE = "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev"
_TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def embedded_root_json(*, staging: bool = False) -> bytes:
    """The trusted root shipped inside the installed sigstore package.

    Staging is offered only so tests can show that staging material fails
    against production; policy never selects it.
    """
    store = _STAGING_STORE if staging else _PRODUCTION_STORE
    try:
        return (resources.files("sigstore") / "_store" / store / "trusted_root.json").read_bytes()
    except (OSError, ModuleNotFoundError) as exc:
        raise TrustRootError(
            f"the sigstore package's embedded trusted root is missing ({exc}); "
            "reinstall sigstore or pin a root with --trusted-root"
        ) from exc


def _extract_root(raw: bytes, origin: str) -> bytes:
    """Accept a bare trusted root or a ClientTrustConfig that wraps one."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustRootError(f"trusted root {origin} is not JSON: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("trustedRoot"), dict):
        doc = doc["trustedRoot"]
    if not isinstance(doc, dict) or doc.get("mediaType") != _TRUSTED_ROOT_TYPE:
        raise TrustRootError(
            f"trusted root {origin} is not a sigstore trusted root "
            f"(mediaType must be {_TRUSTED_ROOT_TYPE!r})"
        )
    return json.dumps(doc).encode()


def load_trusted_root(path: Path | None = None) -> TrustedRoot:
    """Load the pinned root: ``path`` if given, else the embedded production root.

    Never touches the network or the TUF cache.  Raises :class:`TrustRootError`
    (exit 2) when the file is missing or not a trusted root, because that is a
    configuration problem, not a verdict about an artifact.
    """
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    if path is None:
        raw, origin = embedded_root_json(), "embedded in sigstore"
    else:
        origin = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise TrustRootError(f"cannot read trusted root {path}: {exc.strerror}") from exc
    body = _extract_root(raw, origin)
    try:
        return TrustedRoot(trustroot_v1.TrustedRoot.from_json(body))
    except Exception as exc:  # pydantic/sigstore raise many types for a bad root
        raise TrustRootError(f"trusted root {origin} is invalid: {exc}") from exc


def make_verifier(path: Path | None = None) -> Verifier:
    """A sigstore ``Verifier`` bound to the pinned root (no TUF, no network)."""
    from sigstore.verify import Verifier

    root = load_trusted_root(path)
    try:
        return Verifier(trusted_root=root)
    except Exception as exc:
        raise TrustRootError(f"trusted root cannot be used for verification: {exc}") from exc


def refresh_trusted_root(dest: Path, *, staging: bool = False) -> Path:
    """Fetch the current root over TUF and write it to ``dest`` for pinning.

    This is the only function in safe-pip that goes to the network for trust
    material, and only when a person runs the refresh command.  TUF verifies
    the new root against the one embedded in sigstore before it is written.
    """
    from sigstore.models import ClientTrustConfig

    try:
        config = ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
        body: str = config.trusted_root._inner.to_json()
    except Exception as exc:
        raise TrustRootError(f"could not refresh the trusted root over TUF: {exc}") from exc
    dest.write_text(body, encoding="utf-8")
    return dest
