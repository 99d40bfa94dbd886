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
        "Files land in a top-level package owned by another well-known distribution "
        "(torch/, numpy/, pip/, setuptools/ ...) or named like a standard-library module, "
        "replacing or shadowing code the user did not ask to change.",
        _EXC,
    ),
    Rule(
        "WHEEL-SCRIPT-SHADOW",
        "Wheel installs a command named like a system or Python tool",
        S.HIGH,
        "A script in *.data/scripts or a console_scripts/gui_scripts entry point is named "
        "like pip, python, sudo, ls, git ...; on PATH it would run instead of the real "
        "tool.",
        _EXC,
    ),
    Rule(
        "WHEEL-RECORD-MISMATCH",
        "Wheel RECORD does not match its files",
        S.HIGH,
        "The RECORD file is missing, or lists a hash or size that differs from the member, "
        "a file that is not in the wheel, or omits a file that is. pip verifies RECORD "
        "only partially; a mismatch means the wheel was altered after it was built.",
        _EXC,
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
    ),
    Rule(
        "PY-DOWNLOAD-EXEC",
        "Python code downloads and runs code",
        S.HIGH,
        "Code fetched over the network (urllib, requests, httpx) is passed to "
        "exec/eval/compile, or a shell pipes a download into an interpreter "
        "(curl ... | sh).",
        _EXC,
    ),
    Rule(
        "PY-UNPARSEABLE",
        "Python module cannot be parsed",
        S.LOW,
        "A .py file is not valid Python for the scanner's parser (often a newer or older "
        "syntax); its import-time code was not checked.",
        "Informational: does not block under the default policy.",
    ),
)
