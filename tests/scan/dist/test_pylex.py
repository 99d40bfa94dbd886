"""``pylex`` cuts only comments and plain strings: every interpreter is the oracle.

The cut lets a module whose load names sit only in docstrings and comments skip compiling.
An attacker who read it wants an identifier the interpreter sees as code inside a region we
cut: a string that ends elsewhere for the tokenizer (raw strings, escapes, ``\\r`` line
ends, triple quotes), a comment that is not one, or an f-string that PEP 701 (3.12) lexes
differently (``f"{d["k"] if pickle.loads(b) else 1}"``). Each case and thousands of random
texts are parsed by every CPython 3.10-3.13 on the machine; every identifier that parser
sees must lie in what ``pylex`` keeps.
"""

from __future__ import annotations

import bisect
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import Findings, ScanContext
from safe_pip.scan.dist import pylex, pysource

PYENV = Path("/root/.pyenv/versions")


def _interpreters() -> list[str]:
    """The running Python and every pyenv CPython from 3.10 on (the oracles)."""
    found = [sys.executable]
    for root in sorted(PYENV.glob("3.1[0-9]*")):
        exe = root / "bin" / f"python{root.name.rsplit('.', 1)[0]}"
        if exe.is_file():
            found.append(str(exe))
    return found


ORACLE = r"""
import ast, json, sys
out = []
for text in json.load(sys.stdin):
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        out.append(None)
        continue
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    def offset(lineno, col):
        line = lines[lineno - 1].encode("utf-8")
        return starts[lineno - 1] + len(line[:col].decode("utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.append((node.id, offset(node.lineno, node.col_offset)))
        elif isinstance(node, ast.Attribute):
            end = offset(node.end_lineno, node.end_col_offset)
            names.append((node.attr, end - len(node.attr)))
        elif isinstance(node, ast.arg):
            names.append((node.arg, offset(node.lineno, node.col_offset)))
        elif isinstance(node, ast.alias) and hasattr(node, "lineno"):
            names.append((node.name, offset(node.lineno, node.col_offset)))
    out.append(names)
json.dump(out, sys.stdout)
"""
"""Per text: None if this interpreter cannot parse it, else every identifier it reads, with
where it starts (``str`` offsets; the parser's columns are UTF-8 byte offsets)."""


RULE_WORDS = (
    (pysource._LOAD_NAMES, pysource._LOAD_RE, pysource._LOAD_HEADS),
    (
        frozenset({"exec", "eval", "compile", "execfile", "__import__", "import_module"}),
        pysource._EXEC_RE,
        pysource._EXEC_HEADS,
    ),
)
"""Each rule's callee names, and the word filter ``read_python`` asks ``_in_code`` about."""


def _oracle(python: str, texts: list[str]) -> list[list[tuple[str, int]] | None]:
    # text mode would turn \r line ends into \n on the way in; bytes keep them
    done = subprocess.run(
        [python, "-I", "-c", ORACLE],
        input=json.dumps(texts).encode(),
        capture_output=True,
        check=True,
        timeout=600,
    )
    return [None if r is None else [(n, p) for n, p in r] for r in json.loads(done.stdout)]


def _data(text: str) -> bytes:
    import unicodedata

    words = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return words.encode("utf-8", "surrogatepass")


def _check(texts: list[str]) -> dict[str, int]:
    """Every identifier each interpreter parses lies in code as ``pylex`` reads it; a load
    name or an exec-like name among them makes ``_in_code`` say yes for its rule's words.
    Returns how many texts each oracle parsed."""
    parsed: dict[str, int] = {}
    for python in _interpreters():
        results = _oracle(python, texts)
        parsed[python] = sum(r is not None for r in results)
        for text, names in zip(texts, results, strict=True):
            if names is None:
                continue
            kept = pylex.code_only(text)
            words = _words(kept) if kept is not None else set()
            cuts = _cuts(text)
            for name, at in names:
                parts = name.split(".")  # an import's dotted name; "*" is no identifier
                if not all(part.isidentifier() for part in parts):
                    continue
                if text.isascii():
                    assert text[at : at + len(parts[0])] == parts[0], (python, text, name, at)
                    i = bisect.bisect_right(cuts, (at, len(text))) - 1
                    assert i < 0 or cuts[i][1] <= at, (python, text, name, at)
                    if len(text) < 4096:  # (it reads from the start each time)
                        assert pylex.in_code(text, [at]), (python, text, name, at)
                if kept is not None:
                    assert words.issuperset(parts), (python, text, name)
            for rule_names, regex, heads in RULE_WORDS:
                if any(name.rsplit(".", 1)[-1] in rule_names for name, _ in names):
                    assert pysource._in_code(text, _data(text), regex, heads), (python, text)
    return parsed


