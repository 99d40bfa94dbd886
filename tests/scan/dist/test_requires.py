"""Which distributions a wheel requires unconditionally, and the import names computed for them."""

from __future__ import annotations

from safe_pip.scan.dist.requires import required_imports

_METADATA = b"""Metadata-Version: 2.1
Name: mypkg
Version: 1.0
Requires-Dist: numpy>=1.18.5
Requires-Dist: Smart.Open>=1.8
Requires-Dist: Pyro4>=4.27; extra == "distributed"
Requires-Dist: pywin32; sys_platform == "win32"
Requires-Dist: this
Requires-Dist: not a requirement !!
Requires-Dist: scikit-learn

"""


def test_import_names_of_unconditional_requirements() -> None:
    """Normalised as PEP 503 with ``-`` as ``_``; extras and environment markers, standard
    library names and unreadable lines give none; nothing is looked up (scikit-learn's
    import name is not ``sklearn`` here, so it is simply not relaxed)."""
    assert required_imports(_METADATA) == {"numpy", "smart_open", "scikit_learn"}


def test_no_requirements() -> None:
    assert required_imports(b"Metadata-Version: 2.1\nName: x\nVersion: 1\n\n") == frozenset()
