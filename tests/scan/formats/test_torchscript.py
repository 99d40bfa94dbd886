"""TorchScript: scripted code judged by what torch.jit runs, proven against torch itself.

Every malicious archive here is made by torch (``torch.jit.script`` + ``torch.jit.save``,
the flatbuffer and lite-interpreter writers), sometimes with the code text rewritten
into another spelling torch accepts.  The differential tests load each one with the real
``torch.jit.load`` (or ``torch.load``) in a subprocess whose payload is a tripwire: the
scripted ``__setstate__`` calls ``torch.from_file(path, shared=True)``, which creates
``path``; the file appearing proves the payload runs, and the scanner must block the
same bytes.  Benign scripted models (tests/fixtures/torchscript, made by
make_scripted.py there) must pass with zero findings.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from safe_pip.scan.formats import torchscript_ops

from .helpers import blocking, rules, scan_bytes

JIT: Any = torch.jit
"""torch.jit, untyped: its loaders and the flatbuffer writer have no annotations."""

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "torchscript"
MANIFEST: dict[str, str] = json.loads((FIXTURES / "manifest.json").read_text())


@torch.jit.script
class Tripwire:
    """Its ``__setstate__`` creates the file named by its state: the payload under test."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.n = 0

    def __getstate__(self) -> str:
        return self.path

    def __setstate__(self, path: str) -> None:
        self.path = path
        self.n = torch.from_file(path, True, 8).numel()  # used, so not dead code


class Holder(torch.nn.Module):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.t = Tripwire(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1


PAYLOAD_LINE = "_0 = torch.numel(torch.from_file(path, True, 8))"
"""The statement torch.jit.script writes for the payload; rewritten below."""


def _scripted(path: Path) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Holder(str(path))), buf)
    return buf.getvalue()


def _rewrite(
    archive: bytes,
    old: str,
    new: str,
    *,
    extra: dict[str, bytes] | None = None,
    rename: Callable[[str], str] = str,
) -> bytes:
    """The archive with its code text rewritten (debug info dropped: it holds offsets)
    and its member names passed through ``rename``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(".debug_pkl"):
                continue
            if "/code/" in info.filename and info.filename.endswith(".py"):
                text = data.decode()
                assert old in text, text
                data = text.replace(old, new).encode()
            zout.writestr(rename(info.filename), data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out.getvalue()


SPELLINGS = [
    "_0 = torch.numel(ops.aten.from_file(path, True, 8))",
    "_0 = torch.numel(torch.autograd.from_file(path, True, 8))",
    "_0 = torch.numel(ops.anything.autograd.from_file(path, True, 8))",
    "_0 = torch.numel(getattr(torch, 'from_file')(path, True, 8))",
    "f = torch.from_file\n    _0 = torch.numel(f(path, True, 8))",
    "_0 = torch.numel(getattr(ops.aten, 'from_file')(path, True, 8))",
    "_0 = torch.numel(torch .from_file (path, True, 8))",
]
"""Other spellings torch's source importer resolves to ``aten::from_file``."""

CUSTOM_OP_SPELLINGS = [
    "o = ops\n    n = o.safe_pip_test\n    _0 = n.tripwire(path)",
    "g = getattr\n    _0 = g(ops, 'safe_pip_test').tripwire(path)",
]
"""Custom operators reached through local names, which TorchScript binds to namespaces and
special forms too (``setSugaredVar``): the first reader resolved only literal spellings."""

CUSTOM_OP = "safe_pip_test::tripwire(str path) -> int"
"""Registered by the loader process, as an extension library would: it records its call
by creating ``path``."""

RENAMES: dict[str, Callable[[str], str]] = {
    "code-folder-case": lambda n: n.replace("archive/code/", "archive/CODE/"),
    "archive-folder-case": lambda n: "ARCHIVE" + n[7:] if n.endswith(".py") else n,
}
"""Member names torch's zip reader finds case-insensitively (miniz's locate_file), so the
code is compiled although no member is literally ``archive/code/…``."""

