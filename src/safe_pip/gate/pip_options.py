"""pip's option grammar, read from the target's own pip source and parsed with optparse.

pip parses its command line, its requirement files and its configuration with the
standard library's :mod:`optparse`: long-option abbreviations (``--edit`` is
``--editable``, ``--time`` is ``--timeout``), short-option clusters (``-qe./x``),
``--opt=value``, and values that look like flags (``--log --help`` logs to a file
named ``--help``).  Re-implementing those rules is how a gate drifts from pip, so
safe-pip does not: it builds a real ``optparse.OptionParser`` from pip's option
table and lets optparse do the parsing, with every option recorded in order instead
of acted on.

The table itself comes from the target's pip, never from a list typed in here: the
option declarations in ``pip/_internal/cli/cmdoptions.py``, the command classes
named by ``pip/_internal/commands/__init__.py`` (and the base classes they inherit
options from), ``main_parser.py`` and ``req/req_file.py`` are read with :mod:`ast`
(pip is never imported or run for this), so pip 23.2's ``install -V`` and pip 26's
``--group`` are exactly what that pip accepts.  Anything the reader cannot
follow (an option declared in a shape it does not know) is an error, not a guess:
a partial table would make unknown options look unknown, which is safe, but a
wrong ``takes a value`` would not be.  The result is cached per pip version and
source digest.
"""

from __future__ import annotations

import ast
import hashlib
import json
import optparse
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urljoin

from safe_pip.errors import SafePipError

GRAMMAR_FORMAT = 2
"""Bump when the cached grammar's shape or the extraction rules change."""

_NO_VALUE_ACTIONS = frozenset(
    ["store_const", "store_true", "store_false", "append_const", "count", "help", "version"]
)


class PipGrammarError(SafePipError):
    """pip's option table could not be read, or a command line does not parse."""


@dataclass(frozen=True)
class OptionSpec:
    """One pip option as optparse sees it."""

    names: tuple[str, ...]
    """Every spelling, short and long, in declaration order (``-e``, ``--editable``)."""
    dest: str
    action: str
    takes_value: bool
    nargs: int = 1
    value_type: str = "string"
    """optparse's check on the value: ``string``, ``int``, ``float``, ``choice``, or
    ``open-choice`` (choices pip computes; read as any string: wider than pip, never narrower)."""
    choices: tuple[str, ...] = ()

    @property
    def long_name(self) -> str:
        """The first long spelling (what pip's help shows and config keys use)."""
        return next((n for n in self.names if n.startswith("--")), self.names[0])

    def to_json(self) -> list[Any]:
        return [
            list(self.names),
            self.dest,
            self.action,
            self.takes_value,
            self.nargs,
            self.value_type,
            list(self.choices),
        ]

    @classmethod
    def from_json(cls, raw: Sequence[Any]) -> OptionSpec:
        names, dest, action, takes, nargs, value_type, choices = raw
        return cls(
            tuple(names),
            str(dest),
            str(action),
            bool(takes),
            int(nargs),
            str(value_type),
            tuple(choices),
        )


