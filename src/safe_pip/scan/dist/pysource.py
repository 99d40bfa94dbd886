"""Python source rules: import-time unsafe loads, decode-and-exec, download-and-run.

Python runs a module's top-level statements when it is imported, and runs all of
``setup.py`` when an sdist is built. A package that unpickles a bundled model there turns
every ``import`` into a pickle load; code that ``exec``\\s base64/zlib/hex-decoded data or
something it just downloaded is the usual shape of a hidden payload. Nothing is imported or
executed: the file is compiled (which runs no code) and, where a rule could match, parsed.

Read as the interpreter reads it:

* **encoding first.** The PEP 263 declaration (or BOM) is honoured before anything looks at
  the text, so ``# coding: utf-7`` cannot hide ``exec(`` from a byte search; a codec that is
  not ASCII-transparent (utf-7, utf-16, ...) is itself ``PY-EXOTIC-ENCODING``;
* **bytecode pre-filter.** ``compile`` (C speed, no Python objects per node) gives each code
  object's names: module level, class bodies and comprehensions run at import, function
  bodies do not. A rule's AST pass runs only when those names allow it to match;
* **the target's grammar.** A file our interpreter cannot compile is compiled by the target
  interpreter when the gate knows it (``TargetEnvironment.python_executable``); code that the
  importing Python accepts but we cannot read, and that holds code-execution words, blocks
  (``PY-UNREADABLE-CODE``); a file no target can compile never runs (``PY-UNPARSEABLE``, low).

Data flow followed inside one module: assignments and aliases (``_run = exec``,
``l = pickle.load``), a decoded value through further variables, module-level values into
functions, and module-level calls (or decorators) of the module's own helpers that load
pickles (transitively). Not followed: data across modules, ``getattr`` with computed names,
code in function bodies for the unsafe-load rule unless an import-time call reaches it
(``setup.py`` is the exception: every scope counts).
"""

from __future__ import annotations

import ast
import codecs
import dis
import hashlib
import io
import os
import re
import subprocess
import sys
import tokenize
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from types import CodeType
from typing import Any

from safe_pip.models import Severity
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import Findings, ScanContext
from safe_pip.scan.core.paths import is_test_path
from safe_pip.scan.dist import pylex

_MAX_SOURCE = 8 * 1024 * 1024
_PICKLE_LOADS = frozenset(
    f"{m}.{f}"
    for m in (
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "joblib",
        "sklearn.externals.joblib",
        "pickle5",
    )
    for f in ("load", "loads", "Unpickler")
) | {"pandas.read_pickle", "torch.serialization.load"}
_DECODERS = frozenset(
    {
        "b64decode",
        "b32decode",
        "b16decode",
        "b85decode",
        "a85decode",
        "decodebytes",
        "urlsafe_b64decode",
        "standard_b64decode",
        "decompress",
        "fromhex",
        "unhexlify",
        "a2b_hex",
        "a2b_base64",
        "decodestring",
    }
)
_DECODER_CALLS = frozenset({"codecs.decode", "marshal.loads", "marshal.load"})
_NETWORK = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.urlopen",
        "urllib2.urlopen",
        "urlopen",
        "requests.get",
        "requests.post",
        "requests.request",
        "httpx.get",
        "httpx.post",
        "urllib.request.urlretrieve",
        "http.client.HTTPSConnection",
        "http.client.HTTPConnection",
        "socket.create_connection",
        "pycurl.Curl",
    }
)
_EXEC = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "execfile",
        "__import__",
        "builtins.exec",
        "builtins.eval",
        "builtins.compile",
        "builtins.__import__",
        "importlib.import_module",
    }
)
_SHELL = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.Popen",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
    }
)
_PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^|;]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b"
    r"|\b(?:curl|wget)\b[^|;]*\|\s*python",
    re.I,
)