LOADER = """
import sys, torch
lib = torch.library.Library("safe_pip_test", "DEF")
lib.define("tripwire(str path) -> int")
def tripwire(path):
    open(path, "w").close()
    return 1
lib.impl("tripwire", tripwire, "CompositeExplicitAutograd")
args = sys.argv[1:]
for loader, path in zip(args[::2], args[1::2]):
    try:
        if loader == "jit":
            torch.jit.load(path)
        else:
            torch.load(path, weights_only=False)
    except Exception:
        pass
"""


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, bool]]:
    """Each malicious archive, and whether loading it with the real torch ran the payload.

    All are loaded by one subprocess (torch starts once); each has its own tripwire file.
    """
    d = tmp_path_factory.mktemp("torchscript")
    cases: dict[str, tuple[bytes, Path, str]] = {}
    for name, loader in (("plain", "jit"), ("torch.load", "torch.load")):
        wire = d / f"wire-{name}"
        cases[name] = (_scripted(wire), wire, loader)
    for i, spelling in enumerate(SPELLINGS):
        wire = d / f"wire-spelling{i}"
        cases[f"spelling{i}"] = (_rewrite(_scripted(wire), PAYLOAD_LINE, spelling), wire, "jit")
    wire = d / "wire-folder"
    extra = {"zz/readme.txt": b"x"}
    cases["folder"] = (
        _rewrite(_scripted(wire), PAYLOAD_LINE, PAYLOAD_LINE, extra=extra),
        wire,
        "jit",
    )
    for i, spelling in enumerate(CUSTOM_OP_SPELLINGS):
        wire = d / f"wire-custom{i}"
        cases[f"custom{i}"] = (_rewrite(_scripted(wire), PAYLOAD_LINE, spelling), wire, "jit")
    for name, rename in RENAMES.items():
        wire = d / f"wire-{name}"
        data = _rewrite(_scripted(wire), PAYLOAD_LINE, PAYLOAD_LINE, rename=rename)
        cases[name] = (data, wire, "jit")
    wire = d / "wire-flatbuffer"
    module = JIT.load(io.BytesIO(_scripted(wire)))  # runs the payload here once
    flat = d / "m.ff"
    JIT.save_jit_module_to_flatbuffer(module, str(flat))
    wire.unlink(missing_ok=True)
    cases["flatbuffer"] = (flat.read_bytes(), wire, "jit")
    args: list[str] = []
    for name, (data, _, loader) in cases.items():
        path = d / f"{name}.bin"
        path.write_bytes(data)
        args += [loader, str(path)]
    subprocess.run([sys.executable, "-c", LOADER, *args], capture_output=True, timeout=600)
    return {name: (data, wire.exists()) for name, (data, wire, _) in cases.items()}


# -- the payload runs, and the scanner blocks it ---------------------------------------
@pytest.mark.slow
def test_scripted_setstate_calling_from_file_runs_and_blocks(
    tmp_path: Path, payloads: dict[str, tuple[bytes, bool]]
) -> None:
    data, ran = payloads["plain"]
    assert ran
    res = scan_bytes(tmp_path, "model.pt", data)
    finding = next(f for f in res.findings if f.rule_id == "TORCHSCRIPT-UNSAFE-OP")
    assert "aten::from_file" in finding.message and "Tripwire.__setstate__" in finding.message
    assert "/code/__torch__/" in finding.location


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["torch.load", "folder", "flatbuffer", *(f"spelling{i}" for i in range(len(SPELLINGS)))]
)
def test_payload_torch_runs_is_blocked(
    tmp_path: Path, payloads: dict[str, tuple[bytes, bool]], case: str
) -> None:
    """torch.load hands a scripted archive to torch.jit; torch takes the archive folder from
    the first member; torch.jit.load accepts flatbuffers; and each spelling resolves to
    aten::from_file: torch itself proves the payload runs, the scanner must block it."""
    data, ran = payloads[case]
    assert ran, case
    res = scan_bytes(tmp_path, "weights.bin", data)
    assert "TORCHSCRIPT-UNSAFE-OP" in blocking(res), (case, res.findings)


