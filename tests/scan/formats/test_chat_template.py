"""GGUF chat templates judged with jinja2's parser, proven against jinja2's renderer.

The oracle is the runtime's own engine: each payload is rendered by an *unsandboxed*
``jinja2.Environment`` (what llama-cpp-python used, CVE-2024-34359) in a subprocess, and
its output must be that subprocess's pid, fetched through ``os`` reached from template
globals: the escape really works.  The scanner must block every such spelling, inside a
GGUF file, and pass the real chat templates of popular models
(tests/fixtures/chat_templates, see the README there) with zero findings.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.scan.formats.chat_template import (
    attribute_positions,
    internal_attributes,
    template_problems,
)

from .helpers import blocking, rules, scan_bytes

TEMPLATES = Path(__file__).resolve().parents[2] / "fixtures" / "chat_templates"
POPULAR = sorted(TEMPLATES.glob("*.jinja"))

G = ".os.getpid() }}"
ESCAPES = {
    "subscripts": "{{ cycler['__init__']['__globals__']" + G,
    "concatenation": "{{ cycler['__in' ~ 'it__']['__glo' ~ 'bals__']" + G,
    "plus": "{{ cycler['__in' + 'it__']['__glob' + 'als__']" + G,
    "repeat": "{{ cycler['_' * 2 ~ 'init' ~ '_' * 2]['__globals__']" + G,
    "join": "{% set a = ['__', 'init', '__']|join %}{% set b = ['__', 'globals', '__']|join %}"
    "{{ cycler[a][b]" + G,
    "reverse": "{{ cycler['__tini__'|reverse]['__slabolg__'|reverse]" + G,
    "attr-filter": "{{ (cycler|attr('__init__')|attr('__globals__'))" + G,
    "namespace": "{% set ns = namespace(i='__init__', g='__globals__') %}{{ cycler[ns.i][ns.g]" + G,
    "namespace-set": "{% set ns = namespace(i='x') %}{% set ns.i = '__in' ~ 'it__' %}"
    "{{ cycler[ns.i]['__globals__']" + G,
    "loop-variable": "{% for k in ['__init__'] %}{{ cycler[k]['__globals__']" + G + "{% endfor %}",
    "escapes": "{{ cycler['\\x5f\\x5finit\\x5f\\x5f']['\\x5f\\x5fglobals\\x5f\\x5f']" + G,
    "macro-argument": "{% macro m(k) %}{{ cycler[k]['__globals__']" + G + "{% endmacro %}"
    "{{ m('__init__') }}",
    "dotted": "{{ cycler.__init__.__globals__" + G,
    "format": "{{ '{0.__init__.__globals__[os].getpid}'.format(cycler) }}",
    "upper-lower": "{{ cycler['__INIT__'|lower]['__GLOBALS__'|lower]" + G,
    "replace": "{{ cycler['XXinitXX'|replace('X', '_')]['XXglobalsXX'|replace('X', '_')]" + G,
}


HELD_OUT = {
    # attribute filters whose attribute argument is positional, or reached through |map
    "groupby-positional": "{{ ([cycler]|groupby('__init__.__globals__')|first).grouper" + G,
    "map-attr": "{{ ([cycler]|map('attr', '__init__')|map('attr', '__globals__')|first)" + G,
    "map-groupby": "{{ ([[cycler]]|map('groupby', '__init__.__globals__')|first|first).grouper" + G,
    # underscore names computed without an underscore or a string constant holding one
    "percent-format": "{{ cycler['%c%cinit%c%c' % (95, 95, 95, 95)]"
    "['%c%cglobals%c%c' % (95, 95, 95, 95)]" + G,
    "format-filter": "{% set u = '%c'|format(95) %}{% set k = u ~ u ~ 'init' ~ u ~ u %}"
    "{% set g = u ~ u ~ 'globals' ~ u ~ u %}{{ cycler[k][g]" + G,
    "format-method-char": "{% set u = '{:c}'.format(95) %}"
    "{{ cycler[u ~ u ~ 'init' ~ u ~ u][u ~ u ~ 'globals' ~ u ~ u]" + G,
    "keyword-name": "{% set k = dict(__init__=1)|list|first %}"
    "{% set g = dict(__globals__=1)|list|first %}{{ cycler[k][g]" + G,
    # the model's own special tokens, passed by the runtime, as names
    "special-tokens": "{{ cycler[eos_token][bos_token]" + G,
    # a list the template fills, and a namespace written through another name
    "appended": "{% set l = [] %}{% if l.append('__in' ~ 'it__') or l.append('__glo' ~ 'bals__') %}"
    "{% endif %}{{ cycler[l[0]][l[1]]" + G,
    "namespace-alias": "{% set ns = namespace(k='x', g='y') %}{% set n2 = ns %}"
    "{% set n2.k = '__in' ~ 'it__' %}{% set n2.g = '__glo' ~ 'bals__' %}{{ cycler[ns.k][ns.g]" + G,
    # public attributes of interpreter objects: the frame of the generator |map returns
    "generator-frame": "{{ (range(1)|map('string')).gi_frame.f_builtins"
    ".eval('__import__(\"os\").getpid()') }}",
    "generator-frame-subscripts": "{{ (range(1)|select)['gi_frame']['f_globals']['t']['sys']"
    "['modules']['os'].getpid() }}",
    # str.format reached by a subscript
    "format-by-subscript": "{{ '{0.__init__.__globals__[os].getpid}'['format'](cycler) }}",
}
"""Escapes the first version of the checker passed; each is rendered by the real jinja2."""

TOKENS = {"eos_token": "__init__", "bos_token": "__globals__"}
"""Special tokens a GGUF's vocabulary chooses; runtimes pass them to the template."""

