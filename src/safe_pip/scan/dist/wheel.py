"""Wheel layout rules: where files land and what Python runs without being asked.

Installing a wheel copies its members into ``site-packages`` (and ``bin/``,
``sys.prefix`` for ``*.data/``).  The payload need not be in a model file:

* a ``*.pth`` file at the top of site-packages runs every line that starts with
  ``import`` in every Python process (allowlisted by exact content, with reasons);
* ``sitecustomize``/``usercustomize`` are imported at every start-up;
* files inside another distribution's top-level package (``torch/``, ``pip/``)
  or named like a standard-library module replace code the user trusts;
* scripts and console entry points named ``pip``, ``python``, ``sudo``, ``ls`` ...
  shadow real tools on PATH;
* a RECORD that disagrees with the files means the wheel was edited after build.

A zip is treated as a wheel when it holds a top-level ``*.dist-info/WHEEL``
member, never because of its file name.  Path traversal and duplicated names are
reported by the archive reader for every zip.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import sys
from dataclasses import dataclass, field

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext

_WHEEL = re.compile(r"^([^/]+)\.dist-info/WHEEL$")
_RECORD_SELF = ("RECORD", "RECORD.jws", "RECORD.p7s")
_MAX_META = 16 * 1024 * 1024


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pth_nspkg(line: str) -> bool:
    """setuptools' generated ``*-nspkg.pth`` line, with only the namespace names varying."""
    shape = re.sub(r"'[A-Za-z0-9_.]+'", "'N'", line.strip())
    shape = re.sub(r"\*\(('N',\s*)*'N',?\)", "*(N)", shape)
    return shape in _NSPKG_SHAPES