def test_lite_interpreter_bytecode_is_judged(tmp_path: Path) -> None:
    wire = tmp_path / "created"
    module = JIT.load(io.BytesIO(_scripted(wire)))
    out = tmp_path / "m.ptl"
    module._save_for_lite_interpreter(str(out))
    res = scan_bytes(tmp_path, "m.ptl", out.read_bytes())
    where = {
        f.location.rsplit("!", 1)[-1] for f in res.findings if f.rule_id == "TORCHSCRIPT-UNSAFE-OP"
    }
    assert any(w.endswith("bytecode.pkl") for w in where), res.findings
    assert any(w.endswith("test_torchscript.py") for w in where), res.findings


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [*(f"custom{i}" for i in range(len(CUSTOM_OP_SPELLINGS))), *RENAMES]
)
def test_held_out_payload_torch_runs_is_blocked(
    tmp_path: Path, payloads: dict[str, tuple[bytes, bool]], case: str
) -> None:
    """Bypasses of the first reader: a custom operator reached through a local alias of
    ``ops`` or ``getattr`` (the loader registered it, as an imported extension would, and
    the tripwire records its call), and code under a folder whose case differs from
    ``code/``/the archive folder.  torch runs each; the scanner must block it."""
    data, ran = payloads[case]
    assert ran, case
    res = scan_bytes(tmp_path, "weights.bin", data)
    want = "TORCHSCRIPT-CUSTOM-OP" if case.startswith("custom") else "TORCHSCRIPT-UNSAFE-OP"
    assert want in blocking(res), (case, res.findings)


def test_aliases_of_roots_resolve_like_the_roots() -> None:
    from safe_pip.scan.formats.torchscript import code_uses

    source = (
        "class A:\n  def f(self, x: str) -> int:\n"
        "    c = __torch__.torch\n    k = c.classes.c10d\n    p = k.ProcessGroup\n"
        "    t = torch\n    f = t.autograd\n    _0 = f.save(x, x)\n"
        "    g = hasattr\n    h = g\n    _1 = h(ops, 'myns')\n    return 0\n"
    )
    targets = {u.target for u in code_uses(source, "__torch__")}
    assert {"__torch__.torch.classes.c10d.ProcessGroup", "aten::save"} <= targets


def test_aliases_that_never_settle_are_unresolved() -> None:
    from safe_pip.scan.formats.torchscript import code_uses

    source = "def f(x: int) -> int:\n    c = __torch__\n    c = c.a\n    return 0\n"
    kinds = {u.kind for u in code_uses(source, "__torch__")}
    assert "unresolved" in kinds


# -- static cases: what torch would need a native library for, and unreadable code ----
def test_save_and_rpc_ops_block(tmp_path: Path) -> None:
    base = _scripted(tmp_path / "x")
    for call, op in [
        ("torch.save(torch.zeros([1]), path)\n    _0 = 1", "aten::save"),
        ("_0 = ops.prim.rpc_async(path, path)", "prim::rpc_async"),
        ("_0 = torch.not_an_operator(path)", "aten::not_an_operator"),
    ]:
        res = scan_bytes(tmp_path, "m.pt", _rewrite(base, PAYLOAD_LINE, call))
        msgs = [f.message for f in res.findings if f.rule_id == "TORCHSCRIPT-UNSAFE-OP"]
        assert any(op in m for m in msgs), (call, res.findings)