_LOAD_NAMES = frozenset({"load", "loads", "Unpickler", "read_pickle"})
_LOADER_MODULES = frozenset(
    {"pickle", "_pickle", "cPickle", "pickle5", "dill", "cloudpickle", "joblib", "torch",
     "numpy", "np", "pandas", "pd", "Unpickler", "read_pickle"}
)  # fmt: skip
"""A load call the rule reports names one of these (imports put the module in co_names)."""
_SOURCE_NAMES = frozenset(
    {*("b64decode", "b32decode", "b16decode", "b85decode", "a85decode", "decodebytes"),
     *("urlsafe_b64decode", "standard_b64decode", "decompress", "fromhex", "unhexlify"),
     *("a2b_hex", "a2b_base64", "decodestring", "codecs", "marshal", "urlopen", "urlretrieve"),
     *("requests", "httpx", "HTTPSConnection", "HTTPConnection", "create_connection", "Curl")}
)  # fmt: skip
"""Names a decoder or network call the exec rules follow puts in some code object."""
_SOURCE_ROOTS = frozenset({"codecs", "marshal", "requests", "httpx"})
"""Those of them the rules match only as a call's root (``codecs.decode``, ``requests.get``)."""
_PLAIN_SINKS = frozenset({"exec", "eval", "compile", "execfile"})
_SINK_MODULES = frozenset({"__import__", "import_module"})
_BUILTIN_SINKS = frozenset({"exec", "eval", "compile", "__import__"})
_SHELL_NAMES = frozenset(
    {"system", "popen", "Popen", "run", "call", "check_call", "check_output", "getoutput",
     "getstatusoutput"}
)  # fmt: skip
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})
_CO_FUNCTION = 0x0001 | 0x0002  # CO_OPTIMIZED | CO_NEWLOCALS: a function body, not a class
_LOAD_WORDS = (b"ickle", b"dill", b"joblib", b"torch", b"Unpickler")
_LOAD_LAST_WORDS = (b"load", b"Unpickler", b"read_pickle")
"""The load rule's callee is named by identifiers (NFKC-literal in the normalised text): its
last part (``load``/``loads``/``Unpickler``/``read_pickle``), and a module that holds one of
``_LOAD_WORDS`` (``pickle``, ``dill``, ``joblib``, ``torch``, ``pandas.read_pickle``,
``numpy.load(allow_pickle=True)``); or by a string given to ``__import__``/``import_module``
(``__import__('pic' 'kle').loads``), and then one of those two names is in the text, and the
module's name is a string constant in the code (``analyze`` checks that after compiling)."""
_EXEC_WORDS_CHEAP = (b"exec", b"eval", b"compile", b"__import__", b"import_module")
_SOURCE_WORDS = tuple(sorted(name.encode() for name in _SOURCE_NAMES))
_SOURCE_GROUPS = tuple(
    (common, tuple(w for w in _SOURCE_WORDS if common in w))
    for common in (b"decode", b"a2b_", b"Connection", b"url")
)
_SOURCE_SINGLE = tuple(w for w in _SOURCE_WORDS if not any(c in w for c, _ in _SOURCE_GROUPS))
"""A decoder or network call the exec rules follow is named (``_qualname``) by identifiers
(attributes, names, the modules and names of imports), which Python reads NFKC-normalised,
so each appears literally in the normalised text; or by a string constant given to a call of
``__import__``/``import_module`` by name (``__import__('\\x63odecs').decode``), and then that
name is in the text and the string is a constant of the code (checked after compiling). The
names a decoder or network call needs are ``_SOURCE_NAMES`` (the
last part of a decoder, ``codecs``/``marshal`` for their ``decode``/``loads``, a network
module or function), so a text holding none of them nor those two words cannot match (a
plain ``.decode()`` no longer lets a file through)."""
_BY_NAME = re.compile(
    rb"(?:__import__|import_module)"
    rb"(?:[ \t\f\r\n(]|\\(?=[\r\n])|#[^\r\n]*(?=[\r\n]|$))*[uUrR]?['\"]"
)
"""A call of ``__import__``/``import_module`` by that name whose first argument is a string
literal: the only place ``_qualname`` reads a name from a string (the rules match on
``Call(Name('__import__'), [Constant(str)])``). Between the name and the literal's first
token Python's grammar allows only ``(`` (the call's, and grouping ones), whitespace,
newlines, comments and line continuations; a ``str`` literal opens with a quote after an
optional ``u``/``r`` prefix (``f``-strings and bytes are not ``Constant(str)``, implicitly
concatenated pieces follow the first). Each character has one way to match (a backslash
only before a line break, a comment only to its line's end), so a failing search stays
linear. A name the rules could read from a string is hidden from the word searches only
there, so without such a call the words must be literal."""
_LOAD_RE = re.compile(rb"\b(?:loads?|Unpickler|read_pickle)\b")
_EXEC_RE = re.compile(rb"\b(?:exec|eval|compile|execfile|__import__|import_module)\b")
"""Byte pre-filters on the decoded text (``in`` is a C memory search, far faster than a regex):
a rule can match only a file holding its words. The unsafe-load rule needs ``load`` and a
loader's module name; the exec rules an exec-like word and a decoder or network word.
:func:`_search` runs them only where their words occur."""
_LOAD_HEADS = (b"load", b"Unpickler", b"read_pickle")
_EXEC_HEADS = (b"exec", b"eval", b"compile", b"__import__", b"import_module")
_BY_NAME_HEADS = (b"__import__", b"import_module")
"""Where a match of each regex can start (``execfile`` starts with ``exec``)."""

_EXEC_WORDS = re.compile(
    rb"\b(?:exec|eval|compile|execfile|__import__|import_module|system|popen|Popen|subprocess"
    rb"|loads?|Unpickler|marshal|b64decode|fromhex|decompress)\b"
)
"""Code-execution words: an unreadable file holding one of these cannot be passed as inert."""


def _has_source_word(data: bytes) -> bool:
    """``any(w in data for w in _SOURCE_WORDS)``, a search per shared part first."""
    return any(w in data for w in _SOURCE_SINGLE) or any(
        common in data and any(w in data for w in words) for common, words in _SOURCE_GROUPS
    )


def _miss_limit(data: bytes) -> int:
    """Occurrences of a word inside a longer one (``download``, ``loader``) checked one by one
    before the regex itself answers: a step costs about what the regex spends on 30 bytes, so
    a file crafted with millions of them costs at most about one regex pass more, not
    millions of Python steps."""
    return 64 + len(data) // 64


def _matches(data: bytes, regex: re.Pattern[bytes], heads: tuple[bytes, ...]) -> Iterator[int]:
    """Where matches of ``regex`` start, for a ``regex`` whose every match starts where one
    of ``heads`` occurs: the regex is tried only at those places (a match at a position sees
    the byte before it, so ``\\b`` reads as it does in a search), head by head; past the near
    miss limit, every match the regex engine finds from the start (some again).

    The regex engine would try every byte of the file; a memory search jumps from one
    occurrence to the next.
    """
    misses, limit = 0, _miss_limit(data)
    for head in heads:
        i = data.find(head)
        while i >= 0:
            if regex.match(data, i) is not None:
                yield i
            else:
                misses += 1
                if misses > limit:
                    yield from (m.start() for m in regex.finditer(data))
                    return
            i = data.find(head, i + 1)


def _search(data: bytes, regex: re.Pattern[bytes], heads: tuple[bytes, ...]) -> bool:
    """``regex.search(data) is not None``, by :func:`_matches`."""
    return next(_matches(data, regex, heads), None) is not None


def _in_code(text: str, data: bytes, regex: re.Pattern[bytes], heads: tuple[bytes, ...]) -> bool:
    """Does ``regex`` (a word pre-filter) match in the code, not only in comments and plain
    strings?

    Every rule's callee is made of identifiers (``pickle.loads``, ``from pickle import
    loads``, ``exec``, ``builtins.eval``, ``__import__``, a helper whose body calls one), or
    is named by a string given to ``__import__``/``import_module`` — and then that call's
    own name is an identifier, and ``_BY_NAME`` finds it on the whole text. So the load
    rule needs a load name, and the exec rules an exec-like name, as identifiers. Where
    ``pylex`` cannot be sure of its cut, the whole text counts. ``data``: the normalised
    text's bytes, which for ASCII text are the text's own characters.
    """
    if text.isascii():
        return pylex.in_code(text, sorted(set(_matches(data, regex, heads))))
    code = pylex.code_only(text)
    if code is None:
        return True
    return _search(
        unicodedata.normalize("NFKC", code).encode("utf-8", "surrogatepass"), regex, heads
    )


