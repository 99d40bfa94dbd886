"""The name a loader really imports for a pickled ``(module, name)``.

With ``fix_imports`` (the default) and a stream below protocol 3, ``find_class`` maps
Python 2 names to their Python 3 homes (``__builtin__.xrange`` → ``builtins.range``,
``copy_reg`` → ``copyreg``).  The C unpickler does not expose the stream's protocol to
a ``find_class`` override, so a name is judged both ways: a raw name that is not a
Python 3 module cannot be imported under protocol 3+ (the load fails there), and its
mapped name is what protocol 0–2 imports.
"""

from __future__ import annotations

import sys
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING


def canonical(module: str, name: str) -> tuple[str, str]:
    """Apply pickle's py2 → py3 mapping (what protocol 0–2 with fix_imports imports)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


def imported_names(module: str, name: str, own: frozenset[str]) -> list[tuple[str, str]]:
    """Every ``(module, name)`` a loader may import for this pickled name.

    The mapped name always (protocol 0–2); the raw one too when it differs and Python 3
    could import its module (a standard-library module, or one of the wheel's own
    top-level packages ``own``) — under protocol 3+ no mapping applies.
    """
    mapped = canonical(module, name)
    if mapped == (module, name):
        return [mapped]
    top = module.split(".", 1)[0]
    raw_importable = top in sys.stdlib_module_names or top in own
    return [mapped, (module, name)] if raw_importable else [mapped]
