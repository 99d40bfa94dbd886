"""Where a pip command that resolves requirements goes instead of pip: one routing for all.

Started by the per-environment hook (``_safe_pip_hook``: pip has parsed the command line
itself and is about to run ``install``/``download``/``wheel``/``lock``) and used by the
shell functions and PATH shims (:mod:`.dispatch`) for environments without the hook::

    <safe-pip python> -I -m safe_pip.enforce.gatekeep --python TARGET --command NAME -- ARGS

``ARGS`` is what pip hands the command (the command line minus the command word).

- ``install`` runs ``safe-pip install --python TARGET -- ARGS`` (pip's own ``--dry-run``,
  as pip parsed it, becomes safe-pip's: vet, install nothing).
- ``download`` and ``wheel`` run a vetting dry run of the same requirements (everything
  resolved afresh, as pip download does), then pip itself fetches exactly the vetted files
  from safe-pip's quarantine (``--no-index --no-deps --require-hashes --only-binary :all:``
  and the user's destination), admitted through the hook by a ticket. Nothing is built
  by pip; what the policy lets the gate build is handed over as the built wheel.
- ``lock`` vets, then runs pip's lock with ``--only-binary=:all:`` (a lock file must
  name the index's files, not the quarantine's); a requirement that needs a build is
  refused there, because pip would build it again.
- the escape hatch (:mod:`.escape`), when the policy permits it, admits the original
  command line with a ticket after the record is written.

Exit codes are the gate's: 0 done, 1 blocked (nothing installed or downloaded), 2 error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safe_pip.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, SafePipError, UsageError

if TYPE_CHECKING:
    from safe_pip.gate.install import VettedFile

NESTED_ENV = "SAFE_PIP_IN_GATE"
"""Set for the gate's own process tree: a gated pip started inside it is refused (no loop).
It can only refuse, never admit, so anyone may set it."""

# What the final ``pip download``/``pip wheel`` keeps of the user's options: where files go,
# which platform they are for (pip checks wheel tags against it), and how much it says.
_FINAL_DESTS = frozenset(["download_dir", "wheel_dir"])
_BOTH_DESTS = frozenset(
    ["platforms", "abis", "python_version", "implementation", "verbose", "quiet", "no_color"]
)
_WHEEL_ONLY = {"no_verify": "checks built wheels", "build_options": "passes options to a build"}


def say(message: str) -> None:
    print(f"safe-pip: {message}", file=sys.stderr)
    sys.stderr.flush()


@dataclass(frozen=True)
class Request:
    target: Path
    command: str
    args: tuple[str, ...]
    via: str = "hook"
    dry_run: bool = False
    """pip's own ``--dry-run``, as pip (the hook) or the shared grammar (the dispatcher) read
    it: vet, install nothing."""


def parse(argv: Sequence[str]) -> Request:
    """``--python PY --command NAME [--via WHO] [--dry-run] -- ARGS``; else a usage error."""
    items = list(argv)
    values: dict[str, str] = {}
    i = 0
    while i < len(items) and items[i] != "--":
        if items[i] == "--dry-run":
            values["--dry-run"] = "1"
            i += 1
            continue
        if items[i] in ("--python", "--command", "--via") and i + 1 < len(items):
            values[items[i]] = items[i + 1]
            i += 2
            continue
        raise UsageError(f"gatekeep: unexpected argument {items[i]!r}")
    if "--python" not in values or "--command" not in values:
        raise UsageError("gatekeep: --python and --command are required")
    return Request(
        Path(values["--python"]),
        values["--command"],
        tuple(items[i + 1 :]),
        values.get("--via", "hook"),
        "--dry-run" in values,
    )


def _safe_pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "safe_pip", *args]


def _gate_env() -> dict[str, str]:
    from safe_pip.enforce import escape

    env = dict(os.environ)
    env[NESTED_ENV] = "1"
    env.pop(escape.BYPASS_ENV, None)
    return env


def route(req: Request, *, real: Sequence[str] | None = None) -> int:
    """Run ``req`` the safe way; ``real`` is the user's own pip command (dispatcher only)."""
    if os.environ.get(NESTED_ENV):
        say(f"refusing a nested 'pip {req.command}' started from inside a gated install")
        return EXIT_ERROR
    bypass = _escape(req, real)
    if bypass is not None:
        return bypass
    if req.command == "install":
        return _install(req)
    if req.command in ("download", "wheel", "lock"):
        return _vet_then_fetch(req)
    say(
        f"'pip {req.command}' resolves requirements and safe-pip does not know how to vet it; "
        "refusing it (fail closed)"
    )
    return EXIT_ERROR


def _escape(req: Request, real: Sequence[str] | None) -> int | None:
    """The escape hatch: ``None`` to go on through the gate, else the exit code."""
    from safe_pip.enforce import escape

    if escape.requested() is None:
        return None
    from safe_pip.gate.fetch import https_client
    from safe_pip.policy import load_policy

    policy = load_policy(None, http=https_client)
    command = ["pip", req.command, *req.args]
    decision = escape.decide_bypass(policy, command=command, target=str(req.target), via=req.via)
    if not decision.allowed:
        say(
            f"{escape.BYPASS_ENV} is set but the policy does not permit an escape hatch "
            "([enforcement] escape_hatch); the attempt was recorded; going through the gate"
        )
        return None
    say(f"escape hatch used ({decision.reason}); recorded in the audit log")
    if real is not None:
        return subprocess.run(list(real)).returncode
    from safe_pip.gate import ticket

    ticket.issue(req.command, [req.command, *req.args])
    return EXIT_OK  # the hook finds the ticket and runs the original command


