"""The foundation readers (pickle engine, zip, tar, compression, npy), fed random and mutated input.

Every input must end in findings or silence within a bounded time, never in an
exception: the dispatcher turns a reader crash into ``SCAN-ERROR`` (fail closed),
so a ``SCAN-ERROR`` here is a reader bug the fuzzer found.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tarfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import BudgetExhausted, ScanContext
from safe_pip.scan.core.dispatch import scan_blob
from safe_pip.scan.core.limits import Limits
from safe_pip.scan.formats.pickle import bounds, engine
from safe_pip.scan.formats.pickle.standins import Trace

from .pickles import BENIGN, evil, torch_like_state_dict, zip_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FUZZ = settings(
    max_examples=int(os.environ.get("SAFE_PIP_FUZZ_EXAMPLES", "150")),
    deadline=3000,
    suppress_health_check=[HealthCheck.too_slow],
)
LIMITS = Limits(time_budget=5.0)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


SEEDS = [
    BENIGN,
    evil(),
    torch_like_state_dict(),
    b"cos\nsystem\n(S'x'\ntR.",
    zip_bytes({"archive/data.pkl": torch_like_state_dict(), "archive/data/0": b"\0" * 16}),
    _tar({"a/model.pkl": evil(), "a/readme": b"hello"}),
    gzip.compress(evil()),
    b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    + b" " * 47
    + b"\n"
    + evil(),
    (FIXTURES / "torch" / "state_dict_legacy.pt").read_bytes()[:4096],
]


def _scan(data: bytes) -> ScanContext:
    ctx = ScanContext(LIMITS)
    start = time.monotonic()
    with contextlib.suppress(BudgetExhausted):
        scan_blob(ctx, Blob(data), "fuzz", 0)
    assert time.monotonic() - start < 10.0
    errors = [f for f in ctx.findings if f.rule_id == "SCAN-ERROR"]
    assert not errors, errors
    return ctx


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _scan(data)


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=10),
    cut=st.integers(0, 1 << 16),
)
def test_mutated_samples(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(seed)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    _scan(bytes(buf[: max(1, cut % (len(buf) + 1))]))


@FUZZ
@given(body=st.lists(st.sampled_from(list(range(256))), max_size=512))
def test_engine_on_opcode_soup(body: list[int]) -> None:
    """Protocol header plus arbitrary opcode bytes: the engine returns, never raises."""
    data = b"\x80\x04" + bytes(body) + b"."
    res = engine.load(
        data,
        0,
        len(data),
        Trace(),
        engine.Loader(),
        deadline=time.monotonic() + 5,
        memory=bounds.Budget(len(data)),
    )
    assert all(0 < end <= len(data) for end in res.ends)
    assert res.complete or res.error or res.limit
