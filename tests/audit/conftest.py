"""Reuse the install gate's session venv template and per-test HOME."""

from tests.gate.conftest import home, venv_template  # noqa: F401