@dataclass(frozen=True)
class PipGrammar:
    """Everything pip's parsers accept, for one pip version."""

    pip_version: str
    main: tuple[OptionSpec, ...]
    """The options before the sub-command (``pip --timeout 5 install``)."""
    commands: Mapping[str, tuple[OptionSpec, ...]]
    """Sub-command name -> every option its parser has (general options included)."""
    req_file: tuple[OptionSpec, ...]
    """Options a requirements file line may carry."""
    req_line_dests: frozenset[str]
    """Of those, the ones that apply to the requirement on the same line (``--hash``)."""
    editable_line_dests: frozenset[str]
    default_index_url: str | None
    """pip's built-in index (computed from pip's own source, never written here)."""
    requirement_commands: frozenset[str] = frozenset()
    """Commands whose class derives from pip's ``RequirementCommand``: the ones that resolve
    requirements, and so download and may run build backends (``install``, ``download``,
    ``wheel``, pip 25's ``lock``). Read from pip's class hierarchy, not listed here."""

    def command(self, name: str) -> tuple[OptionSpec, ...]:
        try:
            return self.commands[name]
        except KeyError:
            raise PipGrammarError(f"pip {self.pip_version} has no command {name!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": GRAMMAR_FORMAT,
            "pip_version": self.pip_version,
            "main": [o.to_json() for o in self.main],
            "commands": {k: [o.to_json() for o in v] for k, v in self.commands.items()},
            "req_file": [o.to_json() for o in self.req_file],
            "req_line_dests": sorted(self.req_line_dests),
            "editable_line_dests": sorted(self.editable_line_dests),
            "default_index_url": self.default_index_url,
            "requirement_commands": sorted(self.requirement_commands),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PipGrammar:
        if raw.get("format") != GRAMMAR_FORMAT:
            raise ValueError("grammar cache format changed")

        def opts(items: Iterable[Sequence[Any]]) -> tuple[OptionSpec, ...]:
            return tuple(OptionSpec.from_json(i) for i in items)

        return cls(
            pip_version=str(raw["pip_version"]),
            main=opts(raw["main"]),
            commands={str(k): opts(v) for k, v in raw["commands"].items()},
            req_file=opts(raw["req_file"]),
            req_line_dests=frozenset(raw["req_line_dests"]),
            editable_line_dests=frozenset(raw["editable_line_dests"]),
            default_index_url=raw["default_index_url"],
            requirement_commands=frozenset(raw["requirement_commands"]),
        )


# --- reading pip's source ------------------------------------------------------------------


def _const_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _spec_from_call(call: ast.Call, where: str) -> OptionSpec:
    """``Option("-e", "--editable", dest=..., action=...)`` -> :class:`OptionSpec`."""
    names: list[str] = []
    for arg in call.args:
        text = _const_str(arg)
        if text is None:
            raise PipGrammarError(f"{where}: an option name that is not a literal string")
        names.append(text)
    if not names:
        raise PipGrammarError(f"{where}: an option without a name")
    kw = {k.arg: k.value for k in call.keywords if k.arg is not None}
    if any(k.arg is None for k in call.keywords):
        raise PipGrammarError(f"{where}: option {names[0]} built from **kwargs")
    action = "store"
    if "action" in kw:
        literal = _const_str(kw["action"])
        if literal is None:
            raise PipGrammarError(f"{where}: option {names[0]} has a computed action")
        action = literal
    if action in _NO_VALUE_ACTIONS:
        takes = False
    elif action in ("store", "append"):
        takes = True
    elif action == "callback":
        takes = "type" in kw
    else:
        raise PipGrammarError(f"{where}: option {names[0]} has an unknown action {action!r}")
    nargs = 1
    if "nargs" in kw:
        value = kw["nargs"]
        if not (isinstance(value, ast.Constant) and isinstance(value.value, int)):
            raise PipGrammarError(f"{where}: option {names[0]} has a computed nargs")
        nargs = value.value
    dest: str | None = None
    if "dest" in kw:
        dest = _const_str(kw["dest"])
        if dest is None:
            raise PipGrammarError(f"{where}: option {names[0]} has a computed dest")
    if dest is None:  # optparse's own rule: first long name, else first short
        first = next((n for n in names if n.startswith("--")), names[0])
        dest = first.lstrip("-").replace("-", "_")
    value_type, choices = _value_check(kw, names[0], where) if takes else ("string", ())
    return OptionSpec(tuple(names), dest, action, takes, nargs, value_type, choices)


def _value_check(kw: Mapping[str, ast.expr], name: str, where: str) -> tuple[str, tuple[str, ...]]:
    """optparse's value check: ``type="int"``/``float`` convert, ``choices`` restrict."""
    if "choices" in kw:
        values = _str_list(kw["choices"])
        # Choices built from names (pip's feature lists) only narrow what pip accepts:
        # reading them as free strings accepts more than pip, never less or otherwise.
        return ("choice", values) if values is not None else ("open-choice", ())
    node = kw.get("type")
    literal = _const_str(node) if node is not None else None
    if node is not None and literal is None and isinstance(node, ast.Name):
        literal = {"str": "string", "int": "int", "float": "float"}.get(node.id)
    if literal in ("int", "float"):
        return literal, ()
    if node is None or literal in ("string", "str", "path", "package_name"):
        return "string", ()
    raise PipGrammarError(f"{where}: option {name} has a value type safe-pip does not know")


def _str_list(node: ast.AST) -> tuple[str, ...] | None:
    """A literal list/tuple of strings, or two joined with ``+``; else ``None``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _str_list(node.left), _str_list(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_const_str(e) for e in node.elts]
        return tuple(v for v in values if v is not None) if None not in values else None
    return None


def _is_option_ctor(node: ast.AST) -> bool:
    """``Option``, ``PipOption``, ``cmdoptions.PipOption``, ``optparse.Option``."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("Option", "PipOption")
    return isinstance(node, ast.Name) and node.id in ("Option", "PipOption")


class _Module:
    """One of pip's modules: its option factories, groups and option-adding helpers."""

    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.factories: dict[str, OptionSpec] = {}
        self.groups: dict[str, list[str]] = {}
        self.helpers: dict[str, ast.FunctionDef] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        self.imports: dict[str, str] = {}
        """Local name -> dotted source (``RequirementCommand`` -> ``pip._internal...``)."""
        for node in tree.body:
            self._index(node)

    def _index(self, node: ast.stmt) -> None:
        where = f"{self.path.name}:{node.lineno}"
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            value = node.value
            if not names or value is None:
                return
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "partial"
                and value.args
                and _is_option_ctor(value.args[0])
            ):
                call = ast.Call(func=value.args[0], args=value.args[1:], keywords=value.keywords)
                for name in names:
                    self.factories[name] = _spec_from_call(call, where)
            elif isinstance(value, ast.Dict):
                for key, item in zip(value.keys, value.values, strict=True):
                    if key is not None and _const_str(key) == "options":
                        if not isinstance(item, ast.List):
                            raise PipGrammarError(f"{where}: an option group that is not a list")
                        members = [e.id for e in item.elts if isinstance(e, ast.Name)]
                        if len(members) != len(item.elts):
                            raise PipGrammarError(f"{where}: an option group with a computed entry")
                        for name in names:
                            self.groups[name] = members
        elif isinstance(node, ast.FunctionDef):
            self.functions[node.name] = node
            returned = [
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)
            ]
            ctor = [c for c in returned if _is_option_ctor(c.func)]
            if ctor:
                if len(ctor) != 1 or len(returned) != 1:
                    raise PipGrammarError(f"{where}: {node.name}() builds options conditionally")
                self.factories[node.name] = _spec_from_call(ctor[0], where)
            elif any(_add_option_calls(node)):
                self.helpers[node.name] = node
        elif isinstance(node, ast.ClassDef):
            self.classes[node.name] = node


