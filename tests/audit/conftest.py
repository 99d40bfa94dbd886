"""Reuse the install gate's session venv template and per-test HOME."""

from tests.install.conftest import home, venv_template  # noqa: F401