def test_custom_namespace_and_torchbind_classes_are_reported(tmp_path: Path) -> None:
    base = _scripted(tmp_path / "x")
    res = scan_bytes(tmp_path, "a.pt", _rewrite(base, PAYLOAD_LINE, "_0 = ops.myns.run(path)"))
    assert "TORCHSCRIPT-CUSTOM-OP" in blocking(res)
    store = "__torch__.torch.classes.c10d.ProcessGroup"
    res = scan_bytes(
        tmp_path,
        "b.pt",
        _rewrite(base, PAYLOAD_LINE, f"_1 = annotate(Optional[{store}], None)\n    _0 = 1"),
    )
    assert "TORCHSCRIPT-CUSTOM-CLASS" in blocking(res)


@pytest.mark.parametrize(
    "body",
    [
        "_0 = getattr(torch, path)(path)",  # a computed name: torch refuses it
        "_0 = 1 +",  # not Python
    ],
)
def test_unresolvable_or_unparseable_code_blocks(tmp_path: Path, body: str) -> None:
    data = _rewrite(_scripted(tmp_path / "x"), PAYLOAD_LINE, body)
    assert "TORCHSCRIPT-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.pt", data))


def test_non_utf8_code_blocks(tmp_path: Path) -> None:
    data = _scripted(tmp_path / "x")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            raw = zin.read(info.filename)
            if info.filename.endswith("test_torchscript.py"):
                raw = raw.replace(b"return self.path", b"return self.path # \xff")
            zout.writestr(info.filename, raw)
    assert "TORCHSCRIPT-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.pt", out.getvalue()))


def test_damaged_flatbuffer_blocks(tmp_path: Path) -> None:
    data = b"\x00\x00\x10\x00PTMF" + b"\x00" * 8
    assert "TORCHSCRIPT-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.ff", data))


def test_python_package_named_code_in_a_wheel_is_not_torchscript(tmp_path: Path) -> None:
    """A wheel's ``pkg/code/*.py`` is Python the wheel rules judge, not TorchScript."""
    from tests.support.wheels import build_wheel

    whl = build_wheel(
        tmp_path,
        "demo",
        "1.0",
        {"demo/__init__.py": b"", "demo/data.pkl": b"\x80\x04N.", "demo/code/x.py": b"a.save(1)\n"},
    )
    res = scan_bytes(tmp_path, whl.name, whl.read_bytes())
    assert not {r for r in rules(res) if r.startswith("TORCHSCRIPT")}


# -- benign: real scripted models pass --------------------------------------------------
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_benign_scripted_models_pass(tmp_path: Path, name: str) -> None:
    res = scan_bytes(tmp_path, name, (FIXTURES / name).read_bytes())
    assert not res.findings, res.findings
    kinds = res.inventory
    judged = ("torchscript-code", "torchscript-flatbuffer", "torch-export-program")
    assert any(kinds.get(k, 0) for k in judged), kinds


def test_allowlist_is_current_with_installed_torch() -> None:
    """The committed table is what the generator makes from this torch's registry."""
    if torch.__version__.split("+")[0] != "2.13.0":
        pytest.skip("the table is generated from torch 2.13.0")
    names = {s.name for s in torch._C._jit_get_all_schemas()}
    judged = {n for n in names if n.split("::")[0] in ("aten", "prim", "quantized")}
    assert set(torchscript_ops.OPS) | set(torchscript_ops.EXCLUDED) >= judged - {
        n for n in judged if n.startswith("quantized::")
    }
    assert "aten::from_file" in torchscript_ops.EXCLUDED
    assert "aten::add" in torchscript_ops.OPS


def test_names_only_in_text_the_parser_skips_are_reported() -> None:
    """A lexer that read the file differently from Python's could see these as code."""
    from safe_pip.scan.formats.torchscript import code_uses

    source = (
        "class A:\n  def f(self, x: Tensor) -> Tensor:\n"
        "    # torch.from_file(x) ops.myns.run(x) __torch__.torch.classes.c10d.ProcessGroup\n"
        "    return x\n"
    )
    targets = {u.target for u in code_uses(source, "__torch__")}
    assert {
        "aten::from_file",
        "myns::run",
        "__torch__.torch.classes.c10d.ProcessGroup",
    } <= targets