def _add_option_calls(node: ast.AST) -> Iterable[ast.Call]:
    for n in ast.walk(node):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "add_option"
        ):
            yield n


class _Reader:
    """Reads pip's option declarations out of an installed ``pip`` package folder."""

    def __init__(self, pip_dir: Path) -> None:
        self.pip_dir = pip_dir
        self.modules: dict[str, _Module] = {}
        self.digest = hashlib.sha256()

    def module(self, dotted: str) -> _Module:
        if dotted in self.modules:
            return self.modules[dotted]
        parts = dotted.split(".")
        if parts[0] != "pip":
            raise PipGrammarError(f"not a pip module: {dotted}")
        base = self.pip_dir.joinpath(*parts[1:])
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise PipGrammarError(f"cannot read pip's {dotted}: {exc}") from exc
        self.digest.update(dotted.encode() + b"\0" + source + b"\0")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            raise PipGrammarError(f"cannot parse pip's {path}: {exc}") from exc
        mod = _Module(path, tree)
        self.modules[dotted] = mod
        return mod

    @property
    def cmdoptions(self) -> _Module:
        return self.module("pip._internal.cli.cmdoptions")

    def _factory(self, mod: _Module, node: ast.AST, where: str) -> OptionSpec:
        """``cmdoptions.editable`` / ``editable`` (a reference, not a call) -> its option."""
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "cmdoptions"
            and node.attr in self.cmdoptions.factories
        ):
            return self.cmdoptions.factories[node.attr]
        if isinstance(node, ast.Name):
            if node.id in mod.factories:
                return mod.factories[node.id]
            if node.id in self.cmdoptions.factories and mod is self.cmdoptions:
                return self.cmdoptions.factories[node.id]
        raise PipGrammarError(f"{where}: cannot tell which option {ast.unparse(node)} is")

    def _group(self, node: ast.AST) -> list[str] | None:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "cmdoptions"
        ):
            return self.cmdoptions.groups.get(node.attr)
        return None

    def options_added_in(self, mod: _Module, body: ast.AST) -> list[OptionSpec]:
        """Every option a function body adds: direct, by factory, by group or by helper."""
        found: list[OptionSpec] = []
        for n in ast.walk(body):
            if not isinstance(n, ast.Call):
                continue
            where = f"{mod.path.name}:{n.lineno}"
            func = n.func
            if isinstance(func, ast.Attribute) and func.attr == "add_option":
                if len(n.args) == 1 and isinstance(n.args[0], ast.Call) and not n.keywords:
                    inner = n.args[0]
                    if _is_option_ctor(inner.func):
                        found.append(_spec_from_call(inner, where))
                    elif inner.args or inner.keywords:
                        raise PipGrammarError(f"{where}: an option factory called with arguments")
                    else:
                        found.append(self._factory(mod, inner.func, where))
                else:
                    found.append(_spec_from_call(n, where))
            elif isinstance(func, ast.Attribute) and func.attr == "make_option_group":
                members = self._group(n.args[0]) if n.args else None
                if members is None:
                    raise PipGrammarError(f"{where}: an option group pip's reader cannot follow")
                cmd = self.cmdoptions
                found += [self._factory(cmd, ast.Name(id=m), where) for m in members]
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "cmdoptions"
                and func.attr in self.cmdoptions.helpers
            ):
                helper = self.cmdoptions.helpers[func.attr]
                found += self.options_added_in(self.cmdoptions, helper)
        return found

    def class_options(self, dotted_module: str, class_name: str) -> list[OptionSpec]:
        """Options a command class and its pip base classes add in ``__init__``/``add_options``."""
        mod = self.module(dotted_module)
        cls = mod.classes.get(class_name)
        if cls is None:
            source = mod.imports.get(class_name, "")
            if source.startswith("pip.") and source != f"{dotted_module}.{class_name}":
                return self.class_options(*source.rsplit(".", 1))  # a re-export
            raise PipGrammarError(f"pip's {dotted_module} has no class {class_name}")
        found: list[OptionSpec] = []
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id in mod.classes:
                found += self.class_options(dotted_module, base.id)
            elif isinstance(base, ast.Name) and base.id in mod.imports:
                source = mod.imports[base.id]
                if source.startswith("pip."):
                    found += self.class_options(*source.rsplit(".", 1))
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and item.name in ("__init__", "add_options"):
                found += self.options_added_in(mod, item)
        return found

    def inherits(self, dotted_module: str, class_name: str, ancestor: str) -> bool:
        """Whether pip's class derives from a class named ``ancestor`` (through pip's modules)."""
        if class_name == ancestor:
            return True
        mod = self.module(dotted_module)
        cls = mod.classes.get(class_name)
        if cls is None:
            source = mod.imports.get(class_name, "")
            if source.startswith("pip.") and source != f"{dotted_module}.{class_name}":
                module, name = source.rsplit(".", 1)
                return self.inherits(module, name, ancestor)
            return False
        for base in cls.bases:
            if not isinstance(base, ast.Name):
                continue
            if base.id == ancestor:
                return True
            if base.id in mod.classes and self.inherits(dotted_module, base.id, ancestor):
                return True
            source = mod.imports.get(base.id, "")
            if source.startswith("pip."):
                module, name = source.rsplit(".", 1)
                if self.inherits(module, name, ancestor):
                    return True
        return False

    def commands(self) -> dict[str, tuple[str, str]]:
        """``commands_dict``: name -> (module, class)."""
        mod = self.module("pip._internal.commands")
        for node in mod.tree.body:
            target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            if not (isinstance(target, ast.Name) and target.id == "commands_dict"):
                continue
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if not isinstance(value, ast.Dict):
                break
            out: dict[str, tuple[str, str]] = {}
            for key, item in zip(value.keys, value.values, strict=True):
                name = _const_str(key) if key is not None else None
                if not (name and isinstance(item, ast.Call) and len(item.args) >= 2):
                    raise PipGrammarError("pip's commands_dict has an entry safe-pip cannot read")
                module, cls = _const_str(item.args[0]), _const_str(item.args[1])
                if not (module and cls):
                    raise PipGrammarError("pip's commands_dict has an entry safe-pip cannot read")
                out[name] = (module, cls)
            return out
        raise PipGrammarError("pip's commands_dict was not found")

    def main_options(self) -> list[OptionSpec]:
        mod = self.module("pip._internal.cli.main_parser")
        func = mod.functions.get("create_main_parser")
        if func is None:
            raise PipGrammarError("pip's create_main_parser was not found")
        return self.options_added_in(mod, func)

    def req_file_options(self) -> tuple[list[OptionSpec], set[str], set[str]]:
        mod = self.module("pip._internal.req.req_file")
        lists: dict[str, list[OptionSpec]] = {}
        for node in mod.tree.body:
            target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if not (isinstance(target, ast.Name) and target.id.startswith("SUPPORTED_OPTIONS")):
                continue
            if not isinstance(value, ast.List):
                continue
            where = f"req_file.py:{node.lineno}"
            lists[target.id] = [self._factory(mod, e, where) for e in value.elts]
        if "SUPPORTED_OPTIONS" not in lists or "SUPPORTED_OPTIONS_REQ" not in lists:
            raise PipGrammarError("pip's requirement-file options were not found")
        req = lists["SUPPORTED_OPTIONS_REQ"]
        editable = lists.get("SUPPORTED_OPTIONS_EDITABLE_REQ", [])
        return (
            lists["SUPPORTED_OPTIONS"] + req,
            {o.dest for o in req},
            {o.dest for o in editable},
        )

    def default_index_url(self) -> str | None:
        """pip's ``PyPI.simple_url``: ``PackageIndex(<url>)`` joined with ``simple``."""
        mod = self.module("pip._internal.models.index")
        for node in mod.tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "PyPI" for t in node.targets)
                and isinstance(node.value, ast.Call)
                and node.value.args
            ):
                base = _const_str(node.value.args[0])
                if base:
                    return urljoin(base, "simple")
        return None