def read_python(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    ctx.saw("python")
    if blob.size > _MAX_SOURCE:
        ctx.skip(location, f"Python source larger than {_MAX_SOURCE} bytes was not parsed")
        return
    raw = blob.read(0, blob.size)
    text = _decode(ctx, raw, location)
    if text is None:
        return
    # Python reads identifiers NFKC-normalised (``ｅｘｅｃ`` is ``exec``): so do the filters.
    words = text if text.isascii() else unicodedata.normalize("NFKC", text)
    data = words.encode("utf-8", "surrogatepass")
    # cheapest first: memory searches, a regex only for what is still a candidate
    exec_cheap = any(w in data for w in _EXEC_WORDS_CHEAP)  # includes the by-name words
    source_words = exec_cheap and _has_source_word(data)
    load_words = (
        any(w in data for w in _LOAD_LAST_WORDS)
        and any(w in data for w in _LOAD_WORDS)
        and _search(data, _LOAD_RE, _LOAD_HEADS)
        and _in_code(text, data, _LOAD_RE, _LOAD_HEADS)
    )
    by_name = (
        exec_cheap and not (load_words and source_words) and _search(data, _BY_NAME, _BY_NAME_HEADS)
    )
    maybe_load = load_words or by_name
    maybe_exec = (
        (source_words or by_name)
        and _search(data, _EXEC_RE, _EXEC_HEADS)
        and _in_code(text, data, _EXEC_RE, _EXEC_HEADS)
    )
    maybe_shell = b"curl" in data or b"wget" in data
    if not (maybe_load or maybe_exec or maybe_shell):
        return
    whole_file = location.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1] == "setup.py"
    python = ctx.target.python_executable if ctx.target else None
    job = _Job(text, location, whole_file, maybe_load, maybe_exec, maybe_shell, python,
               load_words, source_words)  # fmt: skip
    ctx.offload(analyze, job, key=_analysis_key(raw, location, whole_file, python),
                reuse=partial(_relocate, location))  # fmt: skip


def _analysis_key(
    raw: bytes, location: str, whole_file: bool, python: str | None
) -> tuple[object, ...]:
    """Everything :func:`analyze`'s findings depend on besides where they are reported.

    The text (``raw`` decodes one way; the pre-filter flags follow from it), ``setup.py``
    or not, a test module or not (``check_tree``'s ``in_tests``: severity and wording), the
    target interpreter, and the file name as ``compile`` puts it in a ``SyntaxError``'s
    message (after the last ``os.sep``), which ``PY-UNREADABLE-CODE`` quotes. Embedded
    copies of one library (virtualenv ships two pips and two setuptools) share a key.
    """
    in_tests = not whole_file and is_test_path(location)
    base = location.rsplit(os.sep, 1)[-1]
    return ("python-source", hashlib.sha256(raw).digest(), base, whole_file, in_tests, python)


def _relocate(location: str, found: Findings, first: str) -> Findings | None:
    """The findings :func:`analyze` gave at ``first``, as they are at ``location``.

    Its findings sit at the module (``first``) or at one of its lines (``first:N``); None
    (analyse again) for anything else, which the key above cannot vouch for.
    """
    out: Findings = []
    for rule_id, message, where, severity, detail in found:
        if where == first:
            where = location
        elif where.startswith(first + ":") and where[len(first) + 1 :].isdigit():
            where = location + where[len(first) :]
        else:
            return None
        out.append((rule_id, message, where, severity, detail))
    return out


@dataclass(frozen=True)
class _Job:
    """What :func:`analyze` needs; small and picklable, so it can run in a worker process."""

    text: str
    location: str
    whole_file: bool
    maybe_load: bool
    maybe_exec: bool
    maybe_shell: bool
    python_executable: str | None
    load_words: bool = True
    """The load rule's words are in the text as identifiers; if not, only a string given to
    ``__import__``/``import_module`` can name the loader's module."""
    source_words: bool = True
    """Likewise for the exec rules' decoder or network names."""


