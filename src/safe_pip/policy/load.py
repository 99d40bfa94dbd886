"""Finding, parsing and merging the layers: the functions other code calls.

``load_policy`` is what ``install``, ``scan`` and ``verify`` use: it returns
the effective policy or raises :class:`~safe_pip.errors.PolicyError` (exit 2)
with every problem as ``file:line``.  There is no fallback to the default on
error: a broken or loosening policy stops the command.  An org file with a
``[remote]`` table is replaced by the signed file it points at (see
``safe_pip.policy.remote``); a fetch or signature failure is a PolicyError too.

The network is reached only for such a pointer, through the ``http`` factory the caller
passes (commands hand in the gate's client: ``safe_pip.gate.fetch.https_client``);
without one, a pointer is an error rather than a silent fallback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.errors import PolicyError
from safe_pip.policy import discover
from safe_pip.policy.keys import Conflict, LayerName
from safe_pip.policy.layering import MergeResult, locked_note, merge
from safe_pip.policy.model import LayerInfo, Policy

if TYPE_CHECKING:
    from safe_pip.policy.parse import Layer, Problem
    from safe_pip.policy.remote import Http

HttpFactory = Callable[[], "Http"]

FLAGS_LABEL = "<command line>"
"""How the layer built from individual command-line flags is named in messages."""


def _problems_error(problems: Sequence[Problem]) -> PolicyError:
    lines = "\n".join(f"  {p}" for p in problems)
    return PolicyError(f"invalid policy ({len(problems)} problem(s)):\n{lines}")


def _conflicts_error(conflicts: Sequence[Conflict]) -> PolicyError:
    lines = "\n".join(f"  {c}" for c in conflicts)
    return PolicyError(
        f"a policy layer tries to loosen what is above it ({len(conflicts)} problem(s)):\n"
        f"{lines}\n  the user policy may only tighten the org's, and project files, --policy "
        "and flags may only tighten everything above them; fix or remove these lines"
    )


def find_layers(
    cli_file: Path | None, cwd: Path, env: Mapping[str, str]
) -> list[tuple[LayerName, Path]]:
    """The files that make up the policy here, from org down to cli."""
    found: list[tuple[LayerName, Path]] = []
    org = discover.org_policy_path(env)
    if org is not None:
        found.append(("org", org))
    user = discover.user_policy_path(env)
    if user.is_file():
        found.append(("user", user))
    project = discover.project_policy_path(cwd)
    if project is not None:
        found.append(("project", project))
    if cli_file is not None:
        if not cli_file.is_file():
            raise PolicyError(f"--policy {cli_file}: no such file")
        found.append(("cli", cli_file))
    return found


def resolve_policy(
    cli_file: Path | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: str | None = None,
    http: HttpFactory | None = None,
) -> MergeResult:
    """Load and merge all layers; conflicts are returned, not raised (for ``policy show``).

    Raises PolicyError for unreadable or invalid files.  When the org layer is
    locked, lower files are not even parsed: they cannot affect the outcome.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    layers: list[Layer] = []
    infos: list[LayerInfo] = []
    problems: list[Problem] = []
    notes: list[str] = []
    found = find_layers(cli_file, cwd, env)
    locked = False
    for index, (name, path) in enumerate(found):
        # The TOML reader and schema are imported only when there is a file (or a flag) to
        # read: with none, the policy is the declared defaults (a short scan's start-up).
        from safe_pip.policy.parse import Problem, parse_file

        layer, file_problems = parse_file(path, name)
        problems.extend(file_problems)
        if layer is None:
            continue
        info = LayerInfo(name, path)
        if layer.publication is not None and name != "org":
            problems.append(
                Problem(
                    path,
                    layer.publication.source.line or 1,
                    "[publication] is only read from the org policy (the signed file a "
                    "[remote] pointer names)",
                )
            )
        if layer.remote is not None:
            if name != "org":
                line = layer.remote.source.line or 1
                problems.append(
                    Problem(path, line, "[remote] is only read from the org policy file")
                )
                continue
            if file_problems:
                continue  # a broken pointer is reported as it is; nothing is fetched
            # The org layer becomes the signed remote file (or PolicyError).
            if http is None:
                raise PolicyError(
                    f"{path} points at a remote org policy, but this command was given no "
                    "HTTP client to fetch it with; refusing to continue without the org policy"
                )
            from safe_pip.policy.remote import load_remote_layer  # only for a [remote] pointer

            client = http()
            try:
                fetched = load_remote_layer(layer.remote, path, env, client)
            finally:
                client.close()
            layer, info = fetched.layer, LayerInfo(name, fetched.layer.path, remote=fetched.origin)
            if fetched.note:
                notes.append(fetched.note)
        layers.append(layer)
        infos.append(info)
        lock = layer.get("locked") if name == "org" else None
        if lock is not None and lock.value is True and not file_problems:
            locked = True
            rest = found[index + 1 :]
            why = "the org policy is locked"
            infos.extend(LayerInfo(n, p, used=False, why_unused=why) for n, p in rest)
            if rest:
                notes.append(
                    locked_note(layer.path, lock.source, [f"{n} policy {p}" for n, p in rest])
                )
            break
    if flags is not None:
        label = Path(FLAGS_LABEL)
        if locked:
            infos.append(LayerInfo("cli", label, used=False, why_unused="the org policy is locked"))
            notes.append("the org policy is locked: the command-line policy flags were ignored")
        else:
            from safe_pip.policy.parse import parse_text

            flag_layer, flag_problems = parse_text(flags, label, "cli")
            problems.extend(flag_problems)
            if flag_layer is not None:
                layers.append(flag_layer)
                infos.append(LayerInfo("cli", label))
    if problems:
        raise _problems_error(problems)
    result = merge(layers, infos)
    policy = result.policy
    if notes:
        policy = replace(policy, notes=(*notes, *policy.notes))
    return MergeResult(policy, result.conflicts)


def load_policy(
    cli_file: Path | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: str | None = None,
    http: HttpFactory | None = None,
) -> Policy:
    """The effective layered policy, or PolicyError (``file:line``) — never a fallback.

    ``flags`` is the TOML built from individual command-line flags
    (:func:`safe_pip.commands.policy_flags.flags_toml`): the top layer, above ``cli_file``.
    ``http`` makes the client that fetches an org policy named by ``[remote]``.
    """
    result = resolve_policy(cli_file, cwd=cwd, env=env, flags=flags, http=http)
    if result.conflicts:
        raise _conflicts_error(result.conflicts)
    return result.policy


def check_files(paths: Sequence[Path]) -> list[Problem]:
    """Validate files on their own (no layering): every problem, each with file:line."""
    from safe_pip.policy.parse import parse_file

    problems: list[Problem] = []
    for path in paths:
        _, file_problems = parse_file(path)
        problems.extend(file_problems)
    return problems
