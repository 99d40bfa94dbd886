"""The code of a Python source text: what is left once comments and plain strings are cut out.

Why: the unsafe-load rule can match only where a load name (``load``, ``loads``,
``Unpickler``, ``read_pickle``) is an identifier of the code, yet its word pre-filter reads
the whole text, so a docstring that says "use torch.load" made 123 of torch's modules
compile for nothing (about a second of CPU per torch scan). Identifiers never sit in a
comment or a plain string literal; cutting those out leaves every identifier in place.

The interpreter's tokenizer is the spec, and this reader only ever claims less than it: a
region it cuts is a comment or a plain string for every CPython from 3.10 on, or it gives
up (``None``) and the caller keeps the whole text. It gives up on a NUL, an unterminated
string, and an f-string (or ``t``-string, or any literal with an unknown prefix) whose
replacement fields hold a quote, a backslash, a ``#`` or unbalanced braces: PEP 701 (3.12)
lexes those differently from earlier versions, so where the two could disagree nothing is
cut. Formatted literals are never cut (their replacement fields are code).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_CLOSE = {
    "'": re.compile(r"[^'\\\r\n]*(?:\\(?:\r\n|[\s\S])[^'\\\r\n]*)*'"),
    '"': re.compile(r'[^"\\\r\n]*(?:\\(?:\r\n|[\s\S])[^"\\\r\n]*)*"'),
    "'''": re.compile(r"[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"),
    '"""': re.compile(r'[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""'),
}
"""From just after an opening quote to just after its closing one, as the tokenizer ends a
string: a backslash takes the next character with it (raw strings too: ``r'\\''`` is one
literal), and a single-quoted string ends at a line break (``\\r`` counts: the tokenizer
reads ``\\r\\n`` and ``\\r`` as line ends) — no match there means unterminated."""
_LINE_END = re.compile(r"[\r\n]|\Z")
_PLAIN_PREFIX = frozenset("rRbBuU")
_LITERAL_STOP = re.compile(r"[\\{}]")
_FIELD_STOP = re.compile(r"[{}'\"\\#]")

_Token = tuple[int, int, bool]
"""(start, end, cut): a comment or a plain string literal is cut; a formatted one is code."""


def _tokens(text: str) -> Iterator[_Token | None]:
    """The comments and string literals of ``text`` in order; None (then stop) where the
    lexing could differ from an interpreter's (see the module doc)."""
    if "\x00" in text:
        yield None  # no interpreter compiles it; a NUL inside a literal would hide it here
        return
    find = text.find
    single, double, hash_ = find("'"), find('"'), find("#")
    while True:
        at = min(p for p in (single, double, hash_, len(text)) if p >= 0)
        if at == len(text):
            return
        if at == hash_:
            end = _LINE_END.search(text, at).start()  # type: ignore[union-attr]  # \Z matches
            yield at, end, True
        else:
            char = text[at]
            quote = char * 3 if text.startswith(char * 3, at) else char
            close = _CLOSE[quote].match(text, at + len(quote))
            if close is None:
                yield None  # unterminated: not valid Python
                return
            end = close.end()
            if _plain(text, at):
                yield at, end, True
            elif _fields_agree(text[at + len(quote) : end - len(quote)]):
                yield at, end, False
            else:
                yield None
                return
        if single < end:
            single = find("'", end)
        if double < end:
            double = find('"', end)
        if hash_ < end:
            hash_ = find("#", end)


def code_only(text: str) -> str | None:
    """``text`` with every comment and plain (not formatted) string literal replaced by one
    space; None where the lexing could differ from an interpreter's (see the module doc)."""
    pieces: list[str] = []
    pos = 0
    for token in _tokens(text):
        if token is None:
            return None
        at, end, cut = token
        if cut:
            pieces.append(text[pos:at])
            pieces.append(" ")
            pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def in_code(text: str, positions: Sequence[int]) -> bool:
    """Does any of ``positions`` (ascending) lie in code, outside every comment and plain
    string? True where unsure. Reads only as far as the last position."""
    if not positions:
        return False
    k = 0
    for token in _tokens(text):
        if token is None or positions[k] < token[0]:
            return True
        _, end, cut = token
        if positions[k] < end and not cut:
            return True  # in a formatted literal: maybe in a replacement field
        while positions[k] < end:
            k += 1
            if k == len(positions):
                return False
    return True


def _plain(text: str, quote_at: int) -> bool:
    """Is the literal opening at ``quote_at`` plain? Its prefix is the run of identifier
    characters just before the quote (the tokenizer reads ``xf"..."`` as a name and a plain
    string, a syntax error: calling it formatted only keeps more)."""
    i = quote_at
    if i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_" or text[i - 1] > "\x7f"):
        return True
    while i > 0:
        c = text[i - 1]
        if not (c.isalnum() or c == "_" or c > "\x7f"):
            break
        i -= 1
    return all(c in _PLAIN_PREFIX for c in text[i:quote_at])


def _fields_agree(content: str) -> bool:
    """Does a formatted literal end where the old rule ended it for every CPython?

    Before 3.12 a replacement field cannot hold the literal's own quote, so the literal ends
    at its first unescaped one (``content`` is what lies before it). From 3.12 (PEP 701) a
    field may hold any string, even of the same quote, so that quote ends the literal only
    if no field is open there. Walking the fields — braces outside nested strings, nested
    strings from a quote to the next same quote — tells whether one is; a backslash or a
    ``#`` in a field, a triple quote or a lone ``}`` answers no (the two lexers could
    part there)."""
    if "'''" in content or '"""' in content:
        return False
    depth = 0
    i = 0
    while True:
        m = (_FIELD_STOP if depth else _LITERAL_STOP).search(content, i)
        if m is None:
            return depth == 0
        i = m.start()
        c = m.group()
        if depth == 0:
            if c == "\\":
                i += 2
            elif content.startswith(c * 2, i):
                i += 2  # {{ or }}: a brace of the text
            elif c == "}":
                return False
            else:
                depth, i = 1, i + 1
        elif c == "{":
            depth, i = depth + 1, i + 1
        elif c == "}":
            depth, i = depth - 1, i + 1
        elif c in "'\"":
            close = content.find(c, i + 1)
            if close < 0:
                return False
            i = close + 1
        else:
            return False  # a backslash or # in a field
