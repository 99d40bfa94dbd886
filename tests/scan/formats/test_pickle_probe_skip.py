"""The pickle probe is skipped only where both CPython unpicklers provably import nothing.

``pickle_reader._may_import`` lets the scan skip probing data (most Python source) whose
first opcode stops both unpicklers before any import a probe would count. Each claim is
checked against the full probe, which runs the real unpicklers: for every skipped first
byte and many tails (real Python source, random bytes, and tails that would import and
call ``os.system`` if the first opcode had let the load go on), the probe finds nothing
plausible. Data the check keeps is still probed, and a real payload is still found.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats import pickle_reader
from safe_pip.scan.formats.pickle_reader import _NEEDS_STACK, _may_import, scan

PAYLOAD = b"cos\nsystem\n(S'echo hi'\ntR."
"""A protocol 0 stream that imports and calls ``os.system``."""


def _tails() -> list[bytes]:
    rng = random.Random(13)
    stdlib = Path(sys.modules["random"].__file__ or "").parent
    sources = sorted(stdlib.glob("*.py"))[:40]
    tails = [p.read_bytes()[:3000] for p in sources]
    tails += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(200)]
    tails += [PAYLOAD, b"\n" + PAYLOAD, b"(" + PAYLOAD, b"mport os\n" + PAYLOAD, b""]
    return tails


TAILS = _tails()


def _plausible(data: bytes) -> bool:
    """The full probe, as it ran before the check: the real unpicklers from byte 0."""
    ctx = ScanContext()
    found = scan(ctx, Blob(data), "m", probe=True)
    assert found or not ctx.findings
    return found


@pytest.mark.parametrize("first", sorted(_NEEDS_STACK))
def test_a_first_opcode_that_needs_the_stack_imports_nothing(first: int) -> None:
    for tail in TAILS:
        data = bytes([first]) + tail
        assert not _may_import(Blob(data))
        assert not _plausible(data), data[:60]


def test_inst_with_a_first_line_that_is_no_dotted_name_imports_nothing() -> None:
    lines = [
        b"mport os",
        b"mport numpy as np",
        b"f x:",
        b"os system",
        b"os-x",
        b"\xc3\xa9t\xc3\xa9",
    ]
    for line in lines:
        for tail in TAILS:
            data = b"i" + line + b"\n" + tail
            assert not _may_import(Blob(data))
            assert not _plausible(data), data[:60]


def test_data_the_check_keeps_is_still_probed_and_payloads_found() -> None:
    kept = [
        PAYLOAD,  # GLOBAL at byte 0
        b"ios\nsystem\n",  # INST whose module line is a dotted name: probed
        b"i\n\n",
        b"(ios\nsystem\nS'echo hi'\n.",  # a MARK first: a whole INST call
        b"N.",
    ]
    for data in kept:
        assert _may_import(Blob(data)), data
    assert _plausible(PAYLOAD)
    assert _plausible(b"(ios\nsystem\nS'echo hi'\n.")


def test_the_readers_report_the_same_with_and_without_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """probe_pickle and try_as_pickle: same findings and inventory as the unconditional probe."""
    samples = [bytes([b]) + t for b in sorted(_NEEDS_STACK) for t in TAILS[::7]]
    samples += [b"import os\n" + t for t in TAILS[::7]] + [PAYLOAD, b"(ios\nsystem\nS'x'\n."]

    def effects() -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = []
        for data in samples:
            for reader in (pickle_reader.probe_pickle, pickle_reader.try_as_pickle):
                ctx = ScanContext()
                reader(ctx, Blob(data), "m", 0)
                out.append((tuple(ctx.findings), dict(ctx.inventory)))
        return out

    checked = effects()
    monkeypatch.setattr(pickle_reader, "_may_import", lambda blob: True)
    assert effects() == checked