def analyze(job: _Job) -> Findings:
    """Compile, pre-filter by names, and run the AST rules on one decoded module.

    Runs in a worker process when the scan has a pool: findings come back as plain tuples
    from a context of its own and are replayed into the scan's.
    """
    out = ScanContext()
    try:
        code = compile(job.text, job.location, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        _unreadable(out, job.text, job.location, exc, job.python_executable)
        return out.as_tuples()
    names = _code_names(code, job.whole_file)
    loads = (
        job.maybe_load
        and (job.load_words or bool(names.strings & _LOADER_MODULES))
        and names.may_load()
    )
    shell = job.maybe_shell and bool(names.everywhere & _SHELL_NAMES)
    execs = (
        job.maybe_exec
        and (job.source_words or bool(names.strings & _SOURCE_NAMES))
        and names.may_exec()
    )
    flows = execs or shell
    if loads or flows:
        tree = ast.parse(job.text, filename=job.location)
        check_tree(out, tree, job.location, whole_file=job.whole_file, loads=loads, flows=flows)
    return out.as_tuples()


def _decode(ctx: ScanContext, raw: bytes, location: str) -> str | None:
    """The source text as Python decodes it (PEP 263 / BOM); None if Python could not."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        ctx.report("PY-UNPARSEABLE", f"encoding declaration rejected: {exc}", location)
        return None
    if not _ascii_transparent(encoding):
        ctx.report(
            "PY-EXOTIC-ENCODING",
            f"declares the {encoding} encoding, in which the bytes a reader sees are not the "
            "code Python runs",
            location,
            encoding=encoding,
        )
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        ctx.report("PY-UNPARSEABLE", f"not decodable as {encoding}: {exc}", location)
        return None


def _ascii_transparent(encoding: str) -> bool:
    """Printable ASCII and newlines decode to themselves: what the bytes say is the code."""
    sample = bytes(range(0x20, 0x7F)) + b"\n\t\r"
    try:
        return codecs.decode(sample, encoding) == sample.decode("ascii")
    except (UnicodeDecodeError, LookupError, TypeError):
        return False


@dataclass
class _Code:
    """One code object and what the name filters need to know about where it sits."""

    code: CodeType
    at_import: bool
    """Runs when the module is imported: the module body, class bodies and comprehensions
    there (every code object of a ``setup.py``)."""
    tree: int
    """Index of the outermost function this code object is (or sits in); -1 at import time."""
    mentions: set[str]
    """Every name it mentions (:func:`_mentions`)."""
    _reads: _Reads | None = None

    def reads(self) -> _Reads:
        """What it reads (:func:`_reads`), decoded once: both name filters may ask."""
        if self._reads is None:
            self._reads = _reads(self.code)
        return self._reads


@dataclass
class _Names:
    """Names the module's code objects mention, and, on demand, what each of them *reads*.

    ``everywhere`` is every name any code object mentions: ``co_names`` (dotted import names
    also split into their parts), local, cell and free variable names, and string constants
    made of dotted identifiers (``__import__('codecs')``, ``getattr(m, 'load')``).
    """

    everywhere: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    """The parts of dotted-identifier string constants (``'torch.serialization'``)."""
    ends: set[str] = field(default_factory=set)
    """``everywhere`` with only the ends of dotted names (:func:`_ends`): what the exec rules
    can match on. ``codecs.decode``, ``requests.get``, ``urllib.request.urlopen`` need a
    root or a last part; ``pip._vendor.requests`` names no ``requests`` module."""
    codes: list[_Code] = field(default_factory=list)
    trees: dict[str, set[int]] = field(default_factory=dict)
    """Function name -> the outermost-function trees that define a function of that name."""

    def may_load(self) -> bool:
        """Can ``PY-UNSAFE-LOAD`` match? An exact consequence of ``check_tree``'s load rule.

        That rule reports an import-time call (or decorator) whose callee resolves to a
        loader (``torch.load``, ``pickle.loads``, ...: its last part is in ``_LOAD_NAMES``,
        its first in ``_LOADER_MODULES``), or names a function of the module whose body
        makes such a call, directly or through other such functions. The callee's last part
        is read at the call (``m.load`` by ``LOAD_METHOD``/``LOAD_ATTR``, a constant module
        path given to ``__import__``), or the callee is an alias: a name bound *anywhere* in
        the module (the rule ignores scopes) by ``from m import load as x``, ``import a.load
        as x``, ``x = m.load`` or ``x = y`` for an alias ``y``; in bytecode, a read of a load
        name (or alias) whose value is stored straight into ``x`` (through a ``COPY`` for
        chained targets and ``:=``, then every name of that code object may be one). So,
        with ``A`` the load names and every alias that can be made of them, the rule can
        match only when import-time code reads a name of ``A``, or reads the name of a
        function whose tree reads one, or of a function whose tree reads such a name, and so
        on. A function's tree is the outermost function it sits in with everything nested
        in it: the rule counts a nested function's defaults and decorators (which its parent
        runs) as part of that function's body.

        A *read* is any use but a store or delete: a class body's ``def load(self)`` only
        stores ``load``, which is what let nearly every torch module through before.
        """
        if not (self.everywhere & _LOAD_NAMES and self.everywhere & _LOADER_MODULES):
            return False
        aliases = set(_LOAD_NAMES)
        changed = True
        while changed:  # aliases of aliases
            changed = False
            for c in self.codes:
                if c.mentions.isdisjoint(aliases):
                    continue
                for sources, target in c.reads().flows:
                    if sources.isdisjoint(aliases):
                        continue
                    bound = {target} if target is not None else c.mentions
                    if not bound <= aliases:
                        aliases |= bound
                        changed = True
        loading: set[int] = set()  # trees that read an alias
        for c in self.codes:
            if c.mentions.isdisjoint(aliases) or c.reads().reads.isdisjoint(aliases):
                continue
            if c.at_import:
                return True
            loading.add(c.tree)
        names: set[str] = set()  # functions of loading trees: a call by plain name loads
        while True:  # helpers calling helpers
            new = {f for f, trees in self.trees.items() if trees & loading} - names
            if not new:
                return False
            names |= new
            for c in self.codes:
                if (not c.at_import and c.tree in loading) or c.mentions.isdisjoint(new):
                    continue
                if c.reads().names.isdisjoint(new):
                    continue
                if c.at_import:
                    return True
                loading.add(c.tree)

    def may_exec(self) -> bool:
        """Can an exec rule match? An exact consequence of ``_check_scope``'s sinks.

        A sink (``_EXEC``) is named by ``__import__`` or ``import_module`` (the sinks
        themselves, ``importlib.import_module``, ``__import__('eval')``), by ``builtins``
        and one of its sinks' names (``builtins.exec``, ``from builtins import eval``), or is a
        plain name ``exec``/``eval``/``compile``/``execfile``, or an alias of one (``e =
        eval`` reads it as a plain name too; ``from builtins import eval`` names
        ``builtins``). ``model.eval()`` and ``re.compile(...)`` read the word only as an
        attribute, which never resolves to a sink by itself.
        """
        if not self.ends & _SOURCE_NAMES:
            return False
        if self.ends & _SINK_MODULES:
            return True
        if "builtins" in self.ends and not self.ends.isdisjoint(_BUILTIN_SINKS):
            return True
        return any(
            not c.mentions.isdisjoint(_PLAIN_SINKS) and not c.reads().names.isdisjoint(_PLAIN_SINKS)
            for c in self.codes
        )


def _code_names(code: CodeType, whole_file: bool) -> _Names:
    out = _Names()
    stack: list[tuple[CodeType, bool, int]] = [(code, True, -1)]
    trees = 0
    while stack:
        co, at_import, tree = stack.pop()
        dotted = _dotted_constants(co)
        strings = _strings(co, dotted)
        names = _mentions(co, strings)
        out.codes.append(_Code(co, at_import, tree, names))
        out.everywhere |= names
        out.strings |= strings
        out.ends |= _ends(co, dotted)
        for const in co.co_consts:
            if not isinstance(const, CodeType):
                continue
            is_function = (const.co_flags & _CO_FUNCTION) == _CO_FUNCTION
            runs_now = whole_file or not is_function or const.co_name in _COMPREHENSIONS
            inner = tree
            if not (at_import and runs_now) and inner < 0:  # an outermost function
                inner, trees = trees, trees + 1
            if is_function and const.co_name not in _COMPREHENSIONS:
                out.trees.setdefault(const.co_name, set()).add(inner)
            stack.append((const, at_import and runs_now, inner))
    return out


def _mentions(co: CodeType, strings: set[str] | None = None) -> set[str]:
    """Every name one code object mentions (see :class:`_Names`)."""
    names = _always_read(co, strings)
    names.update(co.co_names)
    for name in co.co_names:
        if "." in name:
            names.update(name.split("."))
    return names


def _ends(co: CodeType, dotted: list[str]) -> set[str]:
    """Like :func:`_mentions`, keeping of a dotted name its first part, and its last part
    unless that is one of ``_SOURCE_ROOTS`` (which the exec rules match only as a root).
    ``dotted``: the code object's :func:`_dotted_constants`."""
    names = _variables(co)
    for name in (*co.co_names, *dotted):
        first, _, rest = name.partition(".")
        names.add(first)
        last = rest.rpartition(".")[2]
        if last and last not in _SOURCE_ROOTS:
            names.add(last)
    return names