def pip_version_of(pip_dir: Path) -> str:
    """``__version__`` from ``pip/__init__.py``, read, not imported."""
    try:
        tree = ast.parse((pip_dir / "__init__.py").read_bytes())
    except (OSError, SyntaxError) as exc:
        raise PipGrammarError(f"cannot read pip's version in {pip_dir}: {exc}") from exc
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and (version := _const_str(node.value))
        ):
            return version
    raise PipGrammarError(f"no __version__ in {pip_dir / '__init__.py'}")


def extract_grammar(pip_dir: Path) -> PipGrammar:
    """Read the full option grammar of the pip package at ``pip_dir`` (slow path)."""
    grammar, _ = _extract(pip_dir)
    return grammar


def _extract(pip_dir: Path) -> tuple[PipGrammar, str]:
    reader = _Reader(pip_dir)
    version = pip_version_of(pip_dir)
    table = reader.commands()
    commands = {
        name: tuple(_unique(reader.class_options(module, cls), f"pip {name}"))
        for name, (module, cls) in table.items()
    }
    resolving = frozenset(
        name
        for name, (module, cls) in table.items()
        if reader.inherits(module, cls, "RequirementCommand")
    )
    req_file, req_dests, editable_dests = reader.req_file_options()
    grammar = PipGrammar(
        pip_version=version,
        main=tuple(_unique(reader.main_options(), "pip")),
        commands=commands,
        req_file=tuple(_unique(req_file, "requirement files")),
        req_line_dests=frozenset(req_dests),
        editable_line_dests=frozenset(editable_dests),
        default_index_url=reader.default_index_url(),
        requirement_commands=resolving,
    )
    if "install" not in resolving:
        raise PipGrammarError(f"pip {version} in {pip_dir}: install is not a RequirementCommand")
    if "install" not in commands or not grammar.main:
        raise PipGrammarError(f"pip {version} in {pip_dir}: no install command found")
    return grammar, reader.digest.hexdigest()


