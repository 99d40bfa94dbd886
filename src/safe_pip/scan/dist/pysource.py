"""Python source rules via ``ast``: import-time unsafe loads, decode-and-exec, download-and-run.

Python runs a module's top-level statements when it is imported, and runs all
of ``setup.py`` when an sdist is built.  A package that unpickles a bundled
model there turns every ``import`` into a pickle load; code that ``exec``\\s
base64/zlib/hex-decoded data or something it just downloaded is the usual shape
of a hidden payload.  The file is parsed with :func:`ast.parse` and never
imported or executed.  Python picks modules by their ``.py`` name, so that is
how the dispatcher routes files here.

Files that do not contain the words a rule needs are not parsed at all (byte-level
pre-filters), so ``PY-UNPARSEABLE`` is only reported for files that could match a rule.

What is *not* checked: code inside functions for the unsafe-load rule (it runs
only when called; setup.py is the exception), dynamic imports and aliases
beyond plain ``import``/``from ... import``/assignments, and data flow across
functions or modules.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safe_pip.models import Severity
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.core.paths import is_test_path

_MAX_SOURCE = 8 * 1024 * 1024
_LOAD_HINT = re.compile(rb"\bloads?\s*\(|read_pickle|Unpickler")
_EXEC_HINT = re.compile(rb"\b(?:exec|eval|compile|execfile)\s*\(")
_SOURCE_HINT = re.compile(
    rb"decode|decompress|fromhex|unhexlify|a2b_|marshal|codecs|urlopen|urlretrieve|requests"
    rb"|httpx|HTTPS?Connection|create_connection|pycurl"
)
_SHELL_HINT = re.compile(rb"\b(?:curl|wget)\b")
"""Cheap byte-level pre-filters: a rule can only match a module that has its words.