def _grammar(target: Path) -> Any:
    from safe_pip.gate import inputs

    return inputs.grammar_for(inputs.probe_target(target))


def _install(req: Request) -> int:
    extra = ["--dry-run"] if req.dry_run else []
    cmd = _safe_pip("install", "--python", str(req.target), *extra, "--", *req.args)
    return subprocess.run(cmd, env=_gate_env()).returncode


def _render(occurrence: Any) -> list[str]:
    """One parsed option back as an unambiguous argument (``--long=value``)."""
    opt = occurrence.option
    if not opt.takes_value:
        return [opt.long_name]
    value = occurrence.value
    if isinstance(value, tuple):
        return [opt.long_name, *value]
    return [f"{opt.long_name}={value}"]


def _split_args(req: Request, grammar: Any) -> tuple[list[str], list[str]]:
    """pip download/wheel/lock ARGS -> (arguments for the vetting dry run, for the final pip)."""
    from safe_pip.gate.pip_options import PipGrammarError, parse_options

    try:
        parsed = parse_options(req.args, grammar.command(req.command))
    except PipGrammarError as exc:
        raise UsageError(f"pip {req.command} arguments: {exc}") from exc
    install_names = {n for o in grammar.command("install") for n in o.names}
    vet: list[str] = []
    final: list[str] = []
    for occ in parsed.occurrences:
        dest = occ.option.dest
        if dest in _WHEEL_ONLY:
            raise UsageError(
                f"pip {req.command} {occ.option.long_name} {_WHEEL_ONLY[dest]}; safe-pip hands "
                "over vetted wheels and builds nothing through pip, so it refuses the option"
            )
        if dest in _FINAL_DESTS or dest == "output_file":
            final += _render(occ)
            continue
        if dest in _BOTH_DESTS:
            final += _render(occ)
        if occ.option.long_name not in install_names:
            raise UsageError(
                f"pip {req.command}'s {occ.option.long_name} is an option safe-pip does not "
                "model; it refuses rather than guess"
            )
        vet += _render(occ)
    return [*vet, "--ignore-installed", "--", *parsed.positionals], final


def _vetted(report: dict[str, Any]) -> list[tuple[VettedFile, bool]]:
    """(the vetted file, built by the gate) of each file in the JSON report; the file carries
    the name and version it was vetted as, which the final pip's input is checked against."""
    from safe_pip.gate.install import VettedFile  # lazy: the hook waits on this process

    if str(report.get("schema_version")) != "2":
        raise SafePipError(f"unknown report schema {report.get('schema_version')!r}")
    out = []
    for target in report.get("targets", []):
        dist = target.get("distribution") or {}
        if target.get("kind") != "artifact" or target.get("decision") != "allow":
            raise SafePipError(f"the vetting report lists {target.get('target')!r} as not vetted")
        if not dist.get("path") or not dist.get("sha256"):
            raise SafePipError(f"the vetting report has no file for {target.get('target')!r}")
        built = bool((target.get("properties") or {}).get("built-from"))
        vetted = VettedFile(
            Path(dist["path"]),
            str(dist["sha256"]),
            str(dist.get("name") or ""),
            str(dist.get("version") or ""),
        )
        out.append((vetted, built))
    return out


def _vet_then_fetch(req: Request) -> int:
    from safe_pip.gate import ticket
    from safe_pip.gate.install import isolated_pip_env, requirements_text

    grammar = _grammar(req.target)
    vet_args, final_args = _split_args(req, grammar)
    with tempfile.TemporaryDirectory(prefix="safe-pip-vet-") as tmp:
        report_path = Path(tmp) / "report.json"
        say(f"vetting what 'pip {req.command}' would fetch (nothing is built by pip)")
        cmd = _safe_pip(
            "install", "--dry-run", "--python", str(req.target), "--report", str(report_path)
        )
        code = subprocess.run([*cmd, "--", *vet_args], env=_gate_env()).returncode
        if code != EXIT_OK:
            say(f"pip {req.command} refused: the requirements did not pass the gate")
            return code
        try:
            files = _vetted(json.loads(report_path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise SafePipError(f"cannot read the vetting report: {exc}") from exc
        if not files:
            say(f"pip {req.command}: nothing to fetch")
            return EXIT_OK
        python = [str(req.target), "-I", "-m", "pip"]
        if req.command == "lock":
            if any(built for _, built in files):
                say("pip lock refused: a requirement needs a build, which pip would run again")
                return EXIT_BLOCKED
            pip_args = [req.command, *req.args, "--only-binary=:all:"]
            read: list[Path] = []
            env = dict(os.environ)  # pip lock names the user's index: keep its settings
        else:
            vetted = Path(tmp) / "vetted-requirements.txt"
            vetted.write_text(requirements_text([f for f, _ in files]), encoding="utf-8")
            pip_args = [
                req.command,
                "--no-index",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                *final_args,
                "-r",
                str(vetted),
            ]
            read = [vetted]
            env = isolated_pip_env()  # only the quarantine: nothing else for pip to read
        admitted = ticket.issue(req.command, pip_args, files=read)
        try:
            return subprocess.run([*python, *pip_args], env=env).returncode
        finally:
            ticket.withdraw(admitted)


def guarded(work: Callable[[], int], done: str) -> int:
    """Run an entry point's work; an expected failure is one line and its exit code."""
    try:
        return work()
    except SafePipError as exc:
        say(f"error: {exc}; {done}")
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted; nothing was installed")
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    items = sys.argv[1:] if argv is None else argv
    return guarded(lambda: route(parse(items)), "nothing was installed")


if __name__ == "__main__":
    sys.exit(main())
