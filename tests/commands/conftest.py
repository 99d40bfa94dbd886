"""The install gate's session venv template and per-test HOME, for the audit command."""

from tests.gate.conftest import home, venv_template  # noqa: F401