RENDER_ALL = """
import json, os, sys, jinja2
out = {}
tokens = json.loads(sys.argv[1])
for name, template in json.loads(sys.stdin.read()).items():
    try:
        out[name] = jinja2.Environment().from_string(template).render(**tokens).strip()
    except Exception as exc:
        out[name] = repr(exc)
print(json.dumps({"pid": str(os.getpid()), "out": out}))
"""


@pytest.fixture(scope="module")
def held_out_rendered() -> dict[str, str]:
    """Each held-out escape rendered by unsandboxed jinja2 in one subprocess: the output is
    that subprocess's pid (or its getpid function), so ``os`` was reached."""
    proc = subprocess.run(
        [sys.executable, "-c", RENDER_ALL, json.dumps(TOKENS)],
        input=json.dumps(HELD_OUT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(proc.stdout)
    pid = result["pid"]
    return {
        name: "ran" if out in (pid, "<built-in function getpid>") else out
        for name, out in result["out"].items()
    }


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_held_out_escape_runs_in_jinja2_and_blocks(
    tmp_path: Path, held_out_rendered: dict[str, str], name: str
) -> None:
    assert held_out_rendered[name] == "ran", (name, held_out_rendered[name])
    tokens = ("<unk>", TOKENS["bos_token"], TOKENS["eos_token"])
    res = scan_bytes(tmp_path, "m.gguf", _model(HELD_OUT[name], tokens))
    assert "GGUF-TEMPLATE-INJECTION" in blocking(res), (name, res.findings)


def test_internal_names_come_from_jinja2s_sandbox() -> None:
    """What jinja2's own sandbox refuses on interpreter objects, not a list typed here."""
    names = internal_attributes()
    assert {"gi_frame", "gi_code", "f_globals", "f_builtins", "tb_frame", "mro"} <= names
    assert not names & {"replace", "clear", "format", "items", "get"}  # plain values have them


def test_attribute_parameters_come_from_filter_signatures() -> None:
    positions = attribute_positions()
    assert positions["groupby"] == 0 and positions["sort"] == 2 and positions["sum"] == 0
    assert {"join", "unique", "min", "max"} <= set(positions)


@pytest.mark.parametrize(
    "template",
    [
        "{{ x|sum('__class__') }}",
        "{{ x|join(', ', '__class__') }}",
        "{{ x|unique(false, '__class__') }}",
        "{{ x|sort(attribute='gi_frame') }}",
        "{{ x|map(attribute=name) }}",
        "{{ x|map(filter_name, 'y') }}",
        "{{ x|selectattr(*args) }}",
        "{% filter groupby('__class__') %}x{% endfilter %}",
        "{% set f = '{0.__class__}'.format %}{{ f(x) }}",
        "{{ (x|first).format(y) }}",
        "{% set f = s.format %}{{ f(x) }}",
        "{{ '{0:{1.__class__}}'.format(1, x) }}",
        "{% macro m(k) %}{{ x[k] }}{% endmacro %}{{ m('__cl' ~ 'ass__') }}",
        "{% macro m(k) %}{{ x[k] }}{% endmacro %}{% set f = m %}{{ f('y') }}",
        "{% call(k) m() %}{{ x[k] }}{% endcall %}",
        "{% for k in ['__cl' ~ 'ass__'] %}{{ x[k] }}{% endfor %}",
        "{% set a, b = ('__cl' ~ 'ass__', 1) %}{{ x[a] }}",
        "{% with k = 'gi_' ~ 'frame' %}{{ x[k] }}{% endwith %}",
        "{{ x[y|default('__cl' ~ 'ass__')] }}",
        "{{ x[['__cl', 'ass__']|join] }}",
        "{{ x['__ssalc__'|reverse] }}",
        "{% set k = 'emarf_ig' %}{{ x[k|reverse] }}",
        "{{ x[loop.cycle('a')] }}",
        "{% for k, v in d.items() %}{% if d.pop(k) %}{% endif %}{{ d[k] }}{% endfor %}",
    ],
)
def test_computed_names_block(template: str) -> None:
    assert template_problems(template), template


def _render(template: str) -> str:
    """Render with the real, unsandboxed jinja2 in a subprocess; its output and pid."""
    code = (
        "import os, sys, jinja2\n"
        "out = jinja2.Environment().from_string(sys.stdin.read()).render()\n"
        "print(os.getpid(), out.strip(), sep='|')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], input=template, capture_output=True, text=True, timeout=60
    )
    return proc.stdout.strip()


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(kv: list[tuple[str, int, bytes]]) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, vtype, value in kv:
        out += _s(key) + struct.pack("<I", vtype) + value
    return out


def _model(template: str, tokens: tuple[str, ...] = ("<s>", "</s>")) -> bytes:
    toks = struct.pack("<IQ", 8, len(tokens)) + b"".join(_s(t) for t in tokens)
    return _gguf(
        [
            ("general.architecture", 8, _s("llama")),
            ("tokenizer.ggml.tokens", 9, toks),
            ("tokenizer.chat_template", 8, _s(template)),
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_runs_in_jinja2_and_blocks(tmp_path: Path, name: str) -> None:
    template = ESCAPES[name]
    pid, _, out = _render(template).partition("|")
    assert pid and out in (pid, "<built-in function getpid>"), (name, out)
    res = scan_bytes(tmp_path, "m.gguf", _model(template))
    assert "GGUF-TEMPLATE-INJECTION" in blocking(res), (name, res.findings)


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_is_found_by_the_parser(name: str) -> None:
    assert template_problems(ESCAPES[name])


@pytest.mark.parametrize("path", POPULAR, ids=[p.stem for p in POPULAR])
def test_popular_chat_templates_pass(tmp_path: Path, path: Path) -> None:
    text = path.read_text(encoding="utf-8").rstrip("\n")
    assert template_problems(text) == []
    res = scan_bytes(tmp_path, "m.gguf", _model(text))
    assert not res.findings, res.findings


def test_payload_after_four_mib_blocks(tmp_path: Path) -> None:
    """The old reader judged only the first 4 MiB of a template."""
    text = "{{ 'x' }}" + " " * (5 * 1024 * 1024) + ESCAPES["dotted"]
    assert "GGUF-TEMPLATE-INJECTION" in blocking(scan_bytes(tmp_path, "m.gguf", _model(text)))


def test_template_past_the_bound_is_a_finding_not_a_pass(tmp_path: Path) -> None:
    text = " " * (9 * 1024 * 1024) + "{{ x }}"
    assert "GGUF-TEMPLATE-UNREADABLE" in blocking(scan_bytes(tmp_path, "m.gguf", _model(text)))


def test_unparseable_template_is_a_finding(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "m.gguf", _model("{% for m in messages %}{{ m }"))
    assert "GGUF-TEMPLATE-UNREADABLE" in blocking(res)


def test_include_of_another_template_blocks() -> None:
    assert template_problems("{% include 'other.j2' %}")


def test_vocabulary_tokens_with_braces_are_not_templates(tmp_path: Path) -> None:
    """Code models have tokens such as '{{' and '{%': no runtime renders them."""
    res = scan_bytes(tmp_path, "m.gguf", _model("{{ bos_token }}", ("{{", "{%", "}}", "{{-")))
    assert not res.findings, res.findings


def test_other_string_that_parses_as_an_escape_still_blocks(tmp_path: Path) -> None:
    data = _gguf([("general.description", 8, _s(ESCAPES["dotted"]))])
    assert "GGUF-TEMPLATE-INJECTION" in rules(scan_bytes(tmp_path, "m.gguf", data))


@pytest.mark.parametrize(
    "ok",
    [
        "{{ messages[-1]['content'].split('</think>')[-1] }}",
        "{{ messages[loop.index0 - 1].role }}",
        "{% for k, v in tool.items() %}{{ tool[k] }}{% endfor %}",
        "{{ x[1:] }}{{ x[n // 2] }}{{ x[messages|length - 1] }}",
        "{% set ns = namespace(found=false) %}{% set ns.found = true %}{{ ns.found }}",
        "{{ 'a{}b'.format(x) }}",
        "{% for k in d.keys() %}{{ d[k] }}{% endfor %}{% for k, v in d|dictsort %}{{ d[k] }}"
        "{% endfor %}",
        "{% set ns = namespace(i=messages|length - 1) %}{{ messages[ns.i].content }}",
        "{% for m in messages[::-1] %}{% set i = (messages|length - 1) - loop.index0 %}"
        "{{ messages[i].role }}{% endfor %}",
        "{% macro t(spec) %}{% set m = {'string': 'str'} %}{{ m[spec.type] }}"
        "{{ t(spec|items) }}{% endmacro %}{% for tool in tools %}"
        "{% for name, spec in tool.parameters.properties|items %}{{ t(spec) }}"
        "{% if spec.format is defined %}{{ spec.format }}{% endif %}{% endfor %}{% endfor %}",
        "{% set k = 'content' %}{{ messages[0][k] }}"
        "{{ messages[0]['role' if add_generation_prompt else 'content'] }}",
    ],
)
def test_ordinary_constructs_pass(ok: str) -> None:
    assert template_problems(ok) == []
