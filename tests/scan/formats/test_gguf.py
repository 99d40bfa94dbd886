"""GGUF: metadata parsed with bounds; templates that reach Python internals block."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from .helpers import rules, scan_bytes

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>' }}"
    "{% endif %}{{ 'Please config your request, self.' }}"
)
EVIL = [
    "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{% endfor %}",
    "{{ lipsum|attr('__globals__') }}",
    "{{ joiner.__init__ }}",
]


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(kv: list[tuple[str, int, bytes]], n_tensors: int = 0, tail: bytes = b"") -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kv))
    for key, vtype, value in kv:
        out += _s(key) + struct.pack("<I", vtype) + value
    return out + tail


def _model(template: str) -> bytes:
    tokens = struct.pack("<IQ", 8, 2) + _s("<s>") + _s("</s>")
    kv = [
        ("general.architecture", 8, _s("llama")),
        ("llama.block_count", 4, struct.pack("<I", 2)),
        ("tokenizer.ggml.tokens", 9, tokens),
        ("tokenizer.chat_template", 8, _s(template)),
    ]
    tensor = _s("tok_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 4)
    tensor += struct.pack("<IQ", 0, 0)
    return _gguf(kv, 1, tensor + b"\x00" * 64)


def test_ordinary_chat_template_passes(tmp_path: Path) -> None:
    res = scan_bytes(tmp_path, "m.gguf", _model(LLAMA3))
    assert res.findings == () and res.inventory.get("gguf") == 1


@pytest.mark.parametrize("template", EVIL)
def test_template_injection_blocks(tmp_path: Path, template: str) -> None:
    assert "GGUF-TEMPLATE-INJECTION" in rules(scan_bytes(tmp_path, "m.gguf", _model(template)))


@pytest.mark.parametrize(
    "data",
    [
        b"GGUF" + struct.pack("<I", 9) + b"\x00" * 16,
        _gguf([("k", 8, struct.pack("<Q", 1 << 40))]),
        _gguf([("k", 77, b"")]),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 5),
    ],
)
def test_damaged_gguf_is_a_finding(tmp_path: Path, data: bytes) -> None:
    assert "MODEL-MALFORMED" in rules(scan_bytes(tmp_path, "m.gguf", data))