_NSPKG_SHAPES = frozenset(
    re.sub(r"\*\(('N',\s*)*'N',?\)", "*(N)", s)
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

OWNERS: dict[str, frozenset[str]] = {
    k: frozenset(v)
    for k, v in {
        "torch": {"torch"},
        "torchgen": {"torch"},
        "functorch": {"torch"},
        "torchvision": {"torchvision"},
        "torchaudio": {"torchaudio"},
        "numpy": {"numpy"},
        "scipy": {"scipy"},
        "pandas": {"pandas"},
        "sklearn": {"scikit-learn"},
        "matplotlib": {"matplotlib"},
        "pylab": {"matplotlib"},
        "pip": {"pip"},
        "setuptools": {"setuptools"},
        "pkg_resources": {"setuptools"},
        "_distutils_hack": {"setuptools"},
        "wheel": {"wheel"},
        "transformers": {"transformers"},
        "tokenizers": {"tokenizers"},
        "safetensors": {"safetensors"},
        "huggingface_hub": {"huggingface-hub"},
        "accelerate": {"accelerate"},
        "datasets": {"datasets"},
        "tensorflow": {
            "tensorflow",
            "tensorflow-cpu",
            "tensorflow-gpu",
            "tensorflow-intel",
            "tensorflow-macos",
            "tf-nightly",
        },
        "keras": {"keras", "tf-keras"},
        "jax": {"jax"},
        "jaxlib": {"jaxlib"},
        "onnx": {"onnx"},
        "onnxruntime": {
            "onnxruntime",
            "onnxruntime-gpu",
            "onnxruntime-directml",
            "onnxruntime-openvino",
        },
        "cv2": {
            "opencv-python",
            "opencv-python-headless",
            "opencv-contrib-python",
            "opencv-contrib-python-headless",
        },
        "PIL": {"pillow"},
        "yaml": {"pyyaml"},
        "requests": {"requests"},
        "urllib3": {"urllib3"},
        "certifi": {"certifi"},
        "idna": {"idna"},
        "charset_normalizer": {"charset-normalizer"},
        "six": {"six"},
        "cryptography": {"cryptography"},
        "jinja2": {"jinja2"},
        "markupsafe": {"markupsafe"},
        "packaging": {"packaging"},
        "typing_extensions": {"typing-extensions"},
        "boto3": {"boto3"},
        "botocore": {"botocore"},
        "sympy": {"sympy"},
        "networkx": {"networkx"},
        "filelock": {"filelock"},
        "fsspec": {"fsspec"},
        "tqdm": {"tqdm"},
        "click": {"click"},
        "joblib": {"joblib"},
        "dill": {"dill"},
        "cloudpickle": {"cloudpickle"},
        "h5py": {"h5py"},
        "google": set(),
    }.items()
}
"""Top-level package → the distributions that may write it. ``google`` (a namespace
shared by many distributions) is deliberately absent from the check: see ``_SHARED``."""

_SHARED = frozenset({"google", "mpl_toolkits", "nvidia", "azure", "zope", "backports"})
_STDLIB_HARMLESS = frozenset({"test", "tests", "this", "antigravity", "idlelib", "turtledemo"})

SYSTEM_TOOLS = frozenset(
    {
        "pip",
        "pip3",
        "python",
        "python3",
        "python2",
        "py",
        "pythonw",
        "pydoc",
        "pydoc3",
        "idle",
        "idle3",
        "2to3",
        "easy_install",
        "sudo",
        "su",
        "doas",
        "ls",
        "cp",
        "mv",
        "rm",
        "ln",
        "cat",
        "sh",
        "bash",
        "zsh",
        "dash",
        "fish",
        "env",
        "git",
        "ssh",
        "scp",
        "sftp",
        "rsync",
        "curl",
        "wget",
        "apt",
        "apt-get",
        "dpkg",
        "yum",
        "dnf",
        "rpm",
        "brew",
        "npm",
        "npx",
        "node",
        "conda",
        "mamba",
        "uv",
        "pipx",
        "poetry",
        "make",
        "gcc",
        "cc",
        "g++",
        "ld",
        "docker",
        "kubectl",
        "id",
        "whoami",
        "chmod",
        "chown",
        "tar",
        "unzip",
        "zip",
        "gzip",
        "gpg",
        "openssl",
        "ps",
        "kill",
        "top",
        "find",
        "grep",
        "sed",
        "awk",
        "vi",
        "vim",
        "nano",
        "less",
        "more",
        "man",
        "which",
        "passwd",
        "login",
        "cron",
        "crontab",
        "systemctl",
        "service",
        "mount",
        "umount",
        "nc",
        "netcat",
        "telnet",
        "ping",
        "ifconfig",
        "ip",
        "powershell",
        "cmd",
    }
)
_VERSIONED_TOOL = re.compile(r"^(pip|python|pydoc|idle|easy_install)[0-9.]*(?:-[0-9.]+)?$")
_TOOL_OWNERS: dict[str, str] = {"pip": "pip", "easy_install": "setuptools"}


@dataclass
class WheelCheck:
    """Collects what the archive reader streams past, then judges the wheel as a whole."""

    dist_info: str
    location: str
    files: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)
    """member → [(sha256 digest b64 or None if unreadable, size)] (duplicates keep all)."""
    texts: dict[str, bytes] = field(default_factory=dict)

    @property
    def dist(self) -> str:
        return _norm(self.dist_info.rsplit(".dist-info", 1)[0].split("-", 1)[0])

    def member(self, ctx: ScanContext, name: str, data: Blob | None, loc: str) -> None:
        if data is None:
            self.files.setdefault(name, []).append((None, -1))
            return
        h = hashlib.sha256()
        for piece in data.chunks():
            h.update(piece)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        self.files.setdefault(name, []).append((digest, data.size))
        if self._wanted(name) and data.size <= _MAX_META:
            self.texts[name] = data.read(0, data.size)

    def _wanted(self, name: str) -> bool:
        return name in (f"{self.dist_info}/RECORD", f"{self.dist_info}/entry_points.txt") or (
            name.endswith(".pth")
            and _site_path(name) is not None
            and "/" not in (_site_path(name) or "/")
        )

    def finish(self, ctx: ScanContext) -> None:
        ctx.saw("wheel")
        for name in self.files:
            self._layout(ctx, name)
        for name, raw in sorted(self.texts.items()):
            if name.endswith(".pth"):
                self._pth(ctx, name, raw)
        self._entry_points(ctx)
        self._record(ctx)

    # -- placement -------------------------------------------------------------------
    def _layout(self, ctx: ScanContext, name: str) -> None:
        loc = f"{self.location}!{name}"
        script = _script_name(name)
        if script is not None:
            self._script(ctx, script, loc, "script")
            return
        rel = _site_path(name)
        if rel is None:
            return
        top = rel.split("/", 1)[0]
        if top.endswith((".dist-info", ".egg-info")):
            return
        module = top.split(".", 1)[0]
        if module in ("sitecustomize", "usercustomize"):
            ctx.report(
                "WHEEL-STARTUP-HOOK",
                f"installs {top}, which every Python process imports at start-up",
                loc,
            )
            return
        owners = OWNERS.get(module)
        if module in _SHARED:
            return
        if owners is not None and self.dist not in owners:
            ctx.report(
                "WHEEL-FOREIGN-PACKAGE",
                f"writes into {module}/, which belongs to {', '.join(sorted(owners))}, "
                f"not {self.dist}",
                loc,
                package=module,
            )
        elif (
            owners is None
            and module in sys.stdlib_module_names
            and module not in _STDLIB_HARMLESS
            and _norm(module) != self.dist
        ):
            ctx.report(
                "WHEEL-FOREIGN-PACKAGE",
                f"installs {top!r}, named like the standard-library module {module!r}",
                loc,
                package=module,
            )

    def _script(self, ctx: ScanContext, script: str, loc: str, kind: str) -> None:
        base = re.sub(r"\.(exe|bat|cmd|ps1|py)$", "", script.lower())
        tool = base if base in SYSTEM_TOOLS else None
        versioned = _VERSIONED_TOOL.match(base)
        if tool is None and versioned:
            tool = versioned.group(1)
        if tool is None:
            return
        owner = _TOOL_OWNERS.get(re.sub(r"[0-9.]+$", "", tool))
        if owner is not None and owner == self.dist:
            return
        ctx.report(
            "WHEEL-SCRIPT-SHADOW",
            f"{kind} {script!r} is named like the system/Python tool {tool!r}",
            loc,
            script=script,
        )

    def _entry_points(self, ctx: ScanContext) -> None:
        raw = self.texts.get(f"{self.dist_info}/entry_points.txt")
        if raw is None:
            return
        section = ""
        for line in raw.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
            elif "=" in line and section in ("console_scripts", "gui_scripts"):
                name = line.split("=", 1)[0].strip()
                self._script(
                    ctx,
                    name,
                    f"{self.location}!{self.dist_info}/entry_points.txt",
                    f"{section} entry point",
                )

    # -- .pth ------------------------------------------------------------------------
    def _pth(self, ctx: ScanContext, name: str, raw: bytes) -> None:
        loc = f"{self.location}!{name}"
        ctx.saw("pth")
        for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
            if not line.startswith(("import ", "import\t")):
                continue
            if line in PTH_ALLOWED or line.rstrip() in {k.rstrip() for k in PTH_ALLOWED}:
                continue
            if _pth_nspkg(line):
                continue
            ctx.report(
                "WHEEL-PTH-EXEC",
                f"line {n} runs at every Python start-up: {line[:160]!r}",
                f"{loc}:{n}",
                line=line[:1000],
            )

    # -- RECORD ----------------------------------------------------------------------
    def _record(self, ctx: ScanContext) -> None:
        record_name = f"{self.dist_info}/RECORD"
        loc = f"{self.location}!{record_name}"
        raw = self.texts.get(record_name)
        if raw is None:
            ctx.report("WHEEL-RECORD-MISMATCH", "the wheel has no (readable) RECORD", loc)
            return
        listed: dict[str, tuple[str, str]] = {}
        try:
            for row in csv.reader(io.StringIO(raw.decode("utf-8"))):
                if row and row[0]:
                    listed[row[0]] = (
                        row[1] if len(row) > 1 else "",
                        row[2] if len(row) > 2 else "",
                    )
        except (UnicodeDecodeError, csv.Error) as exc:
            ctx.report("WHEEL-RECORD-MISMATCH", f"RECORD cannot be parsed: {exc}", loc)
            return
        problems: list[str] = []
        for name, copies in self.files.items():
            if name.startswith(f"{self.dist_info}/") and name.rsplit("/", 1)[-1] in _RECORD_SELF:
                continue
            entry = listed.get(name)
            if entry is None:
                problems.append(f"{name}: not listed in RECORD")
                continue
            hash_spec, size = entry
            algo, _, want = hash_spec.partition("=")
            for digest, actual in copies:
                if digest is None:
                    continue
                if algo != "sha256":
                    problems.append(f"{name}: RECORD hash {algo or 'missing'} is not sha256")
                elif want != digest:
                    problems.append(f"{name}: sha256 differs from RECORD")
                if size and size.isdigit() and int(size) != actual:
                    problems.append(f"{name}: size {actual} differs from RECORD's {size}")
        for name in listed:
            if name not in self.files and name.rsplit("/", 1)[-1] not in _RECORD_SELF:
                problems.append(f"{name}: listed in RECORD but not in the wheel")
        if problems:
            ctx.report(
                "WHEEL-RECORD-MISMATCH",
                f"RECORD does not match the files ({len(problems)} problem(s)): "
                + "; ".join(problems[:5]),
                loc,
                problems=problems[:100],
            )


def _site_path(name: str) -> str | None:
    """Where ``name`` lands relative to site-packages, or None when it lands elsewhere."""
    parts = name.split("/", 2)
    if parts[0].endswith(".data") and len(parts) == 3:
        if parts[1] in ("purelib", "platlib"):
            return parts[2]
        if parts[1] == "data" and "site-packages/" in parts[2]:
            return parts[2].split("site-packages/", 1)[1]
        return None
    return name


def _script_name(name: str) -> str | None:
    """The command name for a member that lands in bin/ (or Scripts/)."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0].endswith(".data") and parts[1] == "scripts":
        return parts[2]
    if (
        len(parts) >= 3
        and parts[0].endswith(".data")
        and parts[1] == "data"
        and parts[-2] in ("bin", "Scripts")
    ):
        return parts[-1]
    return None


def wheel_dist_info(names: list[str]) -> str | None:
    """The ``name-version.dist-info`` folder when the zip is a wheel."""
    for n in names:
        m = _WHEEL.match(n)
        if m:
            return f"{m.group(1)}.dist-info"
    return None
