"""Real benign torch files and real PyPI wheels with weights: no finding of medium or worse.

Why: false positives are what make people switch a gate off. Every file here is what
``torch.save`` / ``torch.jit.save`` really write (see tests/fixtures/torch/README.md) or a real
wheel people install (tests/fixtures/wheels/README.md), so a medium-or-worse finding on any of
them is a scanner bug, not a policy question.

A scanner that looks at nothing would pass those tests, so each benign case also checks that
the pickles were not skipped, and the tampered copies at the end prove the same pipeline does
block a payload planted in these very files.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.wheels import build_wheel

from .scan_harness import EXIT_BLOCKED, EXIT_CLEAN, FIXTURES, ScanRun, run_scan

TORCH_DIR = FIXTURES / "torch"
WHEEL_DIR = FIXTURES / "wheels"
TORCH_FILES: dict[str, str] = json.loads((TORCH_DIR / "manifest.json").read_text())

#: The model members of each real wheel: none of them may be skipped unscanned.
WHEEL_MODEL_MEMBERS: dict[str, tuple[str, ...]] = {
    "lpips-0.1.4-py3-none-any.whl": tuple(
        f"lpips/weights/v0.{v}/{net}.pth" for v in (0, 1) for net in ("alex", "squeeze", "vgg")
    ),
    "facenet_pytorch-2.6.0-py3-none-any.whl": tuple(
        f"facenet_pytorch/data/{n}net.pt" for n in ("p", "r", "o")
    ),
    "silero_vad-6.2.3-py3-none-any.whl": ("silero_vad/data/silero_vad.jit",),
}


def pickles_read(run: ScanRun) -> int:
    """How many pickle streams the scanner says it parsed (inventory kinds naming pickles)."""
    return sum(n for kind, n in run.inventory().items() if "pickle" in kind)


def assert_clean(run: ScanRun) -> None:
    """Exit 0, a JSON report, and no finding of medium severity or worse."""
    assert not run.timed_out, run.describe()
    assert run.json_error is None, run.describe()
    assert isinstance(run.report, dict) and "schema_version" in run.report, run.describe()
    serious = run.findings_at_least("medium")
    assert not serious, run.describe()
    assert run.returncode == EXIT_CLEAN, run.describe()


def test_manifest_lists_every_torch_fixture() -> None:
    """A fixture added without a manifest entry would silently go untested."""
    on_disk = {p.name for p in TORCH_DIR.iterdir() if p.suffix == ".pt"}
    assert on_disk == set(TORCH_FILES), on_disk ^ set(TORCH_FILES)


def test_the_three_real_wheels_are_present() -> None:
    """The parametrised wheel test must not shrink to nothing if a wheel goes missing."""
    assert {p.name for p in WHEEL_DIR.glob("*.whl")} == set(WHEEL_MODEL_MEMBERS)


@pytest.mark.parametrize("name", sorted(TORCH_FILES))
def test_torch_fixture_is_clean(name: str) -> None:
    """Each real torch file: exit 0, no medium+ finding, and its pickles were read."""
    path = TORCH_DIR / name
    run = run_scan([path])
    assert_clean(run)
    assert pickles_read(run) >= 1, "no pickle was read\n" + run.describe()
    for entry in run.skipped():
        location = str(entry.get("location", ""))
        assert not location.endswith(".pkl"), f"a pickle was skipped: {entry}\n{run.describe()}"
        assert location.rstrip("/") not in (str(path), name), (
            f"the whole file was skipped: {entry}\n{run.describe()}"
        )


def test_all_torch_fixtures_in_one_run() -> None:
    """Several targets (and a folder) in one command: still exit 0 and no medium+ finding."""
    run = run_scan([TORCH_DIR])
    assert_clean(run)


def test_torch_fixtures_nested_in_wheel_and_sdist(tmp_path: Path) -> None:
    """The same files one and two containers deep (wheel; sdist tar.gz) stay clean.

    Nesting changes locations and the reader that hands bytes on (zip member, tar member,
    gzip stream); a false positive that appears only there would block real packages.
    """
    files = {f"fixtures/weights/{n}": (TORCH_DIR / n).read_bytes() for n in TORCH_FILES}
    wheel = build_wheel(tmp_path, "fixtures", files={"fixtures/__init__.py": b"", **files})
    sdist = tmp_path / "fixtures-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for name in TORCH_FILES:
            tf.add(TORCH_DIR / name, f"fixtures-1.0/fixtures/weights/{name}")
        info = tarfile.TarInfo("fixtures-1.0/fixtures-1.0.whl")
        info.size = wheel.stat().st_size
        tf.addfile(info, io.BytesIO(wheel.read_bytes()))
    run = run_scan([wheel, sdist])
    assert_clean(run)
    assert pickles_read(run) >= 3 * len(TORCH_FILES), run.describe()


@pytest.mark.parametrize("name", sorted(WHEEL_MODEL_MEMBERS))
def test_real_wheel_is_clean(name: str) -> None:
    """Each real PyPI wheel, scanned whole: exit 0, no medium+ finding, weights not skipped."""
    run = run_scan([WHEEL_DIR / name])
    assert_clean(run)
    expected = len(WHEEL_MODEL_MEMBERS[name])
    assert pickles_read(run) >= expected, f"fewer than {expected} pickles read\n{run.describe()}"
    for entry in run.skipped():
        location = str(entry.get("location", ""))
        for member in WHEEL_MODEL_MEMBERS[name]:
            assert member not in location, f"model member skipped: {entry}\n{run.describe()}"


# --- the same files with a payload planted: proves the benign passes above are not vacuous ---

#: ``collections.OrderedDict`` and a call target of the same byte length, so the GLOBAL opcode
#: can be swapped in place (zip offsets stay valid; only the member's CRC goes stale, which
#: torch's own reader tolerates, so a scanner must read it too).
BENIGN_GLOBAL = b"collections\nOrderedDict\n"
EVIL_GLOBAL = b"subprocess\ncheck_output\n"
assert len(BENIGN_GLOBAL) == len(EVIL_GLOBAL)


def plant(data: bytes) -> bytes:
    """Replace every ``collections.OrderedDict`` GLOBAL with ``subprocess.check_output``."""
    assert BENIGN_GLOBAL in data, "fixture has no OrderedDict GLOBAL to replace"
    return data.replace(BENIGN_GLOBAL, EVIL_GLOBAL)


def assert_blocked(run: ScanRun) -> None:
    """Exit 1 with at least one finding of medium severity or worse."""
    assert not run.timed_out, run.describe()
    assert run.returncode == EXIT_BLOCKED, run.describe()
    assert run.findings_at_least("medium"), run.describe()


@pytest.mark.parametrize(
    "name", ["state_dict.pt", "state_dict_legacy.pt", "training_checkpoint_legacy.pt"]
)
def test_tampered_torch_fixture_is_blocked(name: str, tmp_path: Path) -> None:
    """A real zip / legacy checkpoint with one global swapped for a call gadget is blocked."""
    target = tmp_path / name
    target.write_bytes(plant((TORCH_DIR / name).read_bytes()))
    assert_blocked(run_scan([target]))


def test_tampered_weight_inside_real_wheel_is_blocked(tmp_path: Path) -> None:
    """A payload in one legacy .pth inside the real lpips wheel is found and located."""
    source = WHEEL_DIR / "lpips-0.1.4-py3-none-any.whl"
    member = "lpips/weights/v0.1/alex.pth"
    target = tmp_path / source.name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, plant(data) if info.filename == member else data)
    run = run_scan([target])
    assert_blocked(run)
    located = [f for f in run.findings_at_least("medium") if member in str(f.get("location"))]
    assert located, f"no finding names {member}\n{run.describe()}"
