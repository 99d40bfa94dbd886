"""Python source read as the interpreter reads it: declared encoding, the target's grammar,
aliases and taint through variables, helpers called at import time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from safe_pip.models import Severity, TargetEnvironment
from safe_pip.scan.core.engine import scan_path

PYENV = Path("/root/.pyenv/versions")


def scan_source(tmp_path: Path, src: bytes, target: TargetEnvironment | None = None) -> set[str]:
    path = tmp_path / "pkg" / "mod.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(src)
    res = scan_path(path, target=target)
    return {f.rule_id for f in res.findings if f.severity >= Severity.MEDIUM}


@pytest.mark.parametrize(
    "src",
    [
        # an alias of exec, then decoded data
        b"import base64\n_run = exec\n_run(base64.b64decode('cHJpbnQoMSk='))\n",
        # a decoded string reaching exec through a second variable
        b"import base64\na = base64.b64decode(X)\nb = a\nc = b.decode()\nexec(c)\n",
        # module-level taint used inside a function
        b"import zlib\nP = zlib.decompress(D)\ndef go():\n    exec(P)\n",
        # alias of the decoder, tuple unpacking, walrus
        b"from base64 import b64decode as d\nx, y = d(A), 1\nexec(x)\n",
        b"import codecs\nif (s := codecs.decode(T, 'rot13')):\n    eval(s)\n",
        # __import__ as the sink, through an alias
        b"import base64\nimp = __import__\nimp(base64.b64decode(N).decode())\n",
        # marshal.loads as the decoder, compile as the sink
        b"import marshal\ncode = marshal.loads(B)\nexec(compile(code, 'x', 'exec'))\n",
        # fullwidth identifiers are NFKC-normalised by Python: this is exec
        "import base64\n\uff45\uff58\uff45\uff43(base64.b64decode('eA=='))\n".encode(),
    ],
)
def test_exec_of_decoded_data_through_variables(tmp_path: Path, src: bytes) -> None:
    assert "PY-EXEC-DECODED" in scan_source(tmp_path, src)


@pytest.mark.parametrize(
    "src",
    [
        b"import pickle\ndef _read(p):\n    return pickle.load(open(p, 'rb'))\nSTATE = _read('s.pkl')\n",
        b"import torch\ndef get():\n    return torch.load('m.pt', weights_only=False)\nM = get()\n",
        b"import torch\ndef get():\n    return torch.jit.load('m.pt')\nM = get()\n",
        # transitively, and through a decorator
        b"import pickle\ndef a():\n    return pickle.loads(B)\ndef b():\n    return a()\nX = b()\n",
        b"import pickle\ndef reg(f):\n    pickle.load(open('r.pkl', 'rb'))\n    return f\n@reg\ndef h():\n    pass\n",
        # an alias of the loader
        b"import pickle\nl = pickle.load\nS = l(open('s.pkl', 'rb'))\n",
    ],
)
def test_module_level_calls_of_loading_helpers(tmp_path: Path, src: bytes) -> None:
    assert "PY-UNSAFE-LOAD" in scan_source(tmp_path, src)


def test_helper_never_called_at_import_passes(tmp_path: Path) -> None:
    src = b"import pickle\ndef _read(p):\n    return pickle.load(open(p, 'rb'))\n"
    assert scan_source(tmp_path, src) == set()


def test_utf7_source_is_decoded_and_flagged(tmp_path: Path) -> None:
    """``+ACg-`` is ``(`` in utf-7: a byte search for ``exec(`` sees nothing."""
    src = b"# coding: utf-7\nimport base64\nexec+ACg-base64.b64decode+ACg-'eA==')+ACk-\n"
    got = scan_source(tmp_path, src)
    assert "PY-EXOTIC-ENCODING" in got and "PY-EXEC-DECODED" in got


def test_ordinary_declared_encoding_is_no_finding(tmp_path: Path) -> None:
    assert scan_source(tmp_path, b"# -*- coding: latin-1 -*-\nX = '\xe9'\n") == set()


NEW_SYNTAX = b"import base64\nexec(base64.b64decode(f'{'eA=='}'))\n"
"""A PEP 701 f-string (quotes reused inside): valid on 3.12+, a SyntaxError on 3.11."""


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a scanner older than 3.12")
def test_newer_syntax_blocks_without_a_target(tmp_path: Path) -> None:
    assert "PY-UNREADABLE-CODE" in scan_source(tmp_path, NEW_SYNTAX)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a scanner older than 3.12")
@pytest.mark.parametrize(("minor", "blocks"), [(12, True), (11, False)])
def test_newer_syntax_is_judged_by_the_target_interpreter(
    tmp_path: Path, minor: int, blocks: bool
) -> None:
    """The target compiles it (runs nothing): 3.12 accepts it, so it blocks; 3.11 cannot
    import it, so it never runs (low)."""
    hits = sorted(PYENV.glob(f"3.{minor}.*/bin/python3"))
    if not hits:
        pytest.skip(f"no Python 3.{minor} under {PYENV}")
    target = TargetEnvironment(python_version=(3, minor), python_executable=str(hits[-1]))
    assert ("PY-UNREADABLE-CODE" in scan_source(tmp_path, NEW_SYNTAX, target)) is blocks
