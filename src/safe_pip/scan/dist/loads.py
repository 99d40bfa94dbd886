"""When an import-time load found in a wheel's source cannot unpickle anything dangerous.

``PY-UNSAFE-LOAD`` is reported per module, before the wheel's metadata has been read. Two
facts about the wheel as a whole can then make it harmless; the finding stays, at low:

* **torch's default.** ``torch.load(path)`` without ``weights_only`` (and without a
  ``pickle_module``) uses torch's default, which is ``weights_only=True`` from torch 2.6 on.
  When the wheel's own ``Requires-Dist`` unconditionally needs such a torch, pip cannot
  install it next to an older one, so the call loads only tensors and plain containers.
* **a stand-alone script.** Module-level code runs when the module is imported. A module
  that no module of the wheel imports (absolutely, relatively, or by a constant name given to
  ``importlib.import_module``/``__import__``), that no entry point names, that is not a
  package ``__init__`` and not a top-level module, runs only when someone runs it by hand.
  The criterion is not applied when any module of the wheel imports by a computed name.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from packaging.version import Version

from safe_pip.models import Finding
from safe_pip.scan.dist.layout import place
from safe_pip.scan.dist.requires import unconditional

if TYPE_CHECKING:
    from safe_pip.scan.dist.wheel import Reread, WheelCheck

TORCH_WEIGHTS_ONLY = Version("2.6")
"""First torch release whose ``torch.load`` defaults to ``weights_only=True``."""

_DYNAMIC = re.compile(rb"import_module|__import__|spec_from_file_location|run_module|run_path")
_MAX_SOURCE = 8 * 1024 * 1024


def harmless(f: Finding, wheel: WheelCheck, reread: Reread | None) -> str | None:
    """Why this finding cannot load anything dangerous, or None."""
    if f.detail.get("torch_default"):
        floor = torch_floor(wheel.requires())
        if floor is not None and floor >= TORCH_WEIGHTS_ONLY:
            return (
                f"the wheel requires torch>={floor}, whose torch.load defaults to "
                "weights_only=True"
            )
    member = f.location[len(wheel.location) + 1 :].rsplit(":", 1)[0]
    if reread is not None and _standalone(member, wheel, reread):
        return "a stand-alone script: no module of the wheel imports it, no entry point names it"
    return None


def torch_floor(requires: list[str]) -> Version | None:
    """The lowest torch version the unconditional requirements allow (None: unbounded)."""
    best: Version | None = None
    for req in unconditional(requires):
        if req.name.lower() != "torch":
            continue
        for spec in req.specifier:
            if spec.operator in (">=", ">", "==", "~=", "===") and not spec.version.endswith("*"):
                try:
                    v = Version(spec.version)
                except ValueError:
                    continue
                best = v if best is None or v > best else best
    return best


def module_name(member: str) -> str | None:
    where = place(member)
    if where is None or where.kind != "site" or not where.path.endswith(".py"):
        return None
    return where.path[:-3].replace("/", ".")


def _standalone(member: str, wheel: WheelCheck, reread: Reread) -> bool:
    name = module_name(member)
    if name is None or "." not in name or name.endswith(".__init__"):
        return False
    leaf = name.rsplit(".", 1)[1]
    entry = wheel.texts.get(f"{wheel.dist_info}/entry_points.txt", b"")
    if leaf.encode() in entry:
        return False
    for other in wheel.files:
        other_name = module_name(other)
        if other_name is None or other == member:
            continue
        raw = reread(other)
        if raw is None:
            return False  # cannot prove it: keep the finding
        if leaf.encode() not in raw and not _DYNAMIC.search(raw):
            continue
        if _imports(raw, other_name, name):
            return False
    return True


def _imports(raw: bytes, importer: str, target: str) -> bool:
    """Does module ``importer`` import ``target`` (or import something by a computed name)?"""
    try:
        tree = ast.parse(raw)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True  # cannot tell: assume it does
    package = importer.rsplit(".", 1)[0] if "." in importer else ""
    if importer.endswith(".__init__"):
        package = importer[: -len(".__init__")]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(_covers(a.name, target) for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, package)
            if base is None:
                continue
            if _covers(base, target) or any(
                _covers(f"{base}.{a.name}", target) for a in node.names
            ):
                return True
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__", "spec_from_file_location",
                         "run_module", "run_path"):  # fmt: skip
                arg = node.args[0] if node.args else None
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    return True
                value = arg.value
                if value.startswith("."):
                    value = _resolve(value.lstrip("."), len(value) - len(value.lstrip(".")),
                                     package) or ""  # fmt: skip
                if _covers(value, target) or target.rsplit(".", 1)[1] in arg.value:
                    return True
    return False


def _covers(imported: str, target: str) -> bool:
    """Importing ``a.b.c`` imports ``a.b.c`` (and its parents): does it run ``target``?"""
    return imported == target or imported.startswith(target + ".")


def _resolve(module: str | None, level: int, package: str) -> str | None:
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)