def _unique(options: list[OptionSpec], where: str) -> list[OptionSpec]:
    """Each option once; two options sharing a spelling is a table pip itself would reject."""
    seen: dict[str, OptionSpec] = {}
    out: list[OptionSpec] = []
    for opt in options:
        if all(seen.get(n) == opt for n in opt.names) and opt.names[0] in seen:
            continue  # the same factory added twice (e.g. by two base classes)
        for n in opt.names:
            if n in seen:
                raise PipGrammarError(f"{where}: option {n} declared twice")
            seen[n] = opt
        out.append(opt)
    return out


def _cache_dir() -> Path:
    from safe_pip.gate.fetch import cache_dir

    return Path(cache_dir()) / "pip-grammar"


def _source_key(pip_dir: Path) -> str:
    """Cheap identity of a pip install: version, location and the files' sizes and mtimes."""
    h = hashlib.sha256(str(pip_dir.resolve()).encode())
    for rel in ("__init__.py", "_internal/cli/cmdoptions.py", "_internal/commands/__init__.py"):
        try:
            st = (pip_dir / rel).stat()
        except OSError as exc:
            raise PipGrammarError(f"not a pip installation: {pip_dir} ({exc})") from exc
        h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def load_grammar(pip_dir: Path, *, cache: bool = True) -> PipGrammar:
    """The grammar of the pip at ``pip_dir``, from the cache when that pip did not change."""
    key = _source_key(pip_dir)
    path = _cache_dir() / f"{key}.json"
    if cache:
        try:
            return PipGrammar.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    grammar, _digest = _extract(pip_dir)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(grammar.to_json()), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a cache we cannot write only costs time
    return grammar


