"""GGUF (llama.cpp) files: metadata key/values, with Jinja templates judged for injection.

GGUF holds numbers and strings only, but ``tokenizer.chat_template`` is a Jinja
template that some runtimes render with an unsandboxed environment
(llama-cpp-python, CVE-2024-34359): a template that walks ``__class__``,
``__globals__`` or ``__subclasses__`` runs arbitrary Python.  The reader parses
the header and every key/value (bounds-checked, arrays skipped without
materialising them), then judges every template-keyed string whole with jinja2's
parser (:mod:`chat_template`); a longer one than the bound is a finding.  Tensor infos are
checked for bounds only; tensor data is never read.
"""

from __future__ import annotations

import struct

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.chat_template import TemplateUnreadable, template_problems

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_MAX_KV = 1_000_000
_MAX_STRING = 64 * 1024 * 1024
_MAX_TEMPLATE = 8 * 1024 * 1024
"""Templates are judged whole up to this size; a longer one is a finding, never cut.
Real chat templates are a few kilobytes."""
_TEMPLATE_MARKS = ("{{", "{%", "{#")


class _Corrupt(Exception):
    pass


class _Reader:
    def __init__(self, blob: Blob, version: int) -> None:
        self.blob = blob
        self.pos = 0
        self.wide = version >= 2  # v1 used 32-bit lengths and counts

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.blob.size:
            raise _Corrupt(f"needs {n} bytes at offset {self.pos}, past the end")
        data = self.blob.read(self.pos, n)
        self.pos += n
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def count(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0]) if self.wide else self.u32()

    def string(self, keep: int = _MAX_STRING) -> tuple[str, int]:
        """The string's first ``keep`` bytes, decoded, and its full length in bytes."""
        n = self.count()
        if n > _MAX_STRING or self.pos + n > self.blob.size:
            raise _Corrupt(f"string of {n} bytes at offset {self.pos} is out of bounds")
        text = self.blob.read(self.pos, min(n, keep)).decode("utf-8", "replace")
        self.pos += n
        return text, n


def read_gguf(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("gguf")
    head = blob.read(0, 8)
    if len(head) < 8:
        ctx.report("MODEL-MALFORMED", "GGUF file shorter than its header", location)
        return
    (version,) = struct.unpack_from("<I", head, 4)
    if version not in (1, 2, 3):
        ctx.report("MODEL-MALFORMED", f"unknown GGUF version {version}", location)
        return
    r = _Reader(blob, version)
    r.pos = 8
    try:
        n_tensors, n_kv = r.count(), r.count()
        if n_kv > _MAX_KV:
            raise _Corrupt(f"{n_kv} metadata entries")
        for i in range(n_kv):
            if i & 0xFF == 0:
                ctx.check_time(location)
            key, _ = r.string(4096)
            vtype = r.u32()
            _value(ctx, r, vtype, key, location, 0)
        for _ in range(min(n_tensors, 1 << 32)):
            r.string(4096)
            dims = r.u32()
            if dims > 8:
                raise _Corrupt(f"tensor with {dims} dimensions")
            r.take(8 * dims + 4 + 8)
    except _Corrupt as exc:
        ctx.report("MODEL-MALFORMED", f"GGUF metadata is damaged: {exc}", location)


def _value(ctx: ScanContext, r: _Reader, vtype: int, key: str, loc: str, level: int) -> None:
    if vtype in _FIXED:
        r.take(_FIXED[vtype])
    elif vtype == _STRING:
        start = r.pos + (8 if r.wide else 4)
        text, n = r.string(_MAX_TEMPLATE)
        if "template" in key:
            if n > _MAX_TEMPLATE:
                ctx.report(
                    "GGUF-TEMPLATE-UNREADABLE",
                    f"template {key!r} is {n} bytes, more than the {_MAX_TEMPLATE} judged; "
                    "nothing of it was cut and called clean",
                    loc,
                    key=key,
                )
            else:
                check_template(ctx, key, text, loc)
                ctx.check_time(loc)  # jinja2 parses a few MiB a second: many templates add up
        elif n > _MAX_TEMPLATE and _marked(r.blob, start, n):
            ctx.report(
                "GGUF-TEMPLATE-UNREADABLE",
                f"string {key!r} of {n} bytes holds Jinja markers past the judged size",
                loc,
                key=key,
            )
        elif any(m in text for m in _TEMPLATE_MARKS):
            check_template(ctx, key, text, loc, strict=False)
    elif vtype == _ARRAY and level == 0:
        etype, n = r.u32(), r.count()
        if etype in _FIXED:
            r.take(_FIXED[etype] * n)
        elif etype == _STRING:
            if n > r.blob.size:
                raise _Corrupt(f"array of {n} strings")
            for i in range(n):
                if i & 0xFFFF == 0:
                    ctx.check_time(loc)
                _value(ctx, r, etype, key, loc, 1)
        else:
            raise _Corrupt(f"array of unsupported element type {etype} under {key!r}")
    else:
        raise _Corrupt(f"unknown value type {vtype} under {key!r}")


def _marked(blob: Blob, start: int, n: int) -> bool:
    """Does the string at ``start`` contain a Jinja marker anywhere (read in chunks)?"""
    step = 1 << 20
    for off in range(start, start + n, step):
        chunk = blob.read(off, min(step + 2, start + n - off))
        if any(m.encode() in chunk for m in _TEMPLATE_MARKS):
            return True
    return False


def check_template(
    ctx: ScanContext, key: str, text: str, location: str, *, strict: bool = True
) -> None:
    """Judge a Jinja template with jinja2's parser.

    ``strict`` (a template-keyed string a runtime renders): a parse failure is a finding.
    Otherwise (any other string with Jinja markers, such as vocabulary tokens like
    ``{{``) only a string that parses is judged: nothing renders it as a template.
    """
    try:
        problems = template_problems(text)
    except TemplateUnreadable as exc:
        if strict:
            ctx.report(
                "GGUF-TEMPLATE-UNREADABLE",
                f"template {key!r} does not parse with jinja2 ({exc}); another Jinja "
                "implementation may still render it",
                location,
                key=key,
            )
        return
    if problems:
        shown = sorted({f"{p.what} (line {p.line})" for p in problems})
        ctx.report(
            "GGUF-TEMPLATE-INJECTION",
            f"template {key!r} reaches Python internals: {'; '.join(shown[:8])}",
            location,
            key=key,
            matches=shown[:20],
        )