def _always_read(co: CodeType, strings: set[str] | None = None) -> set[str]:
    """Local, cell and free variables, and the parts of dotted-identifier string constants."""
    if strings is None:
        strings = _strings(co, _dotted_constants(co))
    return _variables(co) | strings


def _variables(co: CodeType) -> set[str]:
    """One code object's local, cell and free variable names."""
    return {*co.co_varnames, *co.co_cellvars, *co.co_freevars}


def _dotted_constants(co: CodeType) -> list[str]:
    """One code object's string constants made of dotted identifiers (``'torch.load'``)."""
    out: list[str] = []
    for const in co.co_consts:
        if not isinstance(const, str) or not const or " " in const or "\n" in const:
            continue  # (a docstring is not copied by replace() only to be refused)
        if const.replace(".", "_").isidentifier():
            out.append(const)
    return out


def _strings(co: CodeType, dotted: list[str]) -> set[str]:
    """The parts of one code object's dotted-identifier string constants (``dotted``)."""
    names: set[str] = set()
    for const in dotted:
        names.update(const.split("."))
    return names


@dataclass
class _Reads:
    """What one code object reads (:func:`_reads`)."""

    reads: set[str]
    names: set[str]
    flows: list[tuple[set[str], str | None]]


def _reads(co: CodeType) -> _Reads:
    """The names one code object reads, those it reads as plain names, and its value flows.

    Reads: the names of every name instruction but stores and deletes (dotted import names
    split at dots), every local, cell and free variable and dotted-identifier string
    constant (an over-approximation). Plain names: ``LOAD_NAME``/``LOAD_GLOBAL`` (any name
    instruction that is not an attribute or ``IMPORT_FROM``: ``import eval as e`` makes
    ``e`` stand for ``eval`` to the rules) and every variable. A flow is a read
    whose value the next instruction (past stack shuffles and inline caches) stores in a
    name: ``x = m.load``, ``from m import load as x``; after a ``COPY``/``DUP_TOP`` (chained
    targets, ``:=``), or into a
    store this decoder does not name, the target is None: any name of the code object.
    Decoded from ``co_code`` directly (``dis.get_instructions`` costs several times more);
    tests/scan/dist/test_pysource_filters.py checks it against ``dis``.
    """
    reads = _always_read(co)
    plain = _variables(co)
    flows: list[tuple[set[str], str | None]] = []
    names = co.co_names
    code = co.co_code
    pending: set[str] | None = None  # what the last read put on the stack
    local = -1  # or a local variable's read (opcode, argument), named only when stored
    copied = False
    ext = 0
    for i in range(0, len(code), 2):
        op = code[i]
        if op == _EXTENDED_ARG:
            ext = (ext | code[i + 1]) << 8
            continue
        arg, ext = ext | code[i + 1], 0
        kind = _OPS.get(op)
        if kind is None:
            pending, local = None, -1
            continue
        if kind == _SHUFFLE:
            copied = copied or op in _COPIES
            continue
        if kind in (_READ, _PLAIN_READ):
            name = names[arg >> _SHIFTS.get(op, 0)]
            parts = set(name.split(".")) if "." in name else {name}
            reads |= parts
            if kind == _PLAIN_READ:
                plain.add(name)
            pending, local, copied = parts, -1, False
            continue
        if kind == _LOCAL_READ:
            pending, local, copied = None, op << 32 | arg, False
            continue
        if local >= 0:
            pending = _local(co, local >> 32, local & 0xFFFFFFFF)
        if pending is not None:  # a store
            target = None
            if not copied:
                if kind == _STORE:
                    target = names[arg]
                elif kind == _LOCAL_STORE and len(bound := _local(co, op, arg)) == 1:
                    target = next(iter(bound))
            flows.append((pending, target))
        pending, local = None, -1
    return _Reads(reads, plain, flows)


_READ, _PLAIN_READ, _LOCAL_READ, _STORE, _LOCAL_STORE, _OTHER_STORE, _SHUFFLE = range(7)
_COPIES = frozenset(dis.opmap[n] for n in ("COPY", "DUP_TOP") if n in dis.opmap)


def _opcode_kinds() -> dict[int, int]:
    """opcode -> its kind for :func:`_reads` (an opcode not listed ends any flow)."""
    out: dict[int, int] = {}
    for op in dis.hasname:
        name = dis.opname[op]
        if name in ("STORE_NAME", "STORE_GLOBAL"):
            out[op] = _STORE
        elif name.startswith(("STORE_", "DELETE_")):  # ``x.a = v`` binds no alias
            continue
        elif "ATTR" in name or name == "IMPORT_FROM" or name == "LOAD_METHOD":
            out[op] = _READ
        else:
            out[op] = _PLAIN_READ
    for op in {*dis.haslocal, *dis.hasfree}:
        name = dis.opname[op]
        if name in ("STORE_FAST", "STORE_DEREF"):
            out[op] = _LOCAL_STORE
        elif name.startswith("STORE_"):
            out[op] = _OTHER_STORE
        elif name.startswith("LOAD_"):
            out[op] = _LOCAL_READ
    for name in ("COPY", "DUP_TOP", "SWAP", "ROT_TWO", "POP_TOP", "NOP", "CACHE"):
        if name in dis.opmap:
            out[dis.opmap[name]] = _SHUFFLE
    return out


def _local(co: CodeType, op: int, arg: int) -> set[str]:
    """The local, cell or free variable a local instruction names (all, if unsure)."""
    name = dis.opname[op]
    if name.count("FAST") == 1 or name in ("LOAD_DEREF", "STORE_DEREF", "LOAD_CLASSDEREF",
                                           "LOAD_CLOSURE"):  # fmt: skip
        try:
            if sys.version_info >= (3, 11):
                return {co._varname_from_oparg(arg)}  # type: ignore[attr-defined]
            if "FAST" in name:
                return {co.co_varnames[arg]}
            return {(co.co_cellvars + co.co_freevars)[arg]}
        except (IndexError, AttributeError):
            pass
    return _variables(co)


