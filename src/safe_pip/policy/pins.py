"""Signer pins: who must have signed, as the policy, ``[remote]`` and the CLI write it.

One type for every place a signer is named (``[[package]] publisher``, the ``[remote]``
signer of the org policy, ``safe-pip verify --publisher/--cert-identity``), checked
against the certificate by :mod:`safe_pip.verify._sigstore`.  Pure data and grammar: no
sigstore import, so parsing a policy stays cheap.

``github:OWNER/REPO@WORKFLOW_FILE[#ENVIRONMENT]``
    A GitHub Actions Trusted Publisher: the certificate's source repository (Fulcio
    extension 1.3.6.1.4.1.57264.1.12) is ``https://github.com/OWNER/REPO`` and its build
    config (…1.18) is that repository's ``.github/workflows/WORKFLOW_FILE`` at the signed
    ref; ``#ENVIRONMENT`` must be the deployment environment the certificate carries
    (…1.23), never one stated by unsigned provenance.
``gitlab:NAMESPACE/PROJECT@WORKFLOW_FILEPATH[#ENVIRONMENT]``
    The same for GitLab CI (issuer ``https://gitlab.com``).
``google:SERVICE_ACCOUNT_EMAIL``
    A Google Cloud service account (issuer ``https://accounts.google.com``).
``{ identity = SAN, issuer = URL, repository = URI, ref = REF, workflow = PATH, ... }``
    A certificate identity.  ``identity`` and ``issuer`` are exact; the rest bind the run
    that signed.  Why they exist: a CI certificate's subject names the *workflow file*,
    and a reusable workflow gives the same subject to every repository that calls it.
    So when the certificate names a source repository, it must be ``repository`` (or,
    when that is not given, the repository the subject lies in), and its source ref must
    be ``ref`` (or the ``@ref`` the subject ends with).

Matching is exact: no globbing, no case folding, because a looser match is a way to
accept a look-alike repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safe_pip.policy import values as v
from safe_pip.policy.keys import Context, SourceRef, entry_field, from_table, plain

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"

_SEGMENT = r"[A-Za-z0-9_.-]+"
_ENV = r"(?:#(?P<env>[^\s#]+))?"
# Patterns as text, compiled (and cached) by ``re`` on first use: only a publisher pin needs them.
_GITHUB_RE = rf"^(?P<repo>{_SEGMENT}/{_SEGMENT})@(?P<workflow>[A-Za-z0-9_.-]+\.ya?ml){_ENV}$"
_GITLAB_RE = rf"^(?P<repo>{_SEGMENT}(?:/{_SEGMENT})+)@(?P<path>[^\s@#]+\.ya?ml){_ENV}$"
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class PublisherSyntaxError(ValueError):
    """A publisher string that does not follow one of the documented forms."""


@dataclass(frozen=True)
class Publisher:
    """A Trusted Publisher the signing certificate must belong to.

    ``kind`` is ``github``, ``gitlab`` or ``google``.  For GitHub/GitLab ``repository``
    is ``OWNER/REPO`` (``NAMESPACE/PROJECT``) and ``workflow`` the workflow file name
    (GitLab: its path); for Google ``email`` is the service account.
    """

    kind: str
    repository: str = ""
    workflow: str = ""
    environment: str | None = None
    email: str = ""

    def __str__(self) -> str:
        if self.kind == "google":
            return f"google:{self.email}"
        env = f"#{self.environment}" if self.environment else ""
        return f"{self.kind}:{self.repository}@{self.workflow}{env}"


def _repository_uri(value: object) -> str:
    text = v.https_url(value)
    if text.endswith("/"):
        raise ValueError(f'"{text}" must name the repository without a trailing slash')
    return text


def _issuer(value: object) -> str:
    text = v.string(value)
    if not text.startswith("https://"):
        raise ValueError(f'issuer must be an https URL, got "{text}"')
    return text


@dataclass(frozen=True)
class Identity:
    """A certificate identity: exact SAN and OIDC issuer, bound to the run that signed."""

    san: str = entry_field(
        plain(v.string), toml="identity", doc="the certificate's subject (SAN), exactly"
    )
    issuer: str = entry_field(plain(_issuer), doc="the OIDC issuer Fulcio recorded, exactly")
    repository: str | None = entry_field(
        plain(_repository_uri),
        None,
        doc="source repository URI the run was for (default: the one the SAN lies in)",
    )
    ref: str | None = entry_field(
        plain(v.string), None, doc="source ref of the run (default: the SAN's @ref)"
    )
    workflow: str | None = entry_field(
        plain(v.string), None, doc="top-level workflow path in the repository (build config)"
    )
    environment: str | None = entry_field(
        plain(v.string), None, doc="deployment environment the certificate must carry"
    )

    @property
    def kind(self) -> str:
        return "identity"

    def __str__(self) -> str:
        extra = [
            f"{name} {value}"
            for name, value in (
                ("repository", self.repository),
                ("ref", self.ref),
                ("workflow", self.workflow),
                ("environment", self.environment),
            )
            if value
        ]
        return f"{self.san} (issuer {', '.join([self.issuer, *extra])})"


Pin = Publisher | Identity
"""One acceptable signer.  A list of them means "any one of these"."""
Expected = Pin


def parse_publisher(text: str) -> Publisher:
    """Parse ``github:…``, ``gitlab:…`` or ``google:…`` into a :class:`Publisher`.

    Raises :class:`PublisherSyntaxError` with the accepted forms, so a typo in a policy is
    a usage error and not a publisher that silently never matches.
    """
    kind, sep, rest = text.strip().partition(":")
    kind = kind.lower()
    if sep and kind == "github":
        m = re.match(_GITHUB_RE, rest)
        if m:
            return Publisher("github", m["repo"], m["workflow"], m["env"])
    elif sep and kind == "gitlab":
        m = re.match(_GITLAB_RE, rest)
        if m:
            return Publisher("gitlab", m["repo"], m["path"], m["env"])
    elif sep and kind == "google" and re.match(_EMAIL_RE, rest):
        return Publisher("google", email=rest)
    raise PublisherSyntaxError(
        f"invalid publisher {text!r}; expected github:OWNER/REPO@WORKFLOW.yml[#ENVIRONMENT], "
        "gitlab:NAMESPACE/PROJECT@PATH/TO/.gitlab-ci.yml[#ENVIRONMENT] or "
        "google:SERVICE_ACCOUNT_EMAIL"
    )


def parse_expected(
    publishers: Sequence[str] = (),
    identities: Sequence[tuple[str, str]] = (),
) -> tuple[Pin, ...]:
    """Pins from publisher strings and (SAN, issuer) pairs (command-line flags)."""
    out: list[Pin] = [parse_publisher(p) for p in publishers]
    for san, issuer in identities:
        if not san or not issuer:
            raise PublisherSyntaxError("an identity needs both a SAN and an OIDC issuer")
        out.append(Identity(san, issuer))
    return tuple(out)


class _CommandLine:
    """The context of a pin typed on a command line (no file, no line)."""

    @property
    def base(self) -> Path:
        return Path.cwd()

    def source(self, item: str | None = None) -> SourceRef:
        return SourceRef("cli")


def identity_from(fields: Mapping[str, str]) -> Identity:
    """An identity pin from command-line values, checked like a policy table (ValueError)."""
    return from_table(Identity, dict(fields), _CommandLine(), "identity")


def _one_pin(value: object, ctx: Context) -> Pin:
    if isinstance(value, str):
        try:
            return parse_publisher(value)
        except PublisherSyntaxError as exc:
            raise ValueError(f"{exc}, or a table {{ identity = ..., issuer = ... }}") from None
    if isinstance(value, dict):
        return from_table(Identity, value, ctx, "publisher")
    raise ValueError(f"expected a publisher string or table, got {v.type_name(value)}")


def parse_pins(value: object, ctx: Context) -> tuple[Pin, ...]:
    """``publisher = "github:…"``, a table, or an array of either."""
    raw = value if isinstance(value, list) else [value]
    return tuple(_one_pin(item, ctx) for item in raw)


def show_pins(pins: Sequence[Pin]) -> str:
    """Pins written back as TOML (``policy show``)."""
    texts: list[str] = []
    for pin in pins:
        if isinstance(pin, Identity):
            parts = [f"identity = {v.literal(pin.san)}", f"issuer = {v.literal(pin.issuer)}"]
            for name in ("repository", "ref", "workflow", "environment"):
                value: Any = getattr(pin, name)
                if value:
                    parts.append(f"{name} = {v.literal(value)}")
            texts.append("{ " + ", ".join(parts) + " }")
        else:
            texts.append(v.literal(str(pin)))
    return "[" + ", ".join(texts) + "]"