Parsing and walking every module of a large wheel (torch ships thousands) costs
seconds; most modules cannot match any rule, and the regexes say so in microseconds.
"""

_PICKLE_LOADS = frozenset(
    f"{m}.{f}"
    for m in (
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "joblib",
        "sklearn.externals.joblib",
        "pickle5",
    )
    for f in ("load", "loads", "Unpickler")
) | {"pandas.read_pickle", "torch.serialization.load"}
_DECODERS = frozenset(
    {
        "b64decode",
        "b32decode",
        "b16decode",
        "b85decode",
        "a85decode",
        "decodebytes",
        "urlsafe_b64decode",
        "standard_b64decode",
        "decompress",
        "fromhex",
        "unhexlify",
        "a2b_hex",
        "a2b_base64",
        "decodestring",
    }
)
_DECODER_CALLS = frozenset({"codecs.decode", "marshal.loads", "marshal.load"})
_NETWORK = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.urlopen",
        "urllib2.urlopen",
        "urlopen",
        "requests.get",
        "requests.post",
        "requests.request",
        "httpx.get",
        "httpx.post",
        "urllib.request.urlretrieve",
        "http.client.HTTPSConnection",
        "http.client.HTTPConnection",
        "socket.create_connection",
        "pycurl.Curl",
    }
)
_EXEC = frozenset(
    {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile", "execfile"}
)
_SHELL = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.Popen",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
    }
)
_PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^|;]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b"
    r"|\b(?:curl|wget)\b[^|;]*\|\s*python",
    re.I,
)


def read_python(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("python")
    if blob.size > _MAX_SOURCE:
        ctx.skip(location, f"Python source larger than {_MAX_SOURCE} bytes was not parsed")
        return
    raw = blob.read(0, blob.size)
    loads = bool(_LOAD_HINT.search(raw))
    shell = bool(_SHELL_HINT.search(raw)) and any(
        word in raw for word in (b"system", b"popen", b"Popen", b"subprocess")
    )
    flows = bool(_EXEC_HINT.search(raw) and _SOURCE_HINT.search(raw)) or shell
    if not (loads or flows):
        return
    try:
        tree = ast.parse(raw, filename=location)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        ctx.report("PY-UNPARSEABLE", f"not parseable as Python: {type(exc).__name__}", location)
        return
    whole_file = location.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1] == "setup.py"
    check_tree(ctx, tree, location, whole_file=whole_file, loads=loads, flows=flows)


def check_tree(
    ctx: ScanContext,
    tree: ast.Module,
    location: str,
    *,
    whole_file: bool,
    loads: bool = True,
    flows: bool = True,
) -> None:
    """Run the rules; ``loads``/``flows`` let a pre-filter skip rules that cannot match."""
    aliases = _aliases(tree)
    if flows:
        for scope in _scopes(tree):
            _check_scope(ctx, list(_scope_nodes(scope)), aliases, location)
    if not loads:
        return
    for call in _import_time_calls(tree, whole_file):
        name = _qualname(call.func, aliases)
        reason = _unsafe_load(name, call)
        if reason:
            extra = {"torch_default": True} if _torch_default(name, call) else {}
            # A test module is imported by the test runner, not by ``import pkg``.
            in_tests = not whole_file and is_test_path(location)
            when = "build" if whole_file else "test-suite import" if in_tests else "import"
            ctx.report(
                "PY-UNSAFE-LOAD",
                f"{reason} at {when} time (line {call.lineno})",
                f"{location}:{call.lineno}",
                severity=Severity.LOW if in_tests else None,
                call=name,
                **extra,
            )


def _check_scope(
    ctx: ScanContext, nodes: list[ast.AST], aliases: dict[str, str], location: str
) -> None:
    """Decode/fetch-then-exec within one function (or the module body)."""
    decoded: set[str] = set()
    fetched: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if _contains(node.value, aliases, _is_decoder):
                decoded |= names
            if _contains(node.value, aliases, _is_network):
                fetched |= names
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _qualname(node.func, aliases)
        line = f"{location}:{node.lineno}"
        if name in _EXEC and node.args:
            arg = node.args[0]
            if _contains(arg, aliases, _is_decoder) or _names_in(arg) & decoded:
                ctx.report(
                    "PY-EXEC-DECODED",
                    f"{name}() runs data decoded at run time (line {node.lineno})",
                    line,
                    call=name,
                )
            if _contains(arg, aliases, _is_network) or _names_in(arg) & fetched:
                ctx.report(
                    "PY-DOWNLOAD-EXEC",
                    f"{name}() runs code fetched over the network (line {node.lineno})",
                    line,
                    call=name,
                )
        elif name in _SHELL:
            for const in ast.walk(node):
                if (
                    isinstance(const, ast.Constant)
                    and isinstance(const.value, str)
                    and _PIPE_TO_SHELL.search(const.value)
                ):
                    ctx.report(
                        "PY-DOWNLOAD-EXEC",
                        f"{name}() pipes a download into a shell (line {node.lineno})",
                        line,
                        call=name,
                        command=const.value[:200],
                    )
                    break


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _scopes(tree: ast.Module) -> Iterator[ast.AST]:
    yield tree
    yield from (n for n in ast.walk(tree) if isinstance(n, _FUNCS))


def _scope_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of one scope, not descending into nested functions."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, _FUNCS):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _unsafe_load(name: str, call: ast.Call) -> str | None:
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if name in ("torch.load", "torch.serialization.load"):
        wo = kw.get("weights_only")
        if isinstance(wo, ast.Constant) and wo.value is True:
            return None
        return "torch.load without weights_only=True unpickles the file"
    if name in _PICKLE_LOADS:
        return f"{name} unpickles data"
    if name in ("numpy.load", "numpy.lib.npyio.load"):
        ap = kw.get("allow_pickle")
        if isinstance(ap, ast.Constant) and ap.value is True:
            return "numpy.load(allow_pickle=True) unpickles object arrays"
    return None


def _torch_default(name: str, call: ast.Call) -> bool:
    """``torch.load`` left to torch's own ``weights_only`` default (no override at all)."""
    if name not in ("torch.load", "torch.serialization.load"):
        return False
    kw = {k.arg for k in call.keywords}
    if None in kw or "pickle_module" in kw or len(call.args) > 2:
        return False  # **kwargs, or a pickle_module (which turns the default off)
    if any(isinstance(a, ast.Starred) for a in call.args):
        return False
    wo = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
    return wo is None or (isinstance(wo, ast.Constant) and wo.value is None)


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` — its body runs as a script, never on import."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    return (
        len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
        and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides)
    )


def _import_time_calls(tree: ast.Module, whole_file: bool) -> Iterator[ast.Call]:
    """Calls that run on import: everything outside function bodies (lambdas included)
    and outside ``if __name__ == "__main__":`` (whose ``else`` branch does run)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if not whole_file and _is_main_guard(node):
            assert isinstance(node, ast.If)
            stack.extend(node.orelse)
            continue
        if not whole_file and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # Decorators and defaults still run at definition time.
            if not isinstance(node, ast.Lambda):
                stack.extend(node.decorator_list)
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name → dotted origin, from every import in the file."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out.setdefault(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    if out.get("np") is None:
        out.setdefault("np", "numpy")
    return out


def _qualname(func: ast.expr, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(aliases.get(func.id, func.id))
    elif isinstance(func, ast.Call):
        inner = func.func
        arg = func.args[0] if func.args else None
        if (
            isinstance(inner, ast.Name)
            and inner.id in ("__import__", "import_module")
            and isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
        ):
            parts.append(arg.value)  # __import__('codecs').decode -> codecs.decode
        else:
            parts.append(_qualname(inner, aliases) + "()")
    else:
        return ""
    return ".".join(reversed(parts))


def _is_decoder(call: ast.Call, aliases: dict[str, str]) -> bool:
    name = _qualname(call.func, aliases)
    last = name.rsplit(".", 1)[-1]
    return name in _DECODER_CALLS or last in _DECODERS


def _is_network(call: ast.Call, aliases: dict[str, str]) -> bool:
    name = _qualname(call.func, aliases)
    return name in _NETWORK or name.rsplit(".", 1)[-1] == "urlopen"


def _contains(expr: ast.AST, aliases: dict[str, str], pred: object) -> bool:
    assert callable(pred)
    return any(isinstance(n, ast.Call) and pred(n, aliases) for n in ast.walk(expr))


def _names_in(expr: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
