"""The ``[remote]`` and ``[publication]`` tables and how a fetched org policy was obtained.

Only an org policy that points at a signed file (``[remote]``), or is one
(``[publication]``), has these; they live apart from :mod:`safe_pip.policy.model` so
that loading a policy without them (every ``safe-pip scan`` on a machine without a
remote org policy) neither creates these classes nor imports the signer pins.
Read by :mod:`safe_pip.policy.parse` and used by :mod:`safe_pip.policy.remote`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from safe_pip.policy import values as v
from safe_pip.policy.keys import BUILTIN, SourceRef, embed, entry_field, path_value, plain
from safe_pip.policy.pins import Identity


@dataclass(frozen=True)
class RemoteSource:
    """``[remote]`` in the local org file: where the signed org policy lives.

    The local file is only a pointer; the policy that applies is the fetched file, and
    only if a sigstore bundle over its exact bytes verifies against ``trusted_root``
    (``None`` = the production root pinned in :mod:`safe_pip.verify.trust`) with a
    certificate matching ``signer`` (identity, issuer and the run's source repository and
    ref, see :mod:`safe_pip.policy.pins`).
    """

    url: str = entry_field(plain(v.https_url), doc="https URL of the signed org policy")
    signer: Identity = embed(Identity, doc="who must have signed it")
    trusted_root: Path | None = entry_field(
        path_value, None, doc="sigstore trusted root (default: the pinned production root)"
    )
    max_age: dt.timedelta = entry_field(
        plain(v.duration),
        dt.timedelta(0),
        doc="how old a cached copy may be when the URL cannot be reached (0: never offline)",
    )
    bundle: str | None = entry_field(
        plain(v.https_url),
        None,
        doc='the bundle URL (default: url + ".sigstore.json", then ".sigstore")',
    )
    min_serial: int = entry_field(
        plain(v.non_negative_int),
        0,
        doc="the lowest [publication] serial accepted, even on a machine that never saw one",
    )
    source: SourceRef = field(default=SourceRef("org"), compare=False)


@dataclass(frozen=True)
class Publication:
    """``[publication]`` inside a signed org policy: its place in the org's sequence.

    Part of the signed bytes, so nobody but the signer can change it: ``serial`` must
    grow with every policy published at a URL (safe-pip refuses a lower one than it has
    verified), and ``issued`` is when it was signed (``max_age`` counts from it).
    """

    serial: int = entry_field(
        plain(v.positive_int), doc="grows with every policy published at this URL"
    )
    issued: dt.datetime = entry_field(
        plain(v.toml_datetime), doc="when it was signed, with a time zone"
    )
    source: SourceRef = field(default=BUILTIN, compare=False)


@dataclass(frozen=True)
class RemoteOrigin:
    """How a fetched org policy was obtained: shown by ``policy show``.

    ``cached`` is true when the URL could not be reached and the cached copy was used
    instead: its signature verified again, its signed ``publication.issued`` within the
    pointer's ``max_age``, its serial no lower than the newest seen.  ``verified_at`` is
    when it was fetched (for a cached copy: when it was issued); nothing is decided by it.
    """

    url: str
    signer: Identity
    pointer: Path
    """The local org file whose ``[remote]`` table names the URL and signer."""
    verified_at: dt.datetime
    publication: Publication
    cached: bool = False

    @property
    def identity(self) -> str:
        return self.signer.san

    @property
    def issuer(self) -> str:
        return self.signer.issuer
