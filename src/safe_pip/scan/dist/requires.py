"""What a wheel's METADATA requires unconditionally, and the import names standing for it.

A requirement without an environment marker (``numpy>=1.18``, not ``pytest; extra ==
"test"`` and not ``pywin32; sys_platform == "win32"``) is installed wherever the wheel is:
pip cannot install the wheel without it.  Its code is then on the user's machine with the
wheel's own, and two judgements lean on that: torch's ``weights_only`` default
(``loads.py``) and a pickle that only *stores* a name of such a distribution (the pickle
analysis, ``PICKLE-GLOBAL-VALUE``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from email.parser import BytesParser

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def requires_dist(metadata: bytes) -> list[str]:
    """The ``Requires-Dist`` lines of a METADATA document."""
    msg = BytesParser().parsebytes(metadata, headersonly=True)
    return [str(v) for v in msg.get_all("Requires-Dist") or []]


def unconditional(lines: Iterable[str]) -> list[Requirement]:
    """The requirements without any marker (an unreadable line counts as none)."""
    out: list[Requirement] = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None:
            out.append(req)
    return out


def required_imports(metadata: bytes) -> frozenset[str]:
    """Import names of the distributions the wheel unconditionally requires.

    The name is computed, never looked up: the PEP 503 normal form with ``-`` as ``_``
    (``numpy`` → ``numpy``, ``smart-open`` → ``smart_open``).  A distribution whose
    import name differs (``scikit-learn`` installs ``sklearn``) simply gets no relaxation.
    A name the standard library has is left out: ``import`` finds the standard module
    first, which is not the required distribution's code.
    """
    names: set[str] = set()
    for req in unconditional(requires_dist(metadata)):
        name = canonicalize_name(req.name).replace("-", "_")
        if name.isidentifier() and name not in sys.stdlib_module_names:
            names.add(name)
    return frozenset(names)
