"""The policy layer: one TOML schema, four layers, tighten-only merging.

Public API (everything else in this package is an implementation detail):

- :func:`load_policy` — the effective policy for this machine and folder
  (org → user → project → ``--policy``); raises
  :class:`~safe_pip.errors.PolicyError` with ``file:line`` on any problem.
- :func:`resolve_policy` — the same, but returns loosening conflicts instead
  of raising (``policy show`` uses it to make the merge visible).
- :func:`check_files` — validate files on their own (``policy check``).
- :class:`Policy` and its parts (see ``safe_pip.policy.model``):
  ``names``, ``index``, ``install``, ``hashes``, ``signatures``, ``scan``,
  ``packages``, ``exceptions``, ``audit``, ``enforcement``, ``digest()``,
  ``sources`` (each a :class:`LayerInfo`; ``.remote`` is a :class:`RemoteOrigin`
  when the org layer was fetched from a URL), ``origin(key)``, ``for_package(name, version)``,
  ``global_allowed(module, name, package, version)``.
- :func:`shipped_policy_text` — the shipped ``default``/``strict``/``org`` profiles.
"""

from typing import TYPE_CHECKING, Any

from safe_pip.policy.keys import Conflict, SourceRef
from safe_pip.policy.model import (
    AuditPolicy,
    EnforcementPolicy,
    HashesPolicy,
    IndexPolicy,
    InstallPolicy,
    LayerInfo,
    NamePattern,
    NamesPolicy,
    PackagePolicy,
    PackageRule,
    Policy,
    PolicyException,
    ScanLimits,
    ScanPolicy,
    SignaturesPolicy,
)

if TYPE_CHECKING:
    from safe_pip.policy.layering import MergeResult
    from safe_pip.policy.load import check_files, load_policy, resolve_policy
    from safe_pip.policy.pins import Identity, Pin, Publisher
    from safe_pip.policy.remote_model import RemoteOrigin
    from safe_pip.policy.shipped import PROFILES, shipped_policy_text

_LAZY = {
    "Identity": "safe_pip.policy.pins",
    "Pin": "safe_pip.policy.pins",
    "Publisher": "safe_pip.policy.pins",
    "RemoteOrigin": "safe_pip.policy.remote_model",
    "PROFILES": "safe_pip.policy.shipped",
    "shipped_policy_text": "safe_pip.policy.shipped",
    "MergeResult": "safe_pip.policy.layering",
    "check_files": "safe_pip.policy.load",
    "load_policy": "safe_pip.policy.load",
    "resolve_policy": "safe_pip.policy.load",
}


def __getattr__(name: str) -> Any:
    """Loading (files, the network, sigstore), the signer pins, the remote org policy's
    types and the shipped profiles (importlib.resources) are imported on first use:
    ``safe-pip --help`` and a short ``safe-pip scan`` use none of them."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'safe_pip.policy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "PROFILES",
    "AuditPolicy",
    "Conflict",
    "EnforcementPolicy",
    "HashesPolicy",
    "Identity",
    "IndexPolicy",
    "InstallPolicy",
    "LayerInfo",
    "MergeResult",
    "NamePattern",
    "NamesPolicy",
    "PackagePolicy",
    "PackageRule",
    "Pin",
    "Policy",
    "PolicyException",
    "Publisher",
    "RemoteOrigin",
    "ScanLimits",
    "ScanPolicy",
    "SignaturesPolicy",
    "SourceRef",
    "check_files",
    "load_policy",
    "resolve_policy",
    "shipped_policy_text",
]
