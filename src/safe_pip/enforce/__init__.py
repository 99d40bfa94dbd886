"""Org-wide enforcement: make the ``pip`` people already type go through safe-pip.

Two delivery mechanisms share one runtime (:mod:`safe_pip.enforce.dispatch`):

- shell functions (``safe-pip shell-init bash``) for interactive shells, which
  win over any ``PATH`` entry, including an activated virtual environment;
- ``PATH`` shims (``safe-pip shim install``) for non-interactive use, CI and
  system-wide roll-outs.

Both hand the user's arguments to the dispatcher, which classifies the pip
command (:mod:`.argv`), finds the environment the replaced pip belongs to
(:mod:`.discover`) and either runs ``safe-pip install`` or passes the command
to the real pip unchanged.  The escape hatch lives in :mod:`.escape`.
"""
