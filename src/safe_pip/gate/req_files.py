"""Requirement and constraint files, read line by line the way pip reads them.

The file-level lexing - continuation lines, comments, how a line splits into a
requirement and its options - is pip's own code as packaged by
pip-requirements-parser; ``${VAR}`` expansion follows pip's rule (upper-case
names only, unset or empty left as written). Each line's options are then parsed
with the *target* pip's requirement-file grammar (:mod:`.pip_options`), so
``--edit ./x`` is ``--editable`` exactly when that pip says so.

pip's quirks that decide what a file means are kept, because each was an attack:
- on an option line with ``-r``/``-c`` only the first nested file is read and the
  line's other options are ignored;
- ``--no-binary``/``--only-binary`` act even on a requirement line (pip's option
  callback changes the shared format control while parsing);
- other options on a requirement line are ignored, except ``--hash`` and
  ``--config-settings`` which belong to that requirement.
Remote files (``-r https://...``) are refused: safe-pip reads what it can show.
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pip_requirements_parser as prp  # type: ignore[import-untyped]

from safe_pip.errors import UsageError
from safe_pip.gate.pip_options import Occurrence, PipGrammar, PipGrammarError, parse_options

MAX_DEPTH = 32
MAX_FILE_BYTES = 16 * 1024 * 1024

_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_PEP263 = re.compile(rb"coding[:=]\s*([-\w.]+)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


class RequirementFileError(UsageError):
    """A requirement or constraint file safe-pip cannot read exactly; nothing runs."""


@dataclass(frozen=True)
class FileLine:
    """One logical line of a requirement or constraint file, parsed."""

    path: Path
    lineno: int
    requirement: str | None
    """The requirement text (``None`` on an option-only line)."""
    editable: bool
    constraint: bool
    options: tuple[Occurrence, ...]

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.lineno}"


def local_path(location: str) -> Path:
    """A ``-r`` argument as a path: plain, or a ``file:`` URL; remote ones are refused."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "file":
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise RequirementFileError(f"{location}: a file URL on another host")
        return Path(url2pathname(unquote(parts.path)))
    if scheme in ("http", "https"):
        raise RequirementFileError(
            f"{location}: safe-pip does not fetch requirement files; download it and name "
            "the local copy, so what is installed is what was read"
        )
    return Path(location)


def decode(data: bytes, path: Path) -> str:
    """pip's decoding (BOM, PEP 263 comment, UTF-8) without its locale fallback."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
    for line in data.split(b"\n")[:2]:
        if line[:1] == b"#" and (match := _PEP263.search(line)):
            try:
                return data.decode(match.group(1).decode("ascii"))
            except (LookupError, UnicodeDecodeError) as exc:
                raise RequirementFileError(f"{path}: cannot decode: {exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequirementFileError(
            f"{path}: not UTF-8 (pip would guess from the locale; declare the encoding "
            f"with a '# -*- coding: NAME -*-' line): {exc}"
        ) from exc


def _expand(line: str, environ: Mapping[str, str]) -> str:
    for name in dict.fromkeys(_ENV_VAR.findall(line)):
        value = environ.get(name)
        if value:
            line = line.replace("${" + name + "}", value)
    return line


def logical_lines(text: str, environ: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """Joined, comment-free, expanded lines with their first line number."""
    for item in prp.split_comments(prp.join_lines(enumerate(text.splitlines(), start=1))):
        if isinstance(item, prp.TextLine):
            yield item.line_number, _expand(item.line, environ)


def read_file(
    location: str,
    grammar: PipGrammar,
    environ: Mapping[str, str],
    *,
    constraint: bool = False,
    _stack: tuple[Path, ...] = (),
) -> Iterator[FileLine]:
    """Every line of ``location`` and the files it nests, in pip's order."""
    path = Path(os.path.abspath(local_path(location)))
    if path in _stack:
        raise RequirementFileError(f"{path} includes itself (via {' -> '.join(map(str, _stack))})")
    if len(_stack) >= MAX_DEPTH:
        raise RequirementFileError(f"{path}: requirement files nested deeper than {MAX_DEPTH}")
    if prp_is_pylock(path):
        raise RequirementFileError(
            f"{path}: pylock.toml lock files are not read by safe-pip yet; "
            "export the lock to a requirements file with hashes"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        kind = "constraint" if constraint else "requirements"
        raise RequirementFileError(f"cannot open {kind} file {location}: {exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise RequirementFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    stack = (*_stack, path)
    for lineno, line in logical_lines(decode(data, path), environ):
        where = f"{path}:{lineno}"
        args_str, options_str = prp.break_args_options(line)
        try:
            tokens = shlex.split(options_str)
        except ValueError as exc:
            raise RequirementFileError(f"{where}: cannot split options: {exc}") from exc
        try:
            parsed = parse_options(tokens, grammar.req_file)
        except PipGrammarError as exc:
            raise RequirementFileError(f"{where}: {exc} (in {line!r})") from exc
        opts = parsed.occurrences
        editables = [o for o in opts if o.option.dest == "editables"]
        if args_str:
            yield FileLine(path, lineno, args_str, False, constraint, opts)
            continue
        if editables:
            yield FileLine(path, lineno, str(editables[0].value), True, constraint, opts)
            continue
        nested = [o for o in opts if o.option.dest == "requirements"] or [
            o for o in opts if o.option.dest == "constraints"
        ]
        if nested:
            first = nested[0]
            target = str(first.value)
            if urlsplit(target).scheme.lower() not in ("http", "https", "file"):
                target = os.path.join(os.path.dirname(path), target)
            yield from read_file(
                target,
                grammar,
                environ,
                constraint=first.option.dest == "constraints",
                _stack=stack,
            )
            continue
        yield FileLine(path, lineno, None, False, constraint, opts)


def prp_is_pylock(path: Path) -> bool:
    """pip 25.1+'s lock-file names: ``pylock.toml`` and ``pylock.<name>.toml``."""
    name = path.name
    return name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml"))
