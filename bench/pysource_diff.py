"""Differential of the Python-source rules: a base revision's ``pysource`` against this one.

Every pre-filter of ``scan/dist/pysource.py`` must be an exact consequence of the rules after
it: a faster filter may only skip work, never a finding. This script checks that on real code:
it feeds every ``.py`` member of every wheel given (nested wheels too, as the scan does) to
``read_python`` of the base revision and of the working tree, with no pool (the analysis runs
inline), and compares the findings (rule id, location, severity, message, detail). It also
reports the CPU time (``time.process_time``) each side spent on Python source.

    python bench/pysource_diff.py --base main ~/.cache/safe-pip-test-wheels \\
        ~/.cache/safe-pip-test-wheels/real

With ``--trees`` it compares ``check_tree`` itself instead, with every rule on and no
pre-filter, on every module that parses (as a module and as a ``setup.py``): the rules' own
code, not the filters in front of them.

Exit 0 when every module gave identical findings, 1 otherwise (the differences are printed).
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import sys
import time
import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.dist import pysource

ROOT = Path(__file__).resolve().parent.parent
Reader = Callable[[ScanContext, Blob, str, int], None]
Key = tuple[str, str, int, str, str]


def base_module(rev: str) -> types.ModuleType:
    """``src/safe_pip/scan/dist/pysource.py`` as it was at ``rev``."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:src/safe_pip/scan/dist/pysource.py"],
        capture_output=True,
        check=True,
    ).stdout
    module = types.ModuleType("safe_pip.scan.dist._pysource_base")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:pysource.py", "exec"), module.__dict__)
    return module


def modules(path: Path) -> Iterator[tuple[str, bytes]]:
    """(location, bytes) of every ``.py`` member, descending into nested wheels."""

    def walk(zf: zipfile.ZipFile, prefix: str) -> Iterator[tuple[str, bytes]]:
        for info in zf.infolist():
            if info.filename.endswith(".py"):
                yield f"{prefix}!{info.filename}", zf.read(info)
            elif info.filename.endswith(".whl"):
                with zipfile.ZipFile(io.BytesIO(zf.read(info))) as inner:
                    yield from walk(inner, f"{prefix}!{info.filename}")

    with zipfile.ZipFile(path) as zf:
        yield from walk(zf, path.name)


def read_with(reader: Reader) -> Callable[[ScanContext, bytes, str], None]:
    return lambda ctx, raw, location: reader(ctx, Blob(raw), location, 0)


def check_with(module: types.ModuleType) -> Callable[[ScanContext, bytes, str], None]:
    """``check_tree`` with every rule, as a module and as a ``setup.py`` (every scope)."""

    def run(ctx: ScanContext, raw: bytes, location: str) -> None:
        try:
            tree = ast.parse(raw)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return
        module.check_tree(ctx, tree, location, whole_file=False)
        module.check_tree(ctx, tree, location + "/setup.py", whole_file=True)

    return run


def findings(
    run: Callable[[ScanContext, bytes, str], None], raw: bytes, location: str
) -> tuple[list[Key], float]:
    ctx = ScanContext()
    start = time.process_time()
    run(ctx, raw, location)
    spent = time.process_time() - start
    keys = [
        (f.rule_id, f.location, f.severity.value, f.message, repr(sorted(f.detail.items())))
        for f in ctx.findings
    ]
    return sorted(keys), spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base", default="main", help="git revision to compare against")
    parser.add_argument("--trees", action="store_true", help="compare check_tree itself")
    parser.add_argument("paths", nargs="+", type=Path, help="wheels or folders of wheels")
    args = parser.parse_args(argv)
    base = base_module(args.base)
    if args.trees:
        old, new = check_with(base), check_with(pysource)
    else:
        old, new = read_with(base.read_python), read_with(pysource.read_python)
    wheels = sorted(
        w for p in args.paths for w in ([p] if p.is_file() else p.glob("*.whl")) if w.is_file()
    )
    total = same = flagged = 0
    diffs: list[str] = []
    for wheel in wheels:
        n = 0
        cpu: dict[str, float] = {"base": 0.0, "new": 0.0}
        for location, raw in modules(wheel):
            before, t_old = findings(old, raw, location)
            after, t_new = findings(new, raw, location)
            cpu["base"] += t_old
            cpu["new"] += t_new
            n += 1
            flagged += bool(after)
            if before == after:
                same += 1
            else:
                diffs.append(f"{location}\n  base: {before}\n  new:  {after}")
        total += n
        print(
            f"{wheel.name}: {n} modules, python-source CPU {cpu['base']:.2f} s -> "
            f"{cpu['new']:.2f} s",
            flush=True,
        )
    for d in diffs:
        print("DIFF", d)
    print(f"{total} modules compared, {same} identical, {total - same} differ, "
          f"{flagged} with findings")  # fmt: skip
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())