_EXTENDED_ARG = dis.EXTENDED_ARG
_OPS = _opcode_kinds()
_SHIFTS = {
    op: shift
    for name, shift in (
        ("LOAD_GLOBAL", 1 if sys.version_info >= (3, 11) else 0),
        ("LOAD_ATTR", 1 if sys.version_info >= (3, 12) else 0),
        ("LOAD_SUPER_ATTR", 2),
    )
    if (op := dis.opmap.get(name)) is not None
}


def _unreadable(
    ctx: ScanContext, text: str, location: str, exc: BaseException, python: str | None
) -> None:
    """Our grammar refuses the file: what would the importing interpreter do with it?"""
    verdict = _target_compiles(python, text) if python else None
    norm = text if text.isascii() else unicodedata.normalize("NFKC", text)
    words = sorted({m.decode() for m in _EXEC_WORDS.findall(norm.encode("utf-8", "replace"))})
    if verdict is False:
        ctx.report(
            "PY-UNPARSEABLE",
            f"not valid Python for the target interpreter either ({type(exc).__name__}): "
            "importing it fails before any of it runs",
            location,
        )
    elif words:
        who = (
            "the target interpreter compiles it"
            if verdict
            else "the interpreter that imports it may accept it"
        )
        ctx.report(
            "PY-UNREADABLE-CODE",
            f"the scanner's Python cannot parse it ({type(exc).__name__}: {exc}) but {who}, "
            f"and it holds code-execution words ({', '.join(words[:6])})",
            location,
            words=words[:20],
        )
    else:
        ctx.report(
            "PY-UNPARSEABLE",
            f"not parseable by the scanner's Python ({type(exc).__name__}); it holds no "
            "code-execution words",
            location,
        )


def _target_compiles(python: str, text: str) -> bool | None:
    """Compile (never run) the text in the target interpreter; None if it could not be asked."""
    probe = "import sys; compile(sys.stdin.buffer.read().decode('utf-8'), 'm', 'exec')"
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", probe],
            input=text.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode == 0


def check_tree(
    ctx: ScanContext,
    tree: ast.Module,
    location: str,
    *,
    whole_file: bool,
    loads: bool = True,
    flows: bool = True,
) -> None:
    """Run the rules; ``loads``/``flows`` let a pre-filter skip rules that cannot match."""
    kids = _Kids(tree)
    walked = kids.walked
    aliases = _aliases(walked)
    scopes = _ScopeIndex(tree, kids)
    if flows:
        module_taint = _check_scope(ctx, scopes.nodes(tree), aliases, location, None, kids)
        for scope in walked:
            if isinstance(scope, _FUNCS):
                _check_scope(ctx, scopes.nodes(scope), aliases, location, module_taint, kids)
    if not loads:
        return
    in_tests = not whole_file and is_test_path(location)
    when = "build" if whole_file else "test-suite import" if in_tests else "import"
    helpers = _loading_helpers(walked, scopes, aliases)
    for call in _import_time_calls(tree, whole_file, kids):
        name = _qualname(call.func, aliases)
        reason = _unsafe_load(name, call)
        via = ""
        if not reason and isinstance(call.func, ast.Name) and call.func.id in helpers:
            reason, via = helpers[call.func.id], f" via {call.func.id}()"
        if reason:
            extra = {"torch_default": True} if _torch_default(name, call) else {}
            # A test module is imported by the test runner, not by ``import pkg``.
            ctx.report(
                "PY-UNSAFE-LOAD",
                f"{reason}{via} at {when} time (line {call.lineno})",
                f"{location}:{call.lineno}",
                severity=Severity.LOW if in_tests else None,
                call=name,
                **extra,
            )
    for deco in _import_time_decorators(tree):
        if deco.id in helpers:
            ctx.report(
                "PY-UNSAFE-LOAD",
                f"{helpers[deco.id]} via the decorator {deco.id} at {when} time "
                f"(line {deco.lineno})",
                f"{location}:{deco.lineno}",
                severity=Severity.LOW if in_tests else None,
                call=deco.id,
            )


def _loading_helpers(
    walked: list[ast.AST], scopes: _ScopeIndex, aliases: dict[str, str]
) -> dict[str, str]:
    """Functions of this module whose body (or a helper it calls) makes an unsafe load."""
    bodies: dict[str, list[ast.Call]] = {}
    for node in walked:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            calls = bodies.setdefault(node.name, [])
            calls.extend(n for n in scopes.nodes(node) if isinstance(n, ast.Call))
    found: dict[str, str] = {}
    for fname, calls in bodies.items():
        for n in calls:
            name = _qualname(n.func, aliases)
            reason = _unsafe_load(name, n)
            if reason and not _torch_default(name, n):
                found[fname] = f"{reason} in {fname}()"
                break
    # the plain names each function calls, in order: all the fixpoint below looks at
    callees = {
        fname: [n.func.id for n in calls if isinstance(n.func, ast.Name)]
        for fname, calls in bodies.items()
    }
    changed = True
    while changed:  # helpers that call helpers
        changed = False
        for fname, names in callees.items():
            if fname in found:
                continue
            hit = next((name for name in names if name in found), None)
            if hit is not None:
                found[fname] = found[hit]
                changed = True
    return found


