"""Known gadgets, kept only to *name* them in findings.

Nothing here decides whether a global is allowed — the allowlist does.  This
list lets a report say "dangerous: runs shell commands" instead of "unknown",
and keeps those findings un-allowlistable through ``allow_globals`` (like
torch, which refuses ``os``/``sys`` even when a user adds them).
"""

from __future__ import annotations

_MODULES = {
    # command execution and process control
    "os": "runs commands / touches the file system",
    "posix": "os under another name",
    "nt": "os under another name",
    "subprocess": "runs commands",
    "_posixsubprocess": "runs commands",
    "pty": "spawns processes",
    "multiprocessing": "spawns processes (spawnv_passfds...)",
    "concurrent": "runs callables in workers",
    "asyncio": "spawns subprocesses and runs callables",
    "threading": "runs callables",
    "_thread": "runs callables",
    "signal": "installs handlers",
    "platform": "runs commands (popen)",
    "commands": "py2 command execution",
    "popen2": "py2 command execution",
    "sys": "interpreter internals (modules, path, settrace)",
    "_interpreters": "runs code in a sub-interpreter",
    "_xxsubinterpreters": "runs code in a sub-interpreter",
    "_winapi": "Windows process API",
    "msvcrt": "Windows runtime",
    "winreg": "Windows registry",
    # evaluating code
    "runpy": "runs modules and files",
    "code": "interactive interpreter (runcode)",
    "codeop": "compiles code",
    "pdb": "debugger (runs statements)",
    "bdb": "debugger (Bdb.run executes code)",
    "trace": "runs code under tracing",
    "profile": "runs code under the profiler",
    "cProfile": "runs code under the profiler",
    "timeit": "executes statements",
    "doctest": "executes docstrings (debug_script)",
    "pydoc": "imports and runs modules, pager runs commands",
    "idlelib": "IDE internals that run code",
    "lib2to3": "code transformation tooling",
    "importlib": "imports arbitrary modules",
    "pkgutil": "resolve_name imports arbitrary objects",
    "zipimport": "imports code from archives",
    "marshal": "loads code objects",
    "types": "builds code and function objects",
    "inspect": "reaches frames and globals",
    "ctypes": "calls native code",
    "_ctypes": "calls native code",
    "site": "start-up hooks",
    "sysconfig": "interpreter configuration",
    "atexit": "registers callables",
    "gc": "reaches every object",
    "functools": "partial/reduce wrap calls into gadgets",
    "operator": "attrgetter/itemgetter/methodcaller reach arbitrary attributes",
    "sympy": "sympify evaluates strings",
    "jinja2": "template rendering",
    "yaml": "unsafe loaders",
    "jsonpickle": "decodes to arbitrary objects",
    "numexpr": "evaluate() runs expressions",
    "IPython": "runs code",
    # loading another pickle
    "pickle": "nested pickle.loads",
    "_pickle": "nested pickle.loads",
    "cPickle": "nested pickle.loads",
    "dill": "nested loads of code and functions",
    "cloudpickle": "rebuilds functions from code",
    "shelve": "pickle-backed storage",
    "joblib": "joblib.load unpickles",
    # files
    "io": "opens files",
    "_io": "opens files (FileIO)",
    "codecs": "opens files",
    "fileinput": "opens files",
    "shutil": "copies, moves and deletes files",
    "tempfile": "creates files",
    "logging": "handlers write files",
    "tarfile": "extracts archives",
    "zipfile": "extracts archives; reaches os through attributes",
    "distutils": "file_util.write_file and spawn",
    "setuptools": "build tooling, runs commands",
    "sqlite3": "opens database files",
    "dbm": "opens database files",
    "mmap": "maps files",
    # network
    "socket": "network connections",
    "ssl": "network connections (get_server_certificate exfiltrates via DNS)",
    "http": "network connections",
    "urllib": "network requests",
    "urllib2": "network requests",
    "urllib3": "network requests",
    "requests": "network requests",
    "httpx": "network requests",
    "ftplib": "network connections",
    "smtplib": "sends mail",
    "imaplib": "IMAP4_stream runs a command",
    "poplib": "network connections",
    "telnetlib": "network connections",
    "nntplib": "network connections",
    "xmlrpc": "remote calls",
    "socketserver": "network servers",
    "webbrowser": "opens URLs (runs a browser)",
    "antigravity": "opens a browser",
    # package managers and environment
    "pip": "installs packages (pip.main)",
    "ensurepip": "_run_pip installs packages",
    "venv": "creates environments, runs pip",
    "test": "CPython's test.support runs commands",
    "_osx_support": "runs commands",
    "_aix_support": "runs commands",
    "_pyrepl": "pager runs commands",
    "pyrepl": "pager runs commands",
    # scanners (turning off runtime protection)
    "fickling": "switches off a runtime scanner",
    "picklescan": "switches off a scanner",
    "modelscan": "switches off a scanner",
    "modelaudit": "switches off a scanner",
    # ML framework internals known as gadgets
    "torch.serialization": "torch.load of another file",
    "torch.hub": "downloads and runs code",
    "torch.jit": "compiles and runs code",
    "torch._inductor": "compiles and runs code (codecache.compile_file)",
    "torch._dynamo": "guard evaluation runs code",
    "torch.fx": "generates and executes code",
    "torch.package": "imports packaged code",
    "torch.utils.collect_env": "runs commands",
    "torch.utils.bottleneck": "runs scripts",
    "torch.utils.data.datapipes": "decoders unpickle",
    "torch.distributed": "remote calls",
    "torch.ops": "calls arbitrary operators",
    "torch.fx.experimental.symbolic_shapes": "ShapeEnv.evaluate_guards_expression evaluates",
    "numpy.testing": "runstring executes code",
    "numpy.f2py": "compiles and runs code",
    "numpy.distutils": "runs compilers",
    "numpy.ctypeslib": "loads native libraries",
    "numpy.lib.npyio": "numpy.load unpickles",
    "pandas.io": "reads files (read_pickle, read_csv)",
    "pandas.core.computation": "eval",
    "mlflow": "runs project entry points",
    "tensorflow.io": "reads and writes files",
    "keras.models": "loads models (Lambda layers run code)",
}

