"""Policy file → :class:`Layer`, collecting every problem.

Validation is strict and exhaustive: ``policy check`` lists *all* problems with
``file:line`` in one run, and loading refuses a file with any problem (fail closed: a
broken org policy must never silently become "no policy").

What a file may contain comes only from the key declarations in
:mod:`safe_pip.policy.model` (see :mod:`safe_pip.policy.keys`): the reader walks the TOML
data and the declared tables side by side, one key at a time.  A key is therefore a path,
never a joined string: ``"install.allow_sdist" = true`` is a single key with a dot in its
name, which no table declares, and is reported as unknown with its line, whereas
``install.allow_sdist = true`` (unquoted, a dotted key) is the ``allow_sdist`` key of the
``install`` table.

A :class:`Layer` records only what its file actually *set*: the difference between "the
org said ``allow_sdist = false``" and "the org said nothing" is what makes tighten-only
layering possible (an unset key bounds nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safe_pip.policy import _toml
from safe_pip.policy import values as v
from safe_pip.policy.keys import (
    BadItem,
    LayerName,
    Member,
    SourceRef,
    by_name,
    read_entry,
    unknown_message,
)
from safe_pip.policy.model import SCHEMA_VERSION, Policy
from safe_pip.policy.remote_model import Publication, RemoteSource

PYPROJECT_TABLE = ("tool", "safe-pip")
DOCUMENT_KEYS = ("version", "remote", "publication")
"""Top-level keys that describe the file rather than set a policy key."""


@dataclass(frozen=True)
class Setting:
    """One key a file set, e.g. ``install.min_age = "7d"`` at line 12."""

    key: str
    value: Any
    source: SourceRef


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, located for a person."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Layer:
    """What one file set, in one layer (org, user, project or cli)."""

    layer: LayerName
    path: Path
    settings: tuple[Setting, ...] = ()
    collected: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Items of accumulating keys (``names.deny``, ``packages``, ``exceptions``) by key."""
    remote: RemoteSource | None = None
    publication: Publication | None = None
    """``[publication]``: serial and issue time of a signed org policy."""

    def get(self, key: str) -> Setting | None:
        return next((s for s in self.settings if s.key == key), None)

    def items(self, key: str) -> tuple[Any, ...]:
        return next((found for name, found in self.collected if name == key), ())


@dataclass
class _Context:
    """What a key's parser may ask: the file's folder and where the key is."""

    reader: _Reader
    at: tuple[_toml.PathPart, ...]

    @property
    def base(self) -> Path:
        return self.reader.path.parent

    def source(self, item: str | None = None) -> SourceRef:
        return SourceRef(self.reader.layer, self.reader.path, self.reader.line(self.at, item))