def _import_time_decorators(tree: ast.Module) -> Iterator[ast.Name]:
    """``@helper`` on a module-level (or class-level) definition calls ``helper`` on import."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if _is_main_guard(node):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from (d for d in node.decorator_list if isinstance(d, ast.Name))
            if isinstance(node, ast.ClassDef):
                stack.extend(node.body)
            continue
        if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            stack.extend(ast.iter_child_nodes(node))


def _check_scope(
    ctx: ScanContext,
    nodes: list[ast.AST],
    aliases: dict[str, str],
    location: str,
    inherited: tuple[set[str], set[str]] | None,
    kids: _Kids,
) -> tuple[set[str], set[str]]:
    """Decode/fetch-then-exec within one function (or the module body).

    Taint follows assignments to a fixpoint (``a = b64decode(x); b = a; exec(b)``); a
    function scope starts with what the module level tainted (its globals).
    """
    decoded: set[str] = set(inherited[0]) if inherited else set()
    fetched: set[str] = set(inherited[1]) if inherited else set()
    # what each assignment reads and whether it decodes or fetches never changes: computed
    # once, the fixpoint only moves taint along it
    flows = [
        (targets, *kids.facts(value, aliases))
        for node in nodes
        if isinstance(node, _BINDS)
        for targets, value in _assignments(node)
    ]
    changed = True
    while changed:
        changed = False
        for targets, used, decodes, fetches in flows:
            for taint, source in ((decoded, decodes), (fetched, fetches)):
                if targets <= taint:
                    continue
                if source or used & taint:
                    taint |= targets
                    changed = True
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _qualname(node.func, aliases)
        line = f"{location}:{node.lineno}"
        if name in _EXEC and node.args:
            used, decodes, fetches = kids.facts(node.args[0], aliases)
            if decodes or used & decoded:
                ctx.report(
                    "PY-EXEC-DECODED",
                    f"{name}() runs data decoded at run time (line {node.lineno})",
                    line,
                    call=name,
                )
            if fetches or used & fetched:
                ctx.report(
                    "PY-DOWNLOAD-EXEC",
                    f"{name}() runs code fetched over the network (line {node.lineno})",
                    line,
                    call=name,
                )
        elif name in _SHELL:
            for const in ast.walk(node):
                if (
                    isinstance(const, ast.Constant)
                    and isinstance(const.value, str)
                    and _PIPE_TO_SHELL.search(const.value)
                ):
                    ctx.report(
                        "PY-DOWNLOAD-EXEC",
                        f"{name}() pipes a download into a shell (line {node.lineno})",
                        line,
                        call=name,
                        command=const.value[:200],
                    )
                    break
    return decoded, fetched


_BINDS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
          ast.comprehension, ast.With, ast.AsyncWith)  # fmt: skip
"""The nodes :func:`_assignments` reads a binding from."""


def _assignments(node: ast.AST) -> Iterator[tuple[set[str], ast.AST]]:
    """(names bound, value) for every way a scope binds a value to a name."""
    if isinstance(node, ast.Assign):
        yield {n for t in node.targets for n in _bound(t)}, node.value
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        if node.value is not None:
            yield set(_bound(node.target)), node.value
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        yield set(_bound(node.target)), node.iter
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        for item in node.items:
            if item.optional_vars is not None:
                yield set(_bound(item.optional_vars)), item.context_expr


def _bound(target: ast.AST) -> Iterator[str]:
    """Names a target binds; ``x.attr = v`` / ``x[k] = v`` taint ``x`` itself."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _bound(elt)
    elif isinstance(target, (ast.Starred, ast.Attribute, ast.Subscript)):
        yield from _bound(target.value)


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class _ScopeIndex:
    """The nodes of every scope (the module, each function and lambda), from one walk.

    A scope's nodes do not include nested functions' nodes; each scope's list is in the
    order a depth-first walk of that scope alone would give (children pushed in order,
    popped from the end), so rules that stop at the first match see the same first match.
    """

    def __init__(self, tree: ast.Module, kids: _Kids) -> None:
        self._nodes: dict[int, list[ast.AST]] = {}
        of = kids.of
        scopes: list[ast.AST] = [tree]
        while scopes:  # each scope walked on its own, its functions queued as found
            scope = scopes.pop()
            own = self._nodes[id(scope)] = []
            stack = list(of[id(scope)])
            while stack:
                node = stack.pop()
                if isinstance(node, _FUNCS):
                    scopes.append(node)
                    continue
                own.append(node)
                stack.extend(of[id(node)])

    def nodes(self, scope: ast.AST) -> list[ast.AST]:
        return self._nodes[id(scope)]


_TORCH_LOADS = frozenset({"torch.load", "torch.serialization.load"})
_JIT_LOADS = frozenset({"torch.jit.load", "torch.jit._serialization.load"})
_NUMPY_LOADS = frozenset({"numpy.load", "numpy.lib.npyio.load"})
_LOADERS = _PICKLE_LOADS | _TORCH_LOADS | _JIT_LOADS | _NUMPY_LOADS
"""Every name :func:`_unsafe_load` can report (most calls are none of them)."""


def _unsafe_load(name: str, call: ast.Call) -> str | None:
    if name not in _LOADERS:
        return None
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if name in _TORCH_LOADS:
        wo = kw.get("weights_only")
        if isinstance(wo, ast.Constant) and wo.value is True:
            return None
        return "torch.load without weights_only=True unpickles the file"
    if name in _PICKLE_LOADS:
        return f"{name} unpickles data"
    if name in _JIT_LOADS:
        return "torch.jit.load runs the archive's TorchScript code and unpickles its data"
    if name in _NUMPY_LOADS:
        ap = kw.get("allow_pickle")
        if isinstance(ap, ast.Constant) and ap.value is True:
            return "numpy.load(allow_pickle=True) unpickles object arrays"
    return None