_NAMES = {
    ("builtins", "*"): "interpreter builtins (eval, exec, getattr, __import__, open, ...)",
    ("uuid", "*"): "uuid._get_command_stdout runs commands",
    ("torch.storage", "_load_from_bytes"): "unpickles nested bytes",
    ("torch", "load"): "loads another file",
    ("torch", "save"): "writes files",
    ("numpy", "load"): "unpickles (allow_pickle)",
    ("numpy", "fromfile"): "reads files",
    ("numpy", "save"): "writes files",
    ("pandas", "read_pickle"): "unpickles",
    ("pandas", "read_csv"): "reads files and URLs",
    ("pandas", "eval"): "evaluates expressions",
}

# Names that, anywhere in a dotted attribute chain, reach something dangerous.
_CHAIN_NAMES = frozenset(
    [
        "os",
        "sys",
        "subprocess",
        "system",
        "popen",
        "exec",
        "eval",
        "compile",
        "__import__",
        "__builtins__",
        "__globals__",
        "__dict__",
        "__getattribute__",
        "__subclasses__",
        "__class__",
        "__base__",
        "__mro__",
        "__reduce__",
        "builtins",
        "getattr",
        "setattr",
        "loads",
        "load",
        "open",
        "spawn",
        "run",
        "call",
        "check_output",
    ]
)


def _module_reason(module: str) -> str | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        reason = _MODULES.get(".".join(parts[:i]))
        if reason is not None:
            return reason
    return None


def dangerous_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is a known gadget, or ``None`` when it is merely unknown."""
    for mod in {module, module.replace("__builtin__", "builtins")}:
        reason = _NAMES.get((mod, name)) or _NAMES.get((mod, "*")) or _module_reason(mod)
        if reason:
            return reason
    if "." in name:
        hits = [seg for seg in name.split(".") if seg in _CHAIN_NAMES or _module_reason(seg)]
        if hits:
            return f"attribute chain {name!r} reaches {', '.join(hits)}"
    return None
