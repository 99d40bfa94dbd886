"""GGUF chat templates judged with jinja2's parser, proven against jinja2's renderer.

The oracle is the runtime's own engine: each payload is rendered by an *unsandboxed*
``jinja2.Environment`` (what llama-cpp-python used, CVE-2024-34359) in a subprocess, and
its output must be that subprocess's pid, fetched through ``os`` reached from template
globals: the escape really works.  The scanner must block every such spelling, inside a
GGUF file, and pass the real chat templates of popular models
(tests/fixtures/chat_templates, see the README there) with zero findings.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.scan.formats.chat_template import template_problems

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
    ],
)
def test_ordinary_constructs_pass(ok: str) -> None:
    assert template_problems(ok) == []