def _torch_default(name: str, call: ast.Call) -> bool:
    """``torch.load`` left to torch's own ``weights_only`` default (no override at all)."""
    if name not in _TORCH_LOADS:
        return False
    kw = {k.arg for k in call.keywords}
    if None in kw or "pickle_module" in kw or len(call.args) > 2:
        return False  # **kwargs, or a pickle_module (which turns the default off)
    if any(isinstance(a, ast.Starred) for a in call.args):
        return False
    wo = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
    return wo is None or (isinstance(wo, ast.Constant) and wo.value is None)


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` — its body runs as a script, never on import."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    return (
        len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
        and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides)
    )


def _import_time_calls(tree: ast.Module, whole_file: bool, kids: _Kids) -> Iterator[ast.Call]:
    """Calls that run on import: everything outside function bodies (lambdas included)
    and outside ``if __name__ == "__main__":`` (whose ``else`` branch does run)."""
    lazy_annotations = _future_annotations(tree)
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if not whole_file and _is_main_guard(node):
            assert isinstance(node, ast.If)
            stack.extend(node.orelse)
            continue
        if not whole_file and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # Decorators and defaults still run at definition time, and so do parameter and
            # return annotations unless ``from __future__ import annotations`` keeps them text.
            if not isinstance(node, ast.Lambda):
                stack.extend(node.decorator_list)
                if not lazy_annotations:
                    stack.extend(_annotations(node))
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(kids.of[id(node)])


def _future_annotations(tree: ast.Module) -> bool:
    """``from __future__ import annotations``: a def's annotations stay strings (PEP 563)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


def _annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr]:
    """A def's parameter and return annotations: evaluated when the ``def`` runs."""
    a = node.args
    for arg in (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg):
        if arg is not None and arg.annotation is not None:
            yield arg.annotation
    if node.returns is not None:
        yield node.returns


def _aliases(walked: list[ast.AST]) -> dict[str, str]:
    """Local name → dotted origin, from every import and every plain re-binding.

    ``from pickle import load as l``, ``_run = exec``, ``l = pickle.load`` and
    ``imp = __import__`` all make the local name stand for what it names.
    """
    out: dict[str, str] = {}
    rebinds: list[tuple[str, ast.expr]] = []
    stars: list[str] = []
    for node in walked:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out.setdefault(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name == "*":
                    # ``from pickle import *`` binds the loader's names: what a bare
                    # ``loads`` may be, unless an explicit import names it
                    stars += [f"{node.module}.{n}" for n in sorted(_LOAD_NAMES)]
                else:
                    out[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, (ast.Assign, ast.NamedExpr)) and isinstance(
            node.value, (ast.Name, ast.Attribute)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            rebinds += [(t.id, node.value) for t in targets if isinstance(t, ast.Name)]
    # two star imports may both offer ``load``: a loader module's is the one kept
    for origin in sorted(stars, key=lambda o: o.split(".")[0] not in _LOADER_MODULES):
        out.setdefault(origin.rsplit(".", 1)[1], origin)
    if out.get("np") is None:
        out.setdefault("np", "numpy")
    for _ in range(3):  # chains: a = exec; b = a
        for name, value in rebinds:
            origin = _qualname(value, out)
            if origin and origin != name and out.get(name) != origin:
                out[name] = origin
    return out


def _qualname(func: ast.expr, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(aliases.get(func.id, func.id))
    elif isinstance(func, ast.Call):
        inner = func.func
        arg = func.args[0] if func.args else None
        if (
            isinstance(inner, ast.Name)
            and inner.id in ("__import__", "import_module")
            and isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
        ):
            parts.append(arg.value)  # __import__('codecs').decode -> codecs.decode
        else:
            parts.append(_qualname(inner, aliases) + "()")
    else:
        return ""
    return ".".join(reversed(parts))


def _is_decoder(name: str) -> bool:
    return name in _DECODER_CALLS or name.rsplit(".", 1)[-1] in _DECODERS


def _is_network(name: str) -> bool:
    return name in _NETWORK or name.rsplit(".", 1)[-1] == "urlopen"


class _Kids:
    """Each node's children that a rule can look at, listed once per tree.

    Every rule walks the tree or parts of it, several times per expression; reading the
    children of a node is what costs (a Python loop over its fields), so it is done once.
    ``walked`` is the whole tree in ``ast.walk`` order, without the nodes no rule looks at
    (:data:`_LEAVES`: ``Load``, ``Add``, ``Eq``, ..., a third of a typical tree); the
    children of a node are ``ast.iter_child_nodes``' without them.
    """

    def __init__(self, tree: ast.AST) -> None:
        self.of: dict[int, list[ast.AST]] = {}
        self.walked: list[ast.AST] = [tree]
        walked, of, plans = self.walked, self.of, _PLANS
        none: list[ast.AST] = []  # shared by every node without children (never mutated)
        i = 0
        while i < len(walked):
            node = walked[i]
            i += 1
            plan = plans.get(node.__class__)
            if plan is None:
                plan = _plan(node.__class__)
            if not plan:
                of[id(node)] = none
                continue
            out: list[ast.AST] = []
            for name, kind in plan:
                value: Any = getattr(node, name, None)
                if kind == _MANY:
                    if not value:
                        continue
                    if None in value:  # ``{**d}``'s key, a keyword-only argument's default
                        out.extend([item for item in value if item is not None])
                    else:
                        out.extend(value)
                elif kind == _ONE:
                    if value is not None:
                        out.append(value)
                elif isinstance(value, ast.AST):
                    if not isinstance(value, _LEAF_CLASSES):
                        out.append(value)
                elif isinstance(value, list):
                    out.extend(
                        item
                        for item in value
                        if isinstance(item, ast.AST) and not isinstance(item, _LEAF_CLASSES)
                    )
            of[id(node)] = out
            walked.extend(out)

    def walk(self, node: ast.AST) -> list[ast.AST]:
        """``list(ast.walk(node))`` without the markers (see the class)."""
        out, of = [node], self.of
        i = 0
        while i < len(out):
            out.extend(of[id(out[i])])
            i += 1
        return out

    def facts(self, expr: ast.AST, aliases: dict[str, str]) -> tuple[set[str], bool, bool]:
        """(names it uses, does it call a decoder, does it call a fetcher), in one walk.

        The same as walking for each on its own: qualnames are computed, in walk order,
        only until both calls are found (as two short-circuiting walks would).
        """
        names: set[str] = set()
        decodes = fetches = False
        for n in self.walk(expr):
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif isinstance(n, ast.Call) and not (decodes and fetches):
                name = _qualname(n.func, aliases)
                decodes = decodes or _is_decoder(name)
                fetches = fetches or _is_network(name)
        return names, decodes, fetches


_LEAVES = frozenset(
    {"identifier", "string", "constant", "int", "expr_context", "boolop", "operator", "unaryop",
     "cmpop"}
)  # fmt: skip
"""ASDL types of the fields :class:`_Kids` does not follow: plain values (names, strings,
constants, numbers) and the context and operator markers (``Load``, ``Add``, ``Not``,
``Eq``), leaves that no rule matches (``_is_main_guard`` reads a comparison's ``ops``
itself)."""
_LEAF_CLASSES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
_ONE, _MANY, _ANY = range(3)
_SIGNATURE = re.compile(r"(\w+)([*?]*) (\w+)")
_PLANS: dict[type, tuple[tuple[str, int], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, int], ...]:
    """The fields of a node class that :class:`_Kids` follows, in ``_fields`` order, each
    with its kind: one node or None (``_ONE``), a list of nodes or None (``_MANY``).

    Read from the class's ASDL signature, which ``ast`` puts in its docstring (``Call(expr
    func, expr* args, keyword* keywords)``). A class whose signature does not name exactly
    its ``_fields`` keeps every field, each value checked as it comes (``_ANY``).
    """
    fields: tuple[str, ...] = getattr(cls, "_fields", ())
    head, _, rest = (cls.__doc__ or "").partition("(")
    found = _SIGNATURE.findall(rest) if rest.endswith(")") else []
    if head != cls.__name__ or tuple(name for _, _, name in found) != fields:
        plan = tuple((name, _ANY) for name in fields)
    else:
        plan = tuple(
            (name, _MANY if "*" in mark else _ONE)
            for kind, mark, name in found
            if kind not in _LEAVES
        )
    _PLANS[cls] = plan
    return plan
