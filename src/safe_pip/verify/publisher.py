"""Who is expected to have signed: publisher and identity specifications.

Pure data and parsing, no sigstore import, so the policy layer and the CLI can
validate ``--publisher`` strings and policy entries cheaply.  Three kinds of
expectation exist:

``github:OWNER/REPO@WORKFLOW_FILE[#ENVIRONMENT]``
    A GitHub Actions Trusted Publisher.  The certificate must come from the
    GitHub Actions OIDC issuer, name ``https://github.com/OWNER/REPO`` as its
    source repository, and its Build Config URI must be that repository's
    ``.github/workflows/WORKFLOW_FILE`` at the signed ref.  The environment is
    not in the Fulcio certificate; it is compared with the publisher object of
    PEP 740 provenance (see :mod:`safe_pip.verify.provenance`).
``gitlab:NAMESPACE/PROJECT@WORKFLOW_FILEPATH``
    A GitLab CI Trusted Publisher (issuer ``https://gitlab.com``).
``google:SERVICE_ACCOUNT_EMAIL``
    A Google Cloud service account (issuer ``https://accounts.google.com``).

and a plain :class:`Identity` (certificate SAN plus OIDC issuer) for
``--cert-identity``/``--cert-oidc-issuer``, private indexes and model signatures.
Matching is exact: no globbing, no case folding, because a looser match is a
way to accept a look-alike repository.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"

_SEGMENT = r"[A-Za-z0-9_.-]+"
_GITHUB_RE = re.compile(
    rf"^(?P<repo>{_SEGMENT}/{_SEGMENT})@(?P<workflow>[A-Za-z0-9_.-]+\.ya?ml)"
    r"(?:#(?P<env>[^\s#]+))?$"
)
_GITLAB_RE = re.compile(rf"^(?P<repo>{_SEGMENT}(?:/{_SEGMENT})+)@(?P<path>[^\s@#]+\.ya?ml)$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PublisherSyntaxError(ValueError):
    """A publisher string that does not follow one of the documented forms."""


@dataclass(frozen=True)
class Publisher:
    """A Trusted Publisher the signing certificate must belong to.

    ``kind`` is ``github``, ``gitlab`` or ``google``.  For GitHub/GitLab
    ``repository`` is ``OWNER/REPO`` (``NAMESPACE/PROJECT``) and ``workflow``
    the workflow file name (GitLab: its path); for Google ``email`` is the
    service account.
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


@dataclass(frozen=True)
class Identity:
    """A certificate identity: the exact SAN and the exact OIDC issuer."""

    san: str
    issuer: str

    def __str__(self) -> str:
        return f"{self.san} (issuer {self.issuer})"


Expected = Publisher | Identity
"""One acceptable signer.  A list of them means "any one of these"."""


def parse_publisher(text: str) -> Publisher:
    """Parse ``github:…``, ``gitlab:…`` or ``google:…`` into a :class:`Publisher`.

    Raises :class:`PublisherSyntaxError` with the accepted forms, so a typo in a
    policy is a usage error and not a publisher that silently never matches.
    """
    kind, sep, rest = text.strip().partition(":")
    kind = kind.lower()
    if sep and kind == "github":
        m = _GITHUB_RE.match(rest)
        if m:
            return Publisher("github", m["repo"], m["workflow"], m["env"])
    elif sep and kind == "gitlab":
        m = _GITLAB_RE.match(rest)
        if m:
            return Publisher("gitlab", m["repo"], m["path"])
    elif sep and kind == "google" and _EMAIL_RE.match(rest):
        return Publisher("google", email=rest)
    raise PublisherSyntaxError(
        f"invalid publisher {text!r}; expected github:OWNER/REPO@WORKFLOW.yml[#ENVIRONMENT], "
        "gitlab:NAMESPACE/PROJECT@PATH/TO/.gitlab-ci.yml or google:SERVICE_ACCOUNT_EMAIL"
    )


def parse_expected(
    publishers: Sequence[str] = (),
    identities: Sequence[tuple[str, str]] = (),
) -> tuple[Expected, ...]:
    """Build the expectation list from publisher strings and (SAN, issuer) pairs."""
    out: list[Expected] = [parse_publisher(p) for p in publishers]
    for san, issuer in identities:
        if not san or not issuer:
            raise PublisherSyntaxError("an identity needs both a SAN and an OIDC issuer")
        out.append(Identity(san, issuer))
    return tuple(out)
