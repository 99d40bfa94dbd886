"""``sniff.may_be_pickle``: the first-byte test that lets sniffing and routing skip the
pickle reader's import for data no unpickler reads a byte of.

The shortcut is only sound if it never says "no" where the pickle reader would have looked.
It is checked three ways: the byte set against pickletools and the reader's own set, each
byte it rules out against both real CPython unpicklers (a load stops at once, importing
nothing), and ``sniff`` and ``reads_nothing`` with the shortcut against the same functions
without it, over every first byte (and every second byte after PROTO's 0x80).
"""

from __future__ import annotations

import io
import pickle
import pickletools
import random
from pathlib import Path

import pytest

from safe_pip.scan.core import dispatch
from safe_pip.scan.core import sniff as S
from safe_pip.scan.formats import pickle_reader
from tests.scan.formats.helpers import blocking, scan_bytes
from tests.scan.pickles import evil

PAYLOADS = [evil(), b"cos\nsystem\n(S'echo hi'\ntR.", b"ios\nsystem\n(S'id'\n.", b"."]
RULED_OUT = [b for b in range(256) if b not in S.PICKLE_OPCODES]


def test_the_set_is_every_opcode_pickletools_knows() -> None:
    codes = {op.code.encode("latin-1")[0] for op in pickletools.opcodes}
    assert set(S.PICKLE_OPCODES) == codes
    assert S.PICKLE_OPCODES == pickle_reader._OPCODES  # may_load's first test is this one


class _Recording(pickle._Unpickler):
    """The pure-Python unpickler with name resolution intercepted: nothing real runs."""

    def find_class(self, module: str, name: str) -> object:
        raise AssertionError(f"resolved {module}.{name}")


class _RecordingC(pickle.Unpickler):
    """CPython's C unpickler, name resolution intercepted the same way."""

    def find_class(self, module: str, name: str) -> object:
        raise AssertionError(f"resolved {module}.{name}")


@pytest.mark.parametrize("unpickler", [_Recording, _RecordingC])
def test_every_byte_ruled_out_stops_both_real_unpicklers_at_once(unpickler: type) -> None:
    """The oracle: a load of data starting with a ruled-out byte fails on that byte, before
    it reads (let alone imports) anything of the payload that follows."""
    assert len(RULED_OUT) == 256 - 68
    for first in RULED_OUT:
        for tail in PAYLOADS:
            stream = io.BytesIO(bytes([first]) + tail)
            # C: "invalid load key"; pure Python: KeyError from its opcode table
            with pytest.raises((pickle.UnpicklingError, KeyError)):
                unpickler(stream).load()
            assert stream.tell() == 1, first  # nothing past the first byte was read


def _heads() -> list[bytes]:
    rng = random.Random(11)
    heads = [b"", *(bytes([b]) for b in range(256))]
    heads += [bytes([b]) + tail for b in range(256) for tail in PAYLOADS]
    heads += [b"\x80" + bytes([b]) + b"}." for b in range(256)]
    heads += [bytes(rng.randrange(256) for _ in range(rng.randrange(2, 600))) for _ in range(400)]
    return heads


def test_sniff_answers_as_it_did_without_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    heads = _heads()
    with_it = [S.sniff(h, max(len(h), 1)) for h in heads]
    monkeypatch.setattr(S, "may_be_pickle", lambda head: True)
    without = [S.sniff(h, max(len(h), 1)) for h in heads]
    differ = [h[:8] for h, a, b in zip(heads, with_it, without, strict=True) if a != b]
    assert not differ, differ[:5]
    assert S.PICKLE_PROBE in with_it and S.DATA in with_it


def test_reads_nothing_answers_as_it_did_without_the_shortcut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [
        (name, head, superblock, zip_end)
        for head in _heads()
        for name in ("notes.txt", "x.py")
        for superblock in (False, True)
        for zip_end in (False, True)
    ]
    with_it = [dispatch.reads_nothing(n, h, max(len(h), 1), sb, ze) for n, h, sb, ze in cases]
    monkeypatch.setattr(S, "may_be_pickle", lambda head: True)
    without = [dispatch.reads_nothing(n, h, max(len(h), 1), sb, ze) for n, h, sb, ze in cases]
    differ = [c[0:2] for c, a, b in zip(cases, with_it, without, strict=True) if a != b]
    assert not differ, differ[:5]
    assert True in with_it and False in with_it


def test_payloads_behind_an_opcode_are_still_read(tmp_path: Path) -> None:
    """What the shortcut lets through is still read as a pickle: header-less payloads in
    a text file, in Python source and after another format's header that is an opcode."""
    for name in ("notes.txt", "model.bin", "evil.py"):
        result = scan_bytes(tmp_path, name, b"cos\nsystem\n(S'echo hi'\ntR.")
        assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result), name
    result = scan_bytes(tmp_path, "data.bin", evil())
    assert "PICKLE-GLOBAL-DANGEROUS" in blocking(result)


def test_data_no_unpickler_reads_is_clean(tmp_path: Path) -> None:
    for first in (b"#", b"x", b"\x00", b"\xff", b"{"):
        result = scan_bytes(tmp_path, "notes.txt", first + evil())
        assert not blocking(result), first