def _cuts(text: str) -> list[tuple[int, int]]:
    """The regions ``pylex`` cuts, ascending (none where it is unsure)."""
    tokens = list(pylex._tokens(text))
    if None in tokens:
        return []
    return [(at, end) for at, end, cut in tokens if cut]  # type: ignore[misc]


def _words(code: str) -> set[str]:
    import re
    import unicodedata

    return set(re.findall(r"\w+", unicodedata.normalize("NFKC", code)))


CASES = [
    # the literal ends where the tokenizer ends it
    "r'\\''; pickle.loads(b)\n",
    "x = 'a\\\\'; pickle.loads(b) #'\n",
    'x = "a\\"b"; pickle.loads(b) #"\n',
    "x = 'a\\\r\nb'; pickle.loads(b)\n",
    "x = '''a''b''' ; pickle.loads(b) #'''\n",
    "x = '''a'''' ' ; pickle.loads(b)\n",
    "x = ''; pickle.loads(b); y = ''\n",
    'x = """doc "" \\""" """; pickle.loads(b)\n',
    "x = b'#'; pickle.loads(b)\n",
    'x = rb"\\"" ; pickle.loads(b) # "\n',
    # comments end at any line end, \r included
    "x = 1 # ' \npickle.loads(b) # '\n",
    "x = 1 # ' \rpickle.loads(b) # '\r",
    "x = 1 # ' \r\npickle.loads(b) # '\r\n",
    # f-strings: fields are code, and 3.12 nests quotes
    'x = f"{pickle.loads(b)}"\n',
    'x = f"{d["k"] if pickle.loads(b) else 1}"\n',
    'x = f\'{d["k"]}\' + f"{pickle.loads(b)}"\n',
    'x = f"{x!r:>{w}}" ; pickle.loads(b) # "\n',
    'x = f"{{" ; pickle.loads(b) # "\n',
    "x = f'''{d['k']}''' ; pickle.loads(b) # '''\n",
    'x = rf"{pickle.loads(b)}"\n',
    'x = Rf"\\{pickle.loads(b)}"\n',
    'x = f"{1:#x}"; pickle.loads(b)\n',
    "x = f'{\"#\"}'; pickle.loads(b)\n",
    # docstrings and comments only: nothing in code (what the cut is for)
    '"""Use torch.load or pickle.loads."""\nimport torch\n# torch.load(f)\nx = 1\n',
    "import torch\ndef f():\n    '''call torch.load'''\n    return 1\n",
    # identifiers around literals, and fullwidth ones
    "import pickle\nx = pickle.loads(b'')\n",
    "import pickle\nx = ('' or pickle).loads(b'')\n",
    "import pickle\nx = pickle.\\\nloads(b'')\n",
    "import pickle\nX = pickle.\uff4c\uff4f\uff41\uff44\uff53(b'')  # '\n",
    "import pickle\nX = '\u2019'; Y = pickle.loads(b)\n",
    # the exec rules' names
    "import base64\nexec(base64.b64decode(b'')) # '\n",
    "x = r'\\'; __import__('os') #'\n",
    "x = f'{eval(y)}'\n",
    "import builtins\nx = f\"{d['k']}\" ; builtins.\uff45\uff56\uff41\uff4c(y)\n",
    'x = """doc exec( """ ; import_module(x)\n',
]


def test_hand_cases_against_every_interpreter() -> None:
    parsed = _check(CASES)
    assert all(n >= len(CASES) - 4 for n in parsed.values()), parsed


def test_what_the_cut_decides() -> None:
    doc = '"""Use torch.load, pickle.loads or exec."""\nimport torch\n# eval(f)\nx = 1\n'
    for _, regex, heads in RULE_WORDS:
        assert not pysource._in_code(doc, _data(doc), regex, heads)
    assert pylex.code_only(doc) == " \nimport torch\n \nx = 1\n"
    nested = 'x = f"{d["k"] if pickle.loads(b) else 1}"\n'  # 3.12 syntax
    assert pysource._in_code(nested, _data(nested), pysource._LOAD_RE, pysource._LOAD_HEADS)
    for unsure in (
        "x = 'open\npickle.loads(b)\n",
        "x = 'open\rpickle.loads(b) #'\n",  # \r ends the line, and the string with it
        'x = "open\r\npickle.loads(b) #"\n',
        "x = '\x00' # pickle.loads\n",
        'x = f"{d["k"]} {pickle.loads(b)}"\n',  # a field that lexes differently from 3.12
        "x = f'{x:#x}' # pickle.loads '\n",
    ):
        assert pylex.code_only(unsure) is None
        assert pylex.in_code(unsure, [unsure.index("loads")])