@dataclass
class _Reader:
    """Walks one file's data against the declarations; mutable only while one file is read."""

    layer: LayerName
    path: Path
    lines: _toml.KeyLines
    prefix: tuple[_toml.PathPart, ...]
    problems: list[Problem] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    collected: dict[str, list[Any]] = field(default_factory=dict)
    remote: RemoteSource | None = None
    publication: Publication | None = None

    def line(self, at: tuple[_toml.PathPart, ...], item: str | None = None) -> int:
        full = (*self.prefix, *at)
        return self.lines.line_of_item(full, item) if item is not None else self.lines.line_of(full)

    def problem(
        self, at: tuple[_toml.PathPart, ...], message: str, item: str | None = None
    ) -> None:
        self.problems.append(Problem(self.path, self.line(at, item), message))

    # -- the walk -----------------------------------------------------------------------
    def read(self, data: dict[str, Any]) -> None:
        if "version" not in data:
            self.problem((), f"missing required 'version = {SCHEMA_VERSION}' at the top level")
        elif data["version"] != SCHEMA_VERSION or isinstance(data["version"], bool):
            self.problem(
                ("version",),
                f"unsupported policy version {data['version']!r}; "
                f"this safe-pip reads version = {SCHEMA_VERSION}",
            )
        if "remote" in data:
            self.remote_table(data["remote"])
            self.pointer_only(data)
        if "publication" in data:
            made = self.document_table(Publication, data["publication"], "publication")
            self.publication = made if isinstance(made, Publication) else None
        self.table(Policy, data, (), "")

    def pointer_only(self, data: dict[str, Any]) -> None:
        """Next to ``[remote]`` only ``version`` may appear.

        Why not merge: the org policy is then the *signed* file, and a local rule beside
        the pointer would be an unsigned org rule that nobody can tell apart from the
        signed ones in ``policy show``.  One source of org rules keeps "what the org
        signed is what applies" true.
        """
        for key in data:
            if key not in ("version", "remote"):
                self.problem(
                    (key,),
                    f"{key!r} cannot be set next to [remote]: the org policy is the signed "
                    "file at [remote] url; move this setting into that file",
                )

    def table(self, cls: type, data: dict[str, Any], at: tuple[str, ...], prefix: str) -> None:
        declared = by_name(cls, prefix)
        top = not at
        for key, value in data.items():
            if top and key in DOCUMENT_KEYS:
                continue
            member = declared.get(key)
            if member is None:
                known = sorted([*declared, *(DOCUMENT_KEYS if top else ())])
                where = ".".join(at) or "top level"
                self.problem((*at, key), unknown_message(key, known, where))
            elif top and "remote" in data:
                continue  # reported by pointer_only
            else:
                self.member(member, (*at, key), value)

    def member(self, m: Member, at: tuple[str, ...], value: object) -> None:
        kind = m.meta.kind
        if kind == "table" and m.meta.cls is not None:
            if isinstance(value, dict):
                self.table(m.meta.cls, value, at, m.key + ".")
            else:
                self.problem(at, f"[{m.key}] must be a table, got {v.type_name(value)}")
        elif kind in ("setting", "collect") and m.meta.parse is not None:
            try:
                parsed = m.meta.parse(value, _Context(self, at))
            except BadItem as exc:
                self.problem(at, f"{m.key}: {exc}", item=exc.item)
                return
            except ValueError as exc:
                self.problem(at, f"{m.key}: {exc}")
                return
            if kind == "setting":
                self.settings.append(
                    Setting(m.key, parsed, SourceRef(self.layer, self.path, self.line(at)))
                )
            else:
                self.collected.setdefault(m.key, []).extend(parsed)
        elif kind == "entries" and m.meta.cls is not None:
            self.entries(m, at, value)

    def entries(self, m: Member, at: tuple[str, ...], value: object) -> None:
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            self.problem(at, f"{m.name} must be written as [[{m.name}]] tables")
            return
        assert m.meta.cls is not None
        found = self.collected.setdefault(m.key, [])
        for index, entry in enumerate(value):
            made = self.entry(m.meta.cls, entry, (*at, index), m.name, array=True)
            if made is not None:
                found.append(made)

    def entry(
        self,
        cls: type,
        raw: dict[str, Any],
        at: tuple[_toml.PathPart, ...],
        label: str,
        *,
        array: bool = False,
    ) -> Any:
        made, problems = read_entry(cls, raw, _Context(self, at), label, array=array)
        for key, message, item in problems:
            self.problem((*at, key) if key is not None else at, message, item)
        return made

    def remote_table(self, value: object) -> None:
        """``[remote]``: validated here, fetched and verified by ``policy.remote``."""
        made = self.document_table(RemoteSource, value, "remote")
        self.remote = made if isinstance(made, RemoteSource) else None

    def document_table(self, cls: type, value: object, name: str) -> Any:
        if not isinstance(value, dict):
            self.problem((name,), f"[{name}] must be a table, got {v.type_name(value)}")
            return None
        return self.entry(cls, value, (name,), name)


def parse_text(
    text: str, path: Path, layer: LayerName = "cli"
) -> tuple[Layer | None, list[Problem]]:
    """Parse one policy file's text; ``pyproject.toml`` means its ``[tool.safe-pip]``.

    Returns the layer (``None`` when there is nothing usable) and every problem.
    """
    try:
        data = _toml.loads(text)
    except _toml.TomlSyntaxError as exc:
        return None, [Problem(path, exc.line, f"invalid TOML: {exc.message}")]
    lines = _toml.KeyLines.from_text(text)
    prefix: tuple[_toml.PathPart, ...] = ()
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("safe-pip")
        if not isinstance(table, dict):
            return None, [Problem(path, 1, "no [tool.safe-pip] table in pyproject.toml")]
        data, prefix = table, PYPROJECT_TABLE
    reader = _Reader(layer, path, lines, prefix)
    reader.read(data)
    built = Layer(
        layer,
        path,
        tuple(reader.settings),
        tuple((key, tuple(found)) for key, found in reader.collected.items()),
        reader.remote,
        reader.publication,
    )
    return built, reader.problems


def parse_file(path: Path, layer: LayerName = "cli") -> tuple[Layer | None, list[Problem]]:
    """Read and parse one file; an unreadable file is a problem, not a crash."""
    try:
        text = _toml.read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Problem(path, 1, f"cannot read policy file: {reason}")]
    return parse_text(text, path, layer)
