"""Build stage: source only becomes a wheel through the gate, and only where the policy allows.

Building runs the project's code (``setup.py``, a build backend), so a source tree or an
sdist is refused (``SDIST-REFUSED``, exit 1, with the policy key that would allow it)
unless ``[install] allow_sdist`` permits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from safe_pip.gate.inputs import InstallRequest
from safe_pip.gate.state import ArtifactRun, refused
from safe_pip.models import Finding, Severity

if TYPE_CHECKING:
    from safe_pip.policy.model import Policy

RULE = "SDIST-REFUSED"


def sdist_refused(what: str, why: str) -> Finding:
    """The finding for a build the policy does not allow, saying how to allow it."""
    return Finding(
        RULE,
        Severity.HIGH,
        f"{what} {why}: building runs the project's code before it can be scanned; the "
        "policy refuses it ([install] allow_sdist = false; set it to true in your policy to "
        "build through the gate)",
        what,
        {"policy_key": "install.allow_sdist"},
    )


def local_inputs(request: InstallRequest) -> list[str]:
    """The local trees and archives the user named, as they are shown in reports."""
    shown = []
    for req in request.build_candidates:
        where = req.local_path or req.url or str(req.requirement)
        spec = where + (f" ({req.origin})" if req.origin != "command line" else "")
        shown.append(f"-e {spec}" if req.editable else spec)
    return shown


def refuse_local(request: InstallRequest, policy: Policy) -> list[ArtifactRun]:
    """A refusal per local tree the user named, when the policy does not allow builds."""
    if policy.install.allow_sdist:
        return []
    out = []
    for spec in local_inputs(request):
        run = ArtifactRun(artifact=None, label=spec)
        run.findings.append(sdist_refused(spec, "requires a local build"))
        out.append(run)
    return out


def refuse_sdists(runs: Sequence[ArtifactRun], policy: Policy) -> None:
    """Mark source distributions and unbuildable references the policy does not allow."""
    for run in runs:
        art = run.artifact
        if art is None:
            continue
        if art.kind == "local":
            run.findings.append(
                Finding(
                    "INSTALL-UNVETTABLE",
                    Severity.HIGH,
                    f"{art.name} resolves to a local tree or VCS checkout ({art.url}), not a "
                    "file that could be hashed and scanned",
                    art.url,
                )
            )
        elif art.kind == "sdist" and not policy.install.allow_sdist:
            run.findings.append(sdist_refused(art.filename, "is a source distribution"))


def needs_fetch(run: ArtifactRun) -> bool:
    """Whether the artifact should be downloaded at all (refused ones are not)."""
    return run.artifact is not None and not any(
        f.rule_id in (RULE, "INSTALL-UNVETTABLE") for f in run.findings
    )


__all__ = ["local_inputs", "needs_fetch", "refuse_local", "refuse_sdists", "refused"]
