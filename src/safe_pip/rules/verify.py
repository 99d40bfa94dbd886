"""Rules of the signature step: sigstore bundles, PEP 740 attestations, model.sig."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_PIN = (
    'Fix the expectation in [signatures] (publisher = "github:OWNER/REPO@WORKFLOW.yml", '
    "or identity + issuer) if the project really moved; otherwise do not install it."
)
_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date, "
    "bound to the file's sha256."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "SIG-MISSING",
        "Required signature or attestation is missing",
        S.HIGH,
        'The policy requires this package to be signed (require = "listed" with an '
        'identity for it, or require = "always"), but no PEP 740 provenance, attestation '
        "or sigstore bundle was found for the file. An attacker who replaces a file on a "
        "mirror usually cannot produce one, so its absence blocks.",
        'Set [signatures] require = "available" for this package if it does not publish '
        "attestations, or use an [[exception]].",
    ),
    Rule(
        "SIG-INVALID",
        "Signature or attestation does not verify",
        S.HIGH,
        "A signature exists but does not verify against the pinned trusted root: the file's "
        "sha256 differs from the signed one, the signature is for another distribution, the "
        "certificate does not chain to the trusted root (for example a staging signature), "
        "the transparency-log proof is broken, or the signature file is truncated or not "
        "JSON. detail.reason says which. A bad signature always blocks.",
        _EXC,
    ),
    Rule(
        "SIG-WRONG-PUBLISHER",
        "Validly signed, but not by the expected publisher",
        S.HIGH,
        "The signature is cryptographically valid, but the certificate names another "
        "repository, workflow, environment, SAN or OIDC issuer than the policy expects for "
        "this package. This is what a compromised fork or a look-alike project looks like.",
        _PIN,
    ),
    Rule(
        "SIG-UNPINNED",
        "Valid signature from an identity the policy does not pin",
        S.INFO,
        "The signature verifies against the trusted root, but the policy names no expected "
        "publisher or identity for this package, so anyone with a sigstore certificate "
        "could have made it. Reported so the signer can be pinned.",
        "Nothing to allow; pin the reported signer under [signatures] to make it binding.",
    ),
    Rule(
        "MODEL-SIG-INVALID",
        "OpenSSF model signature does not verify",
        S.HIGH,
        "The package ships a model folder with an OpenSSF model.sig that fails: a file's "
        "digest differs from the signed manifest, files were added or removed, the signer "
        "is not the expected identity, or the signature itself is invalid.",
        _EXC,
    ),
    Rule(
        "MODEL-SIG-UNVERIFIABLE",
        "OpenSSF model signature cannot be checked",
        S.MEDIUM,
        "The model.sig is signed with a plain key (or uses a manifest format safe-pip does "
        "not support) and the policy gives no key for it, so nothing was proven.",
        "Give the public key for this package in [signatures], or use an [[exception]].",
    ),
)
