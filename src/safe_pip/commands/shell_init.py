"""safe-pip shell-init: not implemented yet (exits 2)."""

from __future__ import annotations

import argparse

from safe_pip.errors import NotImplementedYet

TAKES_UNKNOWN_ARGS = True


def register(parser: argparse.ArgumentParser) -> None:
    """No options yet; the issue that fills this command in adds them."""


def run(args: argparse.Namespace) -> int:
    raise NotImplementedYet("'safe-pip shell-init' is not implemented yet")
