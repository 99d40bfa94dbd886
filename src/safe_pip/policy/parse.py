"""Policy file → :class:`~safe_pip.policy.layer.Layer`, collecting every problem.

Validation is strict and exhaustive: ``policy check`` lists *all* problems
with ``file:line`` in one run, and loading refuses a file with any problem
(fail closed: a broken org policy must never silently become "no policy").
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet

from safe_pip.policy import _toml
from safe_pip.policy import values as v
from safe_pip.policy.layer import Layer, Problem, RemoteSource, Setting
from safe_pip.policy.model import (
    LayerName,
    NamePattern,
    PackageRule,
    PolicyException,
    Publisher,
    SourceRef,
)
from safe_pip.policy.schema import (
    ARRAYS_OF_TABLES,
    BY_KEY,
    EXCEPTION_KEYS,
    PACKAGE_KEYS,
    REMOTE_KEYS,
    REMOTE_REQUIRED,
    SCHEMA_VERSION,
    TABLES,
    BadItem,
    known_keys,
)

PYPROJECT_TABLE = ("tool", "safe-pip")


@dataclass
class _Reader:
    """Walks one file's data; mutable only while a single file is read."""

    layer: LayerName
    path: Path
    lines: _toml.KeyLines
    prefix: tuple[_toml.PathPart, ...]
    problems: list[Problem] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    deny: list[NamePattern] = field(default_factory=list)
    packages: list[PackageRule] = field(default_factory=list)
    exceptions: list[PolicyException] = field(default_factory=list)
    remote: RemoteSource | None = None

    def line(self, *path: _toml.PathPart) -> int:
        return self.lines.line_of((*self.prefix, *path))

    def source(self, *path: _toml.PathPart) -> SourceRef:
        return SourceRef(self.layer, self.path, self.line(*path))

    def problem(
        self, path: tuple[_toml.PathPart, ...], message: str, item: str | None = None
    ) -> None:
        full = (*self.prefix, *path)
        line = self.lines.line_of_item(full, item) if item is not None else self.lines.line_of(full)
        self.problems.append(Problem(self.path, line, message))

    def unknown(self, path: tuple[_toml.PathPart, ...], key: str, known: list[str]) -> None:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
        where = ".".join(str(p) for p in path[:-1] if isinstance(p, str)) or "top level"
        self.problem(path, f"unknown key {key!r} in {where}{hint}")

    # -- the walk -----------------------------------------------------------
    def read(self, data: dict[str, Any]) -> None:
        if "version" not in data:
            self.problem((), f"missing required 'version = {SCHEMA_VERSION}' at the top level")
        elif data["version"] != SCHEMA_VERSION or isinstance(data["version"], bool):
            self.problem(
                ("version",),
                f"unsupported policy version {data['version']!r}; "
                f"this safe-pip reads version = {SCHEMA_VERSION}",
            )
        self.table("", data)
        if "remote" in data:
            self.pointer_only(data)

    def pointer_only(self, data: dict[str, Any]) -> None:
        """Next to ``[remote]`` only ``version`` may appear.

        Why not merge: the org policy is then the *signed* file, and a local
        rule beside the pointer would be an unsigned org rule that nobody can
        tell apart from the signed ones in ``policy show``.  One source of
        org rules keeps "what the org signed is what applies" true.
        """
        for key in data:
            if key not in ("version", "remote"):
                self.problem(
                    (key,),
                    f"{key!r} cannot be set next to [remote]: the org policy is the signed "
                    "file at [remote] url; move this setting into that file",
                )

    def table(self, name: str, data: dict[str, Any]) -> None:
        base = tuple(name.split(".")) if name else ()
        known = known_keys(name)
        for key, value in data.items():
            full = f"{name}.{key}" if name else key
            path = (*base, key)
            if full == "version":
                continue
            if full == "remote":
                self.remote_table(value)
            elif full == "names.deny":
                self.deny_list(path, value)
            elif full in TABLES:
                if isinstance(value, dict):
                    self.table(full, value)
                else:
                    self.problem(path, f"[{full}] must be a table, got {v.type_name(value)}")
            elif full in ARRAYS_OF_TABLES:
                self.array(full, value)
            elif full in BY_KEY:
                self.setting(full, path, value)
            else:
                self.unknown(path, key, known)

    def setting(self, key: str, path: tuple[str, ...], value: object) -> None:
        spec = BY_KEY[key]
        try:
            parsed = spec.parse(value, self.path.parent)
        except BadItem as exc:
            self.problem(path, f"{key}: {exc}", item=exc.item)
            return
        except ValueError as exc:
            self.problem(path, f"{key}: {exc}")
            return
        self.settings.append(Setting(key, parsed, self.source(*path)))

    def remote_table(self, value: object) -> None:
        """``[remote]``: validated here, fetched and verified by ``policy.remote``."""
        if not isinstance(value, dict):
            self.problem(("remote",), f"[remote] must be a table, got {v.type_name(value)}")
            return
        ok = True
        for key in value:
            if key not in REMOTE_KEYS:
                self.unknown(("remote", key), key, list(REMOTE_KEYS))
                ok = False
        for key in REMOTE_REQUIRED:
            if key not in value:
                self.problem(("remote",), f"[remote] is missing required key {key!r}")
                ok = False
        checks: dict[str, Callable[[Any], Any]] = {
            "url": v.https_url,
            "bundle": v.https_url,
            "identity": v.string,
            "issuer": v.https_url,
            "max_age": v.duration,
            "trusted_root": lambda raw: v.path(raw, self.path.parent),
        }
        got: dict[str, Any] = {}
        for key, check in checks.items():
            if key in value:
                try:
                    got[key] = self.value(("remote", key), f"remote.{key}", check, value[key])
                except ValueError:
                    ok = False
        if ok:
            self.remote = RemoteSource(
                url=got["url"],
                identity=got["identity"],
                issuer=got["issuer"],
                trusted_root=got.get("trusted_root"),
                max_age=got.get("max_age", dt.timedelta(0)),
                bundle=got.get("bundle"),
                source=self.source("remote"),
            )

    def deny_list(self, path: tuple[str, ...], value: object) -> None:
        try:
            items = v.string_list(value)
        except ValueError as exc:
            self.problem(path, f"names.deny: {exc}")
            return
        for item in items:
            try:
                pattern = v.name_pattern(item)
            except ValueError as exc:
                self.problem(path, f"names.deny: {exc}", item=item)
                continue
            line = self.lines.line_of_item((*self.prefix, *path), item)
            self.deny.append(NamePattern(pattern, SourceRef(self.layer, self.path, line)))

    def array(self, key: str, value: object) -> None:
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            self.problem((key,), f"{key} must be written as [[{key}]] tables")
            return
        for index, entry in enumerate(value):
            if key == "package":
                self.package(index, entry)
            else:
                self.exception(index, entry)

    def fields(
        self,
        key: str,
        index: int,
        entry: dict[str, Any],
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> bool:
        ok = True
        for name in entry:
            if name not in allowed:
                self.unknown((key, index, name), name, list(allowed))
                ok = False
        for name in required:
            if name not in entry:
                self.problem((key, index), f"[[{key}]] is missing required key {name!r}")
                ok = False
        return ok

    def value(
        self,
        path: tuple[_toml.PathPart, ...],
        label: str,
        fn: Callable[[Any], Any],
        raw: object,
    ) -> Any:
        try:
            return fn(raw)
        except ValueError as exc:
            self.problem(path, f"{label}: {exc}")
            raise

    def package(self, index: int, entry: dict[str, Any]) -> None:
        if not self.fields("package", index, entry, PACKAGE_KEYS, ("name",)):
            return
        at = ("package", index)
        try:
            name = self.value((*at, "name"), "package.name", v.package_name, entry["name"])
            versions = (
                self.value((*at, "versions"), "package.versions", v.specifier, entry["versions"])
                if "versions" in entry
                else SpecifierSet()
            )
            hashes = tuple(
                self.value((*at, "hashes"), "package.hashes", v.sha256_hex, h)
                for h in self.value(
                    (*at, "hashes"), "package.hashes", v.string_list, entry.get("hashes", [])
                )
            )
            raw_pub = entry.get("publisher", [])
            pubs: list[Publisher] = [
                self.value((*at, "publisher"), "package.publisher", v.publisher, p)
                for p in (raw_pub if isinstance(raw_pub, list) else [raw_pub])
            ]
            allow = tuple(
                self.value((*at, "allow_globals"), "package.allow_globals", v.global_pattern, g)
                for g in self.value(
                    (*at, "allow_globals"),
                    "package.allow_globals",
                    v.string_list,
                    entry.get("allow_globals", []),
                )
            )
            index_pin = (
                self.value((*at, "index"), "package.index", v.string, entry["index"])
                if "index" in entry
                else None
            )
        except ValueError:
            return
        rule = PackageRule(
            name, versions, hashes, tuple(pubs), allow, self.source(*at), index=index_pin
        )
        self.packages.append(rule)

    def exception(self, index: int, entry: dict[str, Any]) -> None:
        required = ("package", "rule", "reason", "expires")
        complete = self.fields("exception", index, entry, EXCEPTION_KEYS, required)
        at = ("exception", index)
        checks: dict[str, Callable[[Any], Any]] = {
            "package": v.package_name,
            "rule": v.rule_id,
            "reason": v.string,
            "expires": v.toml_date,
            "version": v.exact_version,
            "sha256": v.sha256_hex,
        }
        got: dict[str, Any] = {}
        for key, check in checks.items():
            if key in entry:
                try:
                    got[key] = self.value((*at, key), f"exception.{key}", check, entry[key])
                except ValueError:
                    complete = False
        if complete:
            self.exceptions.append(
                PolicyException(
                    got["package"],
                    got["rule"],
                    got["reason"],
                    got["expires"],
                    got.get("version"),
                    got.get("sha256"),
                    self.source(*at),
                )
            )


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
        tuple(reader.deny),
        tuple(reader.packages),
        tuple(reader.exceptions),
        reader.remote,
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
