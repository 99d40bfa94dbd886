"""``.pth`` files read the way each Python's ``site.py`` reads them, and judged by what runs.

``site.addpackage`` opens every ``*.pth`` at the top of a site directory (names starting
with ``.`` are skipped) and, line by line, ``exec``\\s a line that starts with ``import``
followed by a space or a tab, skips ``#`` comments and blank lines, and appends any other
line (joined to the site directory) to ``sys.path`` if that directory exists.

How the bytes become lines differs between versions, and an attacker picks the gap:

* Python 3.10-3.12 wrap the file in ``TextIOWrapper(encoding="locale")``: the locale
  encoding (UTF-8 almost everywhere), universal newlines only (``\\n``, ``\\r``, ``\\r\\n``);
  a UTF-8 BOM stays in the first line, so ``\\ufeffimport x`` is a *path* line there;
* Python 3.13+ decode ``utf-8-sig`` (the BOM is dropped, so the same line *runs*), fall
  back to the locale encoding, and split with ``str.splitlines`` — which also breaks at
  ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``, so an ``import``
  hidden after a form feed runs on 3.13 and is part of a path line on 3.12.

:func:`read_lines` returns the lines of every reading that applies to the target's Python
(all of them when the target is unknown), so a line that runs under any of them is seen.

A line that runs is judged by its syntax tree, not its text: setuptools' exact
``distutils-precedence.pth`` line and the generated namespace-package lines are allowed; a
line that does nothing unless the distribution's *own* environment variable is set, and
then imports only the distribution's own code (coverage's ``a1_coverage.pth`` starts
``coverage.process_startup`` only under ``COVERAGE_PROCESS_START``), is dormant: reported
low, still visible.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass

LEGACY = "3.10-3.12"
MODERN = "3.13+"


@dataclass(frozen=True)
class PthLine:
    number: int
    text: str
    runs: bool
    """True when site ``exec``s it, False for a path line."""
    readings: tuple[str, ...]
    """Which Python readings (``LEGACY`` / ``MODERN``) see this line like this."""


def _readings(python: tuple[int, int] | None) -> tuple[str, ...]:
    if python is None:
        return (LEGACY, MODERN)
    return (MODERN,) if python >= (3, 13) else (LEGACY,)


def _decode_legacy(raw: bytes) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # A single-byte locale reads every byte; ASCII ``import`` reads the same in all.
        text = raw.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _decode_modern(raw: bytes) -> list[str]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()


def read_lines(raw: bytes, python: tuple[int, int] | None = None) -> list[PthLine]:
    """Every distinct (line, meaning) any applicable site.py reading produces."""
    seen: dict[tuple[int, str, bool], list[str]] = {}
    for reading in _readings(python):
        lines = _decode_legacy(raw) if reading == LEGACY else _decode_modern(raw)
        for n, line in enumerate(lines, 1):
            if line.startswith("#") or line.strip() == "":
                continue
            runs = line.startswith(("import ", "import\t"))
            seen.setdefault((n, line if runs else line.rstrip(), runs), []).append(reading)
    return [PthLine(n, text, runs, tuple(r)) for (n, text, runs), r in seen.items()]


def is_site_visible(basename: str) -> bool:
    """site.py skips ``.pth`` names that start with a dot."""
    return basename.endswith(".pth") and not basename.startswith(".")


# -- judging a line that runs ---------------------------------------------------------

_SETUPTOOLS_PTH = (
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') "
    "== 'local'; enabled and __import__('_distutils_hack').add_shim(); "
)

PTH_ALLOWED: dict[str, str] = {
    _SETUPTOOLS_PTH: (
        "setuptools' distutils-precedence.pth: installs its distutils shim "
        "(pip install setuptools must pass)"
    ),
}
"""Exact ``.pth`` import lines that are allowed, each with the reason."""

_NSPKG_ARGS = re.compile(r"\*\(('N',\s*)*'N',?\)")


def _nspkg_shape(line: str) -> str:
    return _NSPKG_ARGS.sub("*(N)", re.sub(r"'[A-Za-z0-9_.]+'", "'N'", line.strip()))


_NSPKG_SHAPES = frozenset(
    _NSPKG_ARGS.sub("*(N)", s)
    for s in (
        "import sys, types, os;has_mfs = sys.version_info > (3, 5);"
        "p = os.path.join(sys._getframe(1).f_locals['N'], *('N',));"
        "importlib = has_mfs and __import__('N');has_mfs and __import__('N');"
        "m = has_mfs and sys.modules.setdefault('N', importlib.util.module_from_spec("
        "importlib.machinery.PathFinder.find_spec('N', [os.path.dirname(p)])));"
        "m = m or sys.modules.setdefault('N', types.ModuleType('N'));"
        "mp = (m or []) and m.__dict__.setdefault('N',[]);(p not in mp) and mp.append(p)",
        "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['N'], *('N',));"
        "ie = os.path.exists(os.path.join(p,'N'));"
        "m = not ie and sys.modules.setdefault('N', types.ModuleType('N'));"
        "mp = (m or []) and m.__dict__.setdefault('N',[]);(p not in mp) and mp.append(p)",
    )
)

_ACTS_ON_IMPORT = frozenset({"antigravity", "this", "idlelib", "turtledemo", "__hello__"})


@dataclass(frozen=True)
class Judgement:
    verdict: str
    """``allowed`` (known generated line), ``dormant`` (own variable gate), or ``runs``."""
    reason: str


def judge_exec_line(line: str, dist: str, own_tops: frozenset[str]) -> Judgement:
    """What an executed line does: allowed by exact content, dormant, or runs code."""
    if line in PTH_ALLOWED or line.rstrip() in {k.rstrip() for k in PTH_ALLOWED}:
        return Judgement("allowed", PTH_ALLOWED.get(line) or PTH_ALLOWED[_SETUPTOOLS_PTH])
    if _nspkg_shape(line) in _NSPKG_SHAPES:
        return Judgement("allowed", "setuptools' generated namespace-package line")
    gate = _Dormant(_env_prefix(dist), own_tops)
    try:
        tree = ast.parse(line)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Judgement("runs", "not parseable by the scanner; judged as running code")
    if gate.inert(tree.body) and gate.variables:
        names = ", ".join(sorted(gate.variables))
        return Judgement(
            "dormant",
            f"runs nothing unless {names} is set, and then only {dist}'s own code",
        )
    return Judgement("runs", "runs code at every Python start-up")


def _env_prefix(dist: str) -> str:
    """``coverage`` -> ``COVERAGE_``: the variables a distribution can call its own."""
    return re.sub(r"[^A-Za-z0-9]+", "_", dist).upper().strip("_") + "_"


class _Dormant:
    """An AST walk proving a line runs nothing unless an own environment variable is set.

    Allowed outside a gate: imports of standard-library modules that act on nothing when
    imported, ``exec`` of a constant string (judged the same way), ``try`` blocks of such
    statements, ``pass``. Inside ``if GATE:`` (or ``GATE and ...``): imports of the
    distribution's own top-level packages and calls of their functions with constant
    arguments. ``GATE`` is ``os.getenv(V)``, ``os.environ.get(V)``, ``V in os.environ``
    (and ``and``/``or`` of those) with ``V`` starting with the distribution's own prefix.
    """

    def __init__(self, prefix: str, own_tops: frozenset[str]) -> None:
        self.prefix = prefix
        self.own = own_tops
        self.variables: set[str] = set()
        self.depth = 0

    def inert(self, body: list[ast.stmt]) -> bool:
        return all(self._stmt(s) for s in body)

    def _stmt(self, s: ast.stmt) -> bool:
        if isinstance(s, ast.Pass):
            return True
        if isinstance(s, ast.Import):
            # No ``as``: a rebound ``os`` could make a "gate" call anything.
            return all(self._stdlib(a.name) and a.asname is None for a in s.names)
        if isinstance(s, ast.Try):
            return _plain_handlers(s) and all(
                self.inert(b) for b in (s.body, s.orelse, s.finalbody, *(h.body for h in s.handlers))
            )
        if isinstance(s, ast.If):
            return self._gate(s.test) and self._own_only(s.body) and self.inert(s.orelse)
        if isinstance(s, ast.Expr):
            v = s.value
            if isinstance(v, ast.BoolOp) and isinstance(v.op, ast.And) and len(v.values) == 2:
                return self._gate(v.values[0]) and self._own_only([ast.Expr(v.values[1])])
            if (
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Name)
                and v.func.id == "exec"
                and len(v.args) == 1
                and not v.keywords
                and isinstance(v.args[0], ast.Constant)
                and isinstance(v.args[0].value, str)
                and self.depth < 4
            ):
                try:
                    inner = ast.parse(v.args[0].value)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    return False
                self.depth += 1
                try:
                    return self.inert(inner.body)
                finally:
                    self.depth -= 1
        return False

    @staticmethod
    def _stdlib(module: str) -> bool:
        top = module.split(".", 1)[0]
        return top in sys.stdlib_module_names and top not in _ACTS_ON_IMPORT

    def _gate(self, test: ast.expr) -> bool:
        if isinstance(test, ast.BoolOp):
            if isinstance(test.op, ast.Or):
                return all(self._gate(v) for v in test.values)
            return any(self._gate(v) for v in test.values) and all(
                _pure(v) for v in test.values
            )
        var: ast.expr | None = None
        if isinstance(test, ast.Call) and not test.keywords:
            name = _dotted(test.func)
            if name in ("os.getenv", "os.environ.get") and len(test.args) in (1, 2):
                if len(test.args) == 2 and not _falsy_const(test.args[1]):
                    return False
                var = test.args[0]
        elif (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.In)
            and _dotted(test.comparators[0]) == "os.environ"
        ):
            var = test.left
        if isinstance(var, ast.Constant) and isinstance(var.value, str):
            if var.value.startswith(self.prefix) and len(var.value) > len(self.prefix):
                self.variables.add(var.value)
                return True
        return False

    def _own_only(self, body: list[ast.stmt]) -> bool:
        bound: set[str] = set()
        return all(self._own_stmt(s, bound) for s in body)

    def _own_stmt(self, s: ast.stmt, bound: set[str]) -> bool:
        if isinstance(s, ast.Pass):
            return True
        if isinstance(s, ast.Import):
            for a in s.names:
                if a.name.split(".", 1)[0] not in self.own:
                    return False
                bound.add(a.asname or a.name.split(".", 1)[0])
            return True
        if isinstance(s, ast.Try):
            return _plain_handlers(s) and all(
                self._own_stmt(x, bound)
                for b in (s.body, s.orelse, s.finalbody, *(h.body for h in s.handlers))
                for x in b
            )
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            call = s.value
            root = call.func
            while isinstance(root, ast.Attribute):
                root = root.value
            return (
                isinstance(root, ast.Name)
                and root.id in bound
                and all(isinstance(a, ast.Constant) for a in call.args)
                and all(isinstance(k.value, ast.Constant) and k.arg for k in call.keywords)
            )
        return False


def _plain_handlers(s: ast.Try) -> bool:
    """``except:`` / ``except Name:`` only: a handler's type expression is evaluated too."""
    return all(h.type is None or isinstance(h.type, ast.Name) for h in s.handlers)


def _dotted(e: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(e, ast.Attribute):
        parts.append(e.attr)
        e = e.value
    if isinstance(e, ast.Name):
        parts.append(e.id)
        return ".".join(reversed(parts))
    return ""


def _falsy_const(e: ast.expr) -> bool:
    return isinstance(e, ast.Constant) and not e.value


def _pure(e: ast.expr) -> bool:
    """No calls beyond environment look-ups: evaluating it runs nothing."""
    for n in ast.walk(e):
        if isinstance(n, ast.Call) and _dotted(n.func) not in ("os.getenv", "os.environ.get"):
            return False
    return True