# --- parsing with optparse ----------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """One option as written: which option optparse took it for, and its value."""

    option: OptionSpec
    written: str
    """The spelling optparse matched (``--edit`` shows as ``--editable``; see ``raw``)."""
    value: str | tuple[str, ...] | None


@dataclass(frozen=True)
class ParsedArgs:
    occurrences: tuple[Occurrence, ...]
    positionals: tuple[str, ...]
    stopped_at_help: bool = False
    """optparse acts on ``--help`` at once: pip prints help and exits, ignoring the rest."""

    def of(self, dest: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.option.dest == dest]


_OPTPARSE_TYPE = {"string": "string", "int": "int", "float": "float", "choice": "choice"}


class _Stop(Exception):
    pass


class _Recorder(optparse.OptionParser):
    """An optparse parser that records options instead of acting on them."""

    def __init__(self, options: Sequence[OptionSpec], *, interspersed: bool) -> None:
        super().__init__(add_help_option=False, prog="pip", usage=optparse.SUPPRESS_USAGE)
        if not interspersed:
            self.disable_interspersed_args()
        self.seen: list[Occurrence] = []
        self.help_seen = False
        for spec in options:
            self.add_option(
                *spec.names,
                action="callback",
                callback=self._record,
                callback_args=(spec,),
                type=_OPTPARSE_TYPE.get(spec.value_type, "string") if spec.takes_value else None,
                choices=list(spec.choices) if spec.value_type == "choice" else None,
                nargs=spec.nargs if spec.takes_value else None,
                dest=spec.dest,
            )

    def _record(
        self,
        option: optparse.Option,
        opt_str: str,
        value: Any,
        parser: optparse.OptionParser,
        spec: OptionSpec,
    ) -> None:
        if isinstance(value, tuple):
            value = tuple(str(v) for v in value)
        elif value is not None:
            value = str(value)
        self.seen.append(Occurrence(spec, opt_str, value))
        if spec.action == "help":
            self.help_seen = True
            raise _Stop

    def error(self, msg: str) -> NoReturn:
        raise PipGrammarError(msg)

    def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
        raise PipGrammarError(msg or f"pip's parser exited ({status})")