def _literal(rng: random.Random) -> str:
    prefix = rng.choice(["", "", "r", "b", "rb", "Br", "u", "f", "rf", "F", "fR", "xf", "t"])
    quote = rng.choice(["'", '"', "'''", '"""'])
    parts = []
    for _ in range(rng.randrange(6)):
        parts.append(
            rng.choice(
                [
                    "load",
                    " pickle.loads(b) ",
                    "#",
                    "'",
                    '"',
                    "\\",
                    "\\\\",
                    "\\'",
                    '\\"',
                    "{",
                    "}",
                    "{{",
                    "}}",
                    "{load}",
                    "{d['k']}",
                    '{d["k"]}',
                    "{x!r}",
                    "{x:#x}",
                    "{'#'}",
                    "\n",
                    "\r",
                    "\\\n",
                    "''",
                    '""',
                    "a b",
                    "exec(x)",
                    "{eval(x)}",
                ]
            )
        )
    return prefix + quote + "".join(parts) + quote


def _program(rng: random.Random) -> str:
    lines = ["import pickle"]
    for _ in range(rng.randrange(1, 6)):
        atoms = []
        for _ in range(rng.randrange(1, 4)):
            atoms.append(
                rng.choice(
                    [
                        *(_literal(rng), _literal(rng), "load", "loads", "pickle.loads(b)"),
                        *("x", "exec(x)", "__import__('os')", "eval"),
                    ]
                )
            )
        line = "x = " + rng.choice([" + ", ", ", " "]).join(atoms)
        if rng.random() < 0.4:
            line += "  # " + rng.choice(["load", "'", '"', "pickle.loads(b)", "'''", "exec(x)"])
        lines.append(line)
    newline = rng.choice(["\n", "\n", "\r\n", "\r"])
    return newline.join(lines) + newline


def test_random_texts_against_every_interpreter() -> None:
    rng = random.Random(701)
    texts = [_program(rng) for _ in range(4000)]
    parsed = _check(texts)
    # the generator must keep producing valid programs, or this test checks nothing
    assert all(n >= 400 for n in parsed.values()), parsed


class _Recording(ScanContext):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Any] = []

    def offload(self, fn: Callable[[Any], Findings], job: Any, *_: Any, **__: Any) -> None:
        self.jobs.append(job)


def _findings(src: str) -> Findings:
    ctx = ScanContext()
    pysource.read_python(ctx, Blob(src.encode()), "pkg/mod.py", 0)
    ctx.drain()
    return ctx.as_tuples()


def test_a_call_behind_tricky_literals_is_still_reported() -> None:
    for src in (
        "import pickle\nX = r'\\''; Y = pickle.loads(B) #'\n",
        "import pickle\nX = '''a''b''' ; Y = pickle.loads(B) #'''\n",
        "import pickle\nX = f'{d[\"k\"]}' ; Y = pickle.loads(B) # '\n",
        "import pickle\nX = 1 # '\rY = pickle.loads(B) # '\r",
    ):
        assert any(f[0] == "PY-UNSAFE-LOAD" for f in _findings(src)), src
    for src in (
        "import base64\nX = r'\\''; exec(base64.b64decode(B)) #'\n",
        "import base64\nX = f'{d[\"k\"]}' ; exec(base64.b64decode(B)) # '\n",
        "import base64\nX = 1 # '\rexec(base64.b64decode(B)) # '\r",
    ):
        assert any(f[0] == "PY-EXEC-DECODED" for f in _findings(src)), src


def test_rule_names_only_in_docs_are_not_compiled() -> None:
    ctx = _Recording()
    src = '"""Read it with torch.load(path)."""\nimport torch\n# pickle.loads\nX = 1\n'
    pysource.read_python(ctx, Blob(src.encode()), "pkg/mod.py", 0)
    assert ctx.jobs == []
    ctx = _Recording()
    pysource.read_python(ctx, Blob((src + "Y = torch.load(P)\n").encode()), "pkg/mod.py", 0)
    assert len(ctx.jobs) == 1
    docs = '"""Never exec(base64.b64decode(x)) what you fetch."""\nimport base64\n'
    ctx = _Recording()
    pysource.read_python(ctx, Blob(docs.encode()), "pkg/mod.py", 0)
    assert ctx.jobs == []
    ctx = _Recording()
    pysource.read_python(ctx, Blob((docs + "exec(base64.b64decode(X))\n").encode()), "pkg/m.py", 0)
    assert len(ctx.jobs) == 1


@pytest.mark.parametrize("python", _interpreters()[1:])
def test_the_oracles_are_what_they_claim(python: str) -> None:
    # PEP 701 is where lexers part: 3.12 on parses the nested quotes, earlier ones refuse them
    nested = 'x = f"{d["k"]}"\n'
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[1])"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert (_oracle(python, [nested])[0] is not None) == (int(version) >= 12)
