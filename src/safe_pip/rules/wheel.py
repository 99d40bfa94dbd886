"""Rules of the wheel/sdist layout checks and the Python source (``ast``) rules.

A wheel is installed by copying its files, so what matters is *where* they land
(``site-packages`` root, another project's package, ``bin/``) and what Python runs
without being asked (``*.pth`` lines, ``sitecustomize``, module-level code).
"""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date "
    "(bind it to the file's sha256 where you can)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "WHEEL-PTH-EXEC",
        "Wheel installs a .pth file that runs code at every Python start",
        S.HIGH,
        "site executes every line of a .pth file in site-packages that starts with "
        "'import', in every Python process, before any user code. Only a few well-known "
        "files (setuptools' distutils-precedence.pth, namespace-package nspkg.pth) are "
        "allowed, by exact content.",
        _EXC,
    ),
    Rule(
        "WHEEL-PTH-DORMANT",
        "Wheel installs a .pth start-up line that is dormant unless its own variable is set",
        S.LOW,
        "A .pth line site.py executes at every start does nothing unless an environment "
        "variable named for the distribution itself is set (COVERAGE_PROCESS_START), and then "
        "only imports and calls the distribution's own code; judged on its syntax tree. "
        "Reported so it stays visible.",
        "Informational: does not block under the default policy.",
    ),
    Rule(
        "WHEEL-PLUGIN-AUTOLOAD",
        "Wheel registers a plugin that a tool loads in every process",
        S.HIGH,
        "An entry point in a group a tool imports without being asked (pytest11 in every "
        "pytest process, torch.backends on import torch; see safe_pip/data/plugin_groups.json). "
        "Low when the entry point names the wheel's own code (which is scanned like any "
        "module); high when it names code the wheel does not ship.",
        _EXC,
    ),
    Rule(
        "WHEEL-STARTUP-HOOK",
        "Wheel installs sitecustomize or usercustomize",
        S.HIGH,
        "sitecustomize.py/usercustomize.py at the top of site-packages are imported by "
        "every Python process at start-up.",
        _EXC,
    ),
    Rule(
        "WHEEL-FOREIGN-PACKAGE",
        "Wheel writes into another distribution's or the standard library's package",
        S.HIGH,
        "Files overwrite a file another installed distribution owns (from its RECORD), land "
        "in a top-level package another owns (torch/, pip/ ...), in a folder named like a "
        "standard-library module, or in the interpreter's own library folder; shared "
        "namespaces (google/, nvidia/) are judged per file. Computed against the target "
        "environment; safe-pip scan uses a shipped default.",
        _EXC,
    ),
    Rule(
        "WHEEL-BYTECODE",
        "Wheel installs compiled Python bytecode (.pyc)",
        S.HIGH,
        "Python imports a .pyc without its source (mypkg/evil.pyc: import mypkg.evil runs "
        "it) and, from __pycache__, in place of the source it names when the recorded "
        "timestamp or hash matches (an unchecked hash-based .pyc is never compared). The "
        "scanner judges source; what bytecode runs is unread, so a wheel that ships it is "
        "refused. Installers compile bytecode themselves after installing (pip does by "
        "default), so a wheel never needs to ship it.",
        _EXC,
    ),
    Rule(
        "WHEEL-SCRIPT-SHADOW",
        "Wheel installs a command that replaces another's",
        S.HIGH,
        "A script in *.data/scripts or a console_scripts/gui_scripts entry point (read with "
        "importlib.metadata's own parser, as pip does) has the name of a command another "
        "distribution or the environment itself installed (pip, python, torchrun ...) or of "
        "a command on the target's PATH (sudo, ls, git ...), or is a path rather than a name. "
        "Computed against the target environment; safe-pip scan uses a shipped default.",
        _EXC,
    ),
    Rule(
        "WHEEL-OVERLAP",
        "Two wheels of one install write the same file with different content",
        S.HIGH,
        "Two artifacts chosen for the same install would write the same installed path "
        "(site-packages, the scripts folder, the prefix, including the files pip maps from "
        ".data/purelib|platlib|scripts|data and the console/gui scripts it generates) with "
        "different bytes. pip installs one wheel after the other and the last one silently "
        "replaces the other's file: a dependency shipping requests/__init__.py replaces the "
        "real requests installed beside it. Byte-identical files (a shared namespace "
        "__init__.py) and shared folders are not overlaps; a member that cannot be read "
        "counts as different. Also two files of different wheels that are the same module "
        "(requests/adapters/__init__.py or adapters.cpython-311-...so is imported in place of "
        "requests/adapters.py), and a file one wheel writes into a package another wheel of "
        "the install alone owns, as WHEEL-FOREIGN-PACKAGE judges installed owners. "
        "Judged at install time (safe-pip install, safe-pip lock) over "
        "the whole set of wheels; safe-pip serve vets one file at a time and cannot see it.",
        "Install only one of the two distributions, or add an [[exception]] with this rule "
        "id, a reason and an expiry date for each package whose report carries the finding.",
    ),
    Rule(
        "WHEEL-RECORD-MISMATCH",
        "Wheel RECORD does not match its files",
        S.HIGH,
        "The RECORD file is missing, or lists a hash or size that differs from the member, "
        "or omits a file the wheel ships. pip verifies RECORD "
        "only partially; a mismatch means the wheel was altered after it was built.",
        _EXC,
    ),
    Rule(
        "WHEEL-RECORD-ABSENT",
        "Wheel RECORD lists files the wheel does not ship",
        S.LOW,
        "RECORD names files that are not in the archive. pip installs only what the zip "
        "holds, so nothing unvetted lands; a sloppy build, not an attack (a hash mismatch or "
        "an unlisted file is WHEEL-RECORD-MISMATCH and blocks).",
        "Informational: does not block under the default policy.",
    ),
    Rule(
        "PY-UNSAFE-LOAD",
        "Python code loads a pickle-based file unsafely at import time",
        S.MEDIUM,
        "Module-level code (run on import) or setup.py calls torch.load without "
        "weights_only=True, pickle.load(s), joblib.load, dill/cloudpickle load or "
        "numpy.load(allow_pickle=True): importing the package unpickles a file.",
        _EXC,
    ),
    Rule(
        "PY-EXEC-DECODED",
        "Python code executes decoded or decompressed data",
        S.HIGH,
        "exec, eval or compile is applied to base64-, zlib-, hex- or marshal-decoded data: "
        "the classic way to hide a payload from review.",
        _EXC,
        suspicious=True,
    ),
    Rule(
        "PY-DOWNLOAD-EXEC",
        "Python code downloads and runs code",
        S.HIGH,
        "Code fetched over the network (urllib, requests, httpx) is passed to "
        "exec/eval/compile, or a shell pipes a download into an interpreter "
        "(curl ... | sh).",
        _EXC,
        suspicious=True,
    ),
    Rule(
        "PY-UNPARSEABLE",
        "Python module cannot be parsed, and cannot run",
        S.LOW,
        "A .py file is not valid Python for the interpreter that would import it (the target "
        "interpreter compiled it and refused, or its encoding cannot be decoded), or the "
        "scanner cannot parse it and it holds no code-execution words: importing it raises "
        "before any of it runs.",
        "Informational: does not block under the default policy.",
    ),
    Rule(
        "PY-UNREADABLE-CODE",
        "Python module the scanner cannot parse but the importing interpreter may run",
        S.HIGH,
        "The scanner's Python cannot parse the file (newer syntax: a 3.12 f-string on a 3.11 "
        "scanner), the target interpreter accepts it (or no target was given), and it holds "
        "code-execution words (exec, eval, compile, __import__, system, load ...): its "
        "import-time code cannot be checked, so it is not passed as harmless.",
        _EXC,
    ),
    Rule(
        "PY-EXOTIC-ENCODING",
        "Python module declares an encoding that hides its code from byte readers",
        S.HIGH,
        "The PEP 263 coding declaration names a codec in which ASCII bytes do not stand for "
        "themselves (utf-7, utf-16, ...): Python decodes it before compiling, so the code it "
        "runs differs from what a reader or a byte search sees. The decoded text is scanned "
        "too.",
        _EXC,
    ),
)