def parse_options(
    args: Sequence[str], options: Sequence[OptionSpec], *, interspersed: bool = True
) -> ParsedArgs:
    """Parse ``args`` exactly as an optparse parser with ``options`` would."""
    parser = _Recorder(options, interspersed=interspersed)
    try:
        _, rest = parser.parse_args(list(args))
    except _Stop:
        return ParsedArgs(tuple(parser.seen), (), stopped_at_help=True)
    return ParsedArgs(tuple(parser.seen), tuple(rest))


CommandKind = Literal["command", "help", "version", "error"]


@dataclass(frozen=True)
class PipCommandLine:
    """A whole ``pip ...`` command line, split the way pip's ``parse_command`` splits it."""

    kind: CommandKind
    """``command``: a sub-command runs; ``help``/``version``: pip prints and exits;
    ``error``: pip refuses the line (usage error or unknown command) and exits."""
    command: str | None
    general: ParsedArgs
    args: ParsedArgs | None
    """The sub-command's own parse (general options included, as pip re-parses them)."""
    python: str | None = None
    """pip's ``--python``: pip re-runs itself under that interpreter before anything else."""
    error: str | None = None
    command_args: tuple[str, ...] = field(default=())
    """The arguments pip hands the sub-command: the line minus the first ``command`` word."""


def parse_pip_command(
    args: Sequence[str], grammar: PipGrammar, *, in_subprocess: bool = False
) -> PipCommandLine:
    """Follow pip's ``parse_command``: general options, ``--python``, ``--version``, command.

    ``in_subprocess`` mirrors pip's ``_PIP_RUNNING_IN_SUBPROCESS`` (``--python`` ignored).
    """
    try:
        general = parse_options(args, grammar.main, interspersed=False)
    except PipGrammarError as exc:
        return PipCommandLine("error", None, ParsedArgs((), ()), None, error=str(exc))
    if general.stopped_at_help:
        return PipCommandLine("help", None, general, None)
    pythons = general.of("python")
    python = str(pythons[-1].value) if pythons and not in_subprocess else None
    if any(o.option.dest == "version" for o in general.occurrences):
        return PipCommandLine("version", None, general, None, python=python)
    rest = general.positionals
    if not rest or (rest[0] == "help" and len(rest) == 1):
        return PipCommandLine("help", None, general, None, python=python)
    name = rest[0]
    if name not in grammar.commands:
        return PipCommandLine(
            "error", name, general, None, python=python, error=f'unknown command "{name}"'
        )
    cmd_args = list(args)
    cmd_args.remove(name)
    try:
        parsed = parse_options(cmd_args, grammar.commands[name], interspersed=True)
    except PipGrammarError as exc:
        return PipCommandLine(
            "error",
            name,
            general,
            None,
            python=python,
            error=str(exc),
            command_args=tuple(cmd_args),
        )
    kind: CommandKind = "help" if parsed.stopped_at_help else "command"
    return PipCommandLine(kind, name, general, parsed, python=python, command_args=tuple(cmd_args))
