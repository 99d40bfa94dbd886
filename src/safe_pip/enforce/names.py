"""Which command names the shims and shell functions stand in for.

``pip``, ``pip3`` and ``pipX.Y`` always; ``python``/``python3``/``pythonX.Y``
only to catch ``-m pip`` (everything else they run is handed straight to the
real interpreter).  Versions 3.8-3.15 are listed so that a shell function
exists whichever interpreter a user later installs.
"""

from __future__ import annotations

import sys

MINORS = tuple(range(8, 16))


def pip_names() -> tuple[str, ...]:
    return ("pip", "pip3", *(f"pip3.{m}" for m in MINORS))


def python_names() -> tuple[str, ...]:
    return ("python", "python3", *(f"python3.{m}" for m in MINORS))


def current_versioned() -> tuple[str, str]:
    """``pip3.N``/``python3.N`` of the running interpreter (always shimmed)."""
    v = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"pip{v}", f"python{v}"
