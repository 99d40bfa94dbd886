"""torch.export (.pt2) programs: the strings torch evaluates and the callables it resolves.

The program is saved by ``torch.export.save`` (tests/fixtures/torchscript/resnet_exported.pt2
and one made here with a dynamic batch), then edited as an attacker would.  The
differential tests load the edited archive with the real ``torch.export.load`` and call
``ep.module()`` in a subprocess; the payload ``touch``-es a tripwire file, proving torch
runs it (``expr_str`` through ``sympy.sympify`` while loading, ``guards_code`` through
``exec`` in ``ep.module()``).  The scanner must block the same bytes.
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

from safe_pip.scan.formats.exported_program import guard_ok, sympy_ok

from .helpers import blocking, scan_bytes

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "torchscript" / "resnet_exported.pt2"


class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x).relu()[0] * x.shape[0]
        return out


@pytest.fixture(scope="module")
def program() -> bytes:
    batch = torch.export.Dim("b")
    ep = torch.export.export(Small(), (torch.randn(4, 3),), dynamic_shapes=({0: batch},))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def _edit(
    archive: bytes,
    change: Callable[[dict[str, Any]], None],
    rename: Callable[[str], str] = str,
) -> bytes:
    """The archive with its program edited and every member name passed through ``rename``
    (the files of model ``model`` follow its program to the new model name)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if "/models/" in info.filename and info.filename.endswith(".json"):
                doc = json.loads(data)
                change(doc)
                data = json.dumps(doc).encode()
            zout.writestr(rename(info.filename), data)
    return out.getvalue()


def _model_name(name: str) -> Callable[[str], str]:
    """Rename model ``model`` to ``name`` (its program, weights, constants, inputs)."""

    def rename(member: str) -> str:
        if member.endswith("/models/model.json"):
            return member[: -len("model.json")] + name
        stem = name[: -len(".json")]
        for folder in ("weights/", "constants/", "sample_inputs/"):
            if f"/data/{folder}model" in member:
                return member.replace(f"/data/{folder}model", f"/data/{folder}{stem}")
        return member

    return rename


RENAMES: dict[str, Callable[[str], str]] = {
    # torch's zip reader locates records case-insensitively
    "archive-format-case": lambda n: n.replace("/archive_format", "/ARCHIVE_FORMAT"),
    # _load_exported_programs parses every record under models/, at any depth...
    "program-in-subfolder": _model_name("sub/model.json"),
    # ...and whatever its extension: the model name is the path minus its last 5 characters
    "program-without-json-suffix": _model_name("modelXjsonz"),
}
"""Archives the first reader did not recognise as programs; torch loads each."""


def _first_sym(doc: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = doc["graph_module"]["graph"]["sym_int_values"]
    expr: dict[str, Any] = next(iter(values.values()))["as_expr"]
    return expr


LOADER = """
import sys, torch
for path in sys.argv[1:]:
    try:
        torch.export.load(path).module()(torch.randn(5, 3))
    except Exception:
        pass
"""


@pytest.fixture(scope="module")
def payloads(
    tmp_path_factory: pytest.TempPathFactory, program: bytes
) -> dict[str, tuple[bytes, bool]]:
    """The edited programs, and whether the real torch ran each payload (one subprocess)."""
    d = tmp_path_factory.mktemp("pt2")
    expr_wire, guard_wire = d / "expr-ran", d / "guard-ran"

    def expr(doc: dict[str, Any]) -> None:
        sym = _first_sym(doc)
        sym["expr_str"] = f"__import__('os').system('touch {expr_wire}') + " + sym["expr_str"]

    def guard(doc: dict[str, Any]) -> None:
        doc["guards_code"] = [f"__import__('os').system('touch {guard_wire}') == 0"]

    cases = {
        "expr": (_edit(program, expr), expr_wire),
        "guard": (_edit(program, guard), guard_wire),
    }
    for name, rename in RENAMES.items():
        wire = d / f"{name}-ran"

        def held_out(doc: dict[str, Any], wire: Path = wire) -> None:
            sym = _first_sym(doc)
            sym["expr_str"] = f"__import__('os').system('touch {wire}') + " + sym["expr_str"]

        cases[name] = (_edit(program, held_out, rename), wire)
    paths = []
    for name, (data, _) in cases.items():
        path = d / f"{name}.pt2"
        path.write_bytes(data)
        paths.append(str(path))
    subprocess.run([sys.executable, "-c", LOADER, *paths], capture_output=True, timeout=600)
    return {name: (data, wire.exists()) for name, (data, wire) in cases.items()}


def test_real_exported_programs_pass(tmp_path: Path, program: bytes) -> None:
    for name, data in (("fixture.pt2", FIXTURE.read_bytes()), ("small.pt2", program)):
        res = scan_bytes(tmp_path, name, data)
        assert not res.findings, res.findings
        assert res.inventory.get("torch-export-program") == 1


@pytest.mark.slow
@pytest.mark.parametrize("case", ["expr", "guard"])
def test_strings_torch_evaluates_run_and_block(
    tmp_path: Path, payloads: dict[str, tuple[bytes, bool]], case: str
) -> None:
    """expr_str runs through sympify in torch.export.load; guards_code through exec in
    ep.module(): torch proves each payload runs, the scanner must block it."""
    data, ran = payloads[case]
    assert ran, case
    assert "PT2-CODE" in blocking(scan_bytes(tmp_path, "m.pt2", data))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(RENAMES))
