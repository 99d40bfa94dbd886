"""Parse a safe-pip JSON report and check it against the committed JSON Schema.

Every test that reads a command's ``--format json`` output goes through :func:`load_report`,
so the schema is checked on every real report the suite produces, not only on samples.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator


@cache
def validator() -> Draft202012Validator:
    text = resources.files("safe_pip.report").joinpath("schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_report(doc: Any) -> dict[str, Any]:
    """``doc`` if it is a valid report; else fail with every violation listed."""
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise AssertionError("report does not match schema.json:\n" + "\n".join(lines))
    assert isinstance(doc, dict)
    return doc


def load_report(text: str) -> dict[str, Any]:
    return check_report(json.loads(text))
