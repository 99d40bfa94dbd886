"""Every input pip would read, read by safe-pip with pip's own grammar.

Arguments, requirement and constraint files (recursively), ``PIP_*`` variables and every
pip configuration file are reduced to named requirements plus explicit index and network
settings. Nothing else reaches pip: the final pip runs isolated with a generated file only.

Interface contract (shared by the gate's stages; keep names stable, extend freely).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement


@dataclass(frozen=True)
class IndexSettings:
    """Where packages may come from and how to reach them, after every input is merged."""

    index_url: str | None
    """The primary index (from the user or pip's configuration; pip's default if neither)."""
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    proxy: str | None = None
    timeout: float | None = None
    retries: int | None = None


@dataclass(frozen=True)
class RequirementInput:
    """One requirement the user asked for, with where it was written."""

    requirement: Requirement
    """Name, extras, specifier, marker; ``url`` for a direct reference."""
    origin: str
    """For messages: ``command line``, ``requirements.txt:12``, ``PIP_REQUIREMENT``..."""
    hashes: frozenset[str] = frozenset()
    """``sha256:<hex>`` values from ``--hash``."""
    editable: bool = False
    local_path: str | None = None
    """A local tree or archive the user named (a build candidate), as an absolute path."""


@dataclass(frozen=True)
class ResolveOptions:
    """pip options that change what is chosen (not where it is installed)."""

    pre: bool = False
    upgrade: bool = False
    upgrade_strategy: str = "only-if-needed"
    force_reinstall: bool = False
    ignore_installed: bool = False
    no_deps: bool = False
    prefer_binary: bool = False
    require_hashes: bool = False
    no_binary: frozenset[str] = frozenset()
    """Canonical names (or ``:all:``) the user asked to build from source."""


@dataclass(frozen=True)
class InstallRequest:
    """What the user asked pip to install, fully read; the only thing later stages see."""

    requirements: tuple[RequirementInput, ...]
    constraints: tuple[RequirementInput, ...]
    index: IndexSettings
    options: ResolveOptions
    install_args: tuple[str, ...] = ()
    """Placement and behaviour options repeated in the final, isolated pip call
    (``--user``, ``--prefix``, ``--target``, ``--root``, ``--no-compile``...)."""