def test_held_out_archives_torch_loads_are_judged(
    tmp_path: Path, payloads: dict[str, tuple[bytes, bool]], case: str
) -> None:
    """Bypasses of the first reader: a folder torch finds case-insensitively, and programs
    under models/ that are not models/<name>.json.  torch.export.load evaluates each."""
    data, ran = payloads[case]
    assert ran, case
    assert "PT2-CODE" in blocking(scan_bytes(tmp_path, "m.pt2", data))


@pytest.mark.parametrize(
    "target",
    [
        "torch.ops.aten.add.Tensor.__class__",
        "torch.ops.aten.add.Tensor._op",
        "torch.ops.aten.add.default.x.y",
        "torch.ops.higher_order.cond.x",
    ],
)
def test_getattr_chains_past_an_operator_block(tmp_path: Path, program: bytes, target: str) -> None:
    """torch writes torch.ops.<ns>.<op>[.<overload>]; anything longer walks the operator
    object's attributes with getattr."""

    def change(doc: dict[str, Any]) -> None:
        doc["graph_module"]["graph"]["nodes"][0]["target"] = target

    assert "PT2-UNSAFE-TARGET" in blocking(scan_bytes(tmp_path, "m.pt2", _edit(program, change)))


def test_non_operator_targets_block(tmp_path: Path, program: bytes) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["graph_module"]["graph"]["nodes"][0]["target"] = "torch.serialization.os.system"

    res = scan_bytes(tmp_path, "m.pt2", _edit(program, change))
    assert "PT2-UNSAFE-TARGET" in blocking(res)

    def change_op(doc: dict[str, Any]) -> None:
        doc["graph_module"]["graph"]["nodes"][0]["target"] = "torch.ops.aten.from_file.default"

    assert "TORCHSCRIPT-UNSAFE-OP" in blocking(
        scan_bytes(tmp_path, "n.pt2", _edit(program, change_op))
    )


def test_aotinductor_members_are_native_code(tmp_path: Path, program: bytes) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(program)) as zin, zipfile.ZipFile(out, "w") as zout:
        prefix = zin.namelist()[0].split("/", 1)[0]
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr(f"{prefix}/data/aotinductor/model/model.so", b"\x7fELF" + b"\x00" * 60)
    assert "PT2-NATIVE-CODE" in blocking(scan_bytes(tmp_path, "m.pt2", out.getvalue()))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Symbol('s77', positive=True, integer=True)", True),
        ("FloorDiv(Symbol('s0', integer=True), 2) + Max(1, Symbol('s1'))", True),
        ("s0*s1 + 3", True),
        ("__import__('os').system('id')", False),
        ("lambdify('x', 'x')", False),
        ("Symbol('s0').__class__", False),
        ("Integer('1e3')", False),
        ("Symbol('a b')", False),
    ],
)
def test_sympy_grammar(text: str, ok: bool) -> None:
    assert sympy_ok(text) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("L['x'].size()[0] <= 64", True),
        ("2 <= L['x'].size()[0] and L['x'].stride()[1] == 1", True),
        ("math.floor(L['x'].size()[0] / 2) == 2", True),
        ('L[\'x\'].size()[0] == \'a"), __import__("os").system("id"), ("\'', False),
        ("torch.save(L['x'], 'f') is None", False),
        ("L['x'].__class__ is None", False),
    ],
)
def test_guard_grammar(text: str, ok: bool) -> None:
    assert guard_ok(text) is ok
