"""safe-pip verify: check a distribution's sigstore bundle, PEP 740 attestation or
provenance, or a model folder's OpenSSF model.sig - offline, against a pinned
trusted root (by default the production root shipped inside sigstore).

Exit 0 verified, 1 not verified (the reason is printed), 2 usage error.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.commands.report_flags import add_report_flags
from safe_pip.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from safe_pip.policy.pins import Expected
    from safe_pip.report import SignatureCheck, Subject
    from safe_pip.verify.bundles import Verified
    from safe_pip.verify.errors import SignatureError


def register(parser: argparse.ArgumentParser) -> None:
    """Options mirror ``sigstore verify identity`` where they overlap."""
    parser.add_argument(
        "target",
        nargs="?",
        metavar="DIST|MODEL_DIR",
        help="distribution file, or model folder with --model-signature",
    )
    src = parser.add_argument_group("signature (default: sidecars next to DIST)")
    src.add_argument(
        "--bundle",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="detached sigstore bundle (hashedrekord or DSSE)",
    )
    src.add_argument(
        "--provenance",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="PEP 740 provenance object",
    )
    src.add_argument(
        "--attestation",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="PEP 740 attestation (.publish.attestation, .slsa.attestation)",
    )
    src.add_argument(
        "--model-signature",
        type=Path,
        metavar="FILE",
        help="OpenSSF model.sig for the MODEL_DIR target",
    )
    who = parser.add_argument_group("expected signer (any one must match)")
    who.add_argument(
        "--publisher",
        action="append",
        default=[],
        metavar="SPEC",
        help="github:OWNER/REPO@WORKFLOW.yml[#ENV], gitlab:NS/PROJECT@PATH, google:EMAIL",
    )
    who.add_argument("--cert-identity", metavar="SAN", help="exact certificate SAN")
    who.add_argument("--cert-oidc-issuer", metavar="URL", help="exact OIDC issuer")
    who.add_argument(
        "--cert-repository",
        metavar="URI",
        help="source repository the signing run was for (default: the one the SAN lies in)",
    )
    who.add_argument(
        "--cert-ref", metavar="REF", help="source ref of the signing run (default: the SAN's @ref)"
    )
    who.add_argument(
        "--key", type=Path, metavar="PEM", help="public key for a key-signed model.sig"
    )
    who.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="take publishers and the trusted root from this policy",
    )
    parser.add_argument(
        "--filename",
        metavar="NAME",
        help="real distribution filename if DIST is stored under another name",
    )
    parser.add_argument(
        "--trusted-root",
        type=Path,
        metavar="FILE",
        help="pinned trusted_root.json (default: production root inside sigstore)",
    )
    parser.add_argument(
        "--refresh-trusted-root",
        type=Path,
        metavar="OUT",
        help="fetch the current production root over TUF into OUT and exit "
        "(the only online operation)",
    )
    add_report_flags(parser)


@dataclass
class _Outcome:
    source: str
    verified: Verified | None = None
    error: SignatureError | None = None


def _expected_from_args(args: argparse.Namespace) -> list[Expected]:
    from safe_pip.policy.pins import PublisherSyntaxError, identity_from, parse_publisher

    if bool(args.cert_identity) != bool(args.cert_oidc_issuer):
        raise UsageError("--cert-identity and --cert-oidc-issuer must be given together")
    if (args.cert_repository or args.cert_ref) and not args.cert_identity:
        raise UsageError("--cert-repository and --cert-ref refine --cert-identity")
    try:
        out: list[Expected] = [parse_publisher(p) for p in args.publisher]
    except PublisherSyntaxError as exc:
        raise UsageError(str(exc)) from exc
    if args.cert_identity:
        given = {
            "identity": args.cert_identity,
            "issuer": args.cert_oidc_issuer,
            "repository": args.cert_repository,
            "ref": args.cert_ref,
        }
        try:
            out.append(identity_from({k: v for k, v in given.items() if v is not None}))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return out


def _from_policy(path: Path, filename: str) -> tuple[list[Expected] | None, Path | None]:
    """Publishers and trusted root the policy sets for this distribution.

    Returns ``None`` for the publishers when the policy pins none, ``[]`` when its
    blocks intersect to nothing (nothing is acceptable: fail closed).
    """
    from safe_pip.gate.fetch import https_client
    from safe_pip.policy import load_policy
    from safe_pip.verify.bundles import dist_key

    key = dist_key(filename)
    if key is None:
        raise UsageError(f"--policy needs a wheel or sdist filename, not {filename!r}")
    policy = load_policy(path, http=https_client)
    pkg = policy.for_package(str(key[0]), str(key[1]))
    root = policy.signatures.trusted_root
    return (None if pkg.publishers is None else list(pkg.publishers)), root


def _discover(target: Path) -> list[tuple[str, Path]]:
    """Sidecar files next to ``target``, with their kind (the gate's one list)."""
    from safe_pip.verify.sources import SIDECARS

    return [
        (kind, target.with_name(target.name + suffix))
        for suffix, kind in SIDECARS
        if target.with_name(target.name + suffix).is_file()
    ]


def _verify_dist(
    args: argparse.Namespace,
    target: Path,
    expected: list[Expected],
    root: Path | None,
    filename: str,
) -> list[_Outcome]:
    from safe_pip.verify.bundles import read_signature_file, verify_bundle
    from safe_pip.verify.errors import Reason, SignatureError
    from safe_pip.verify.provenance import load_attestation, verify_attestation, verify_provenance
    from safe_pip.verify.trust import make_verifier

    verifier = make_verifier(root)
    jobs: list[tuple[str, Path]] = [("bundle", p) for p in args.bundle]
    jobs += [("provenance", p) for p in args.provenance]
    jobs += [("attestation", p) for p in args.attestation]
    if not jobs:
        jobs = _discover(target)
    if not jobs:
        err = SignatureError(
            Reason.NO_SIGNATURE, f"no attestation, provenance or bundle found for {filename}"
        )
        return [_Outcome(filename, error=err)]
    outcomes: list[_Outcome] = []
    for kind, path in jobs:
        try:
            raw = read_signature_file(path)
            if kind == "bundle":
                results = [
                    verify_bundle(
                        target,
                        raw,
                        expected=expected,
                        verifier=verifier,
                        filename=filename,
                        source=path.name,
                    )
                ]
            elif kind == "provenance":
                results = verify_provenance(
                    target,
                    raw,
                    expected=expected,
                    verifier=verifier,
                    filename=filename,
                    source=path.name,
                )
            else:
                results = [
                    verify_attestation(
                        target,
                        load_attestation(raw, path.name),
                        expected=expected,
                        verifier=verifier,
                        filename=filename,
                        source=path.name,
                    )
                ]
            outcomes += [_Outcome(v.source, verified=v) for v in results]
        except SignatureError as exc:
            outcomes.append(_Outcome(path.name, error=exc))
    return outcomes


def _verify_model(
    args: argparse.Namespace, target: Path, expected: list[Expected], root: Path | None
) -> list[_Outcome]:
    from safe_pip.verify.bundles import read_signature_file
    from safe_pip.verify.errors import SignatureError
    from safe_pip.verify.model_signing import ModelTree, verify_model
    from safe_pip.verify.trust import make_verifier

    if not target.is_dir():
        raise UsageError(f"{target} is not a folder (--model-signature needs MODEL_DIR)")
    source = args.model_signature.name
    try:
        key = read_signature_file(args.key) if args.key else None
        verifier = None if key else make_verifier(root)
        v = verify_model(
            ModelTree.from_dir(target),
            read_signature_file(args.model_signature),
            expected=expected,
            verifier=verifier,
            key_pem=key,
            source=source,
        )
    except SignatureError as exc:
        return [_Outcome(source, error=exc)]
    return [_Outcome(source, verified=v)]


def _check(o: _Outcome) -> SignatureCheck:
    from safe_pip.report import SignatureCheck

    if o.error is not None:
        return SignatureCheck(o.source, False, reason=str(o.error.reason), message=o.error.message)
    v = o.verified
    assert v is not None
    return SignatureCheck(
        o.source,
        True,
        kind=v.kind,
        signer=v.signer.san if v.signer else None,
        issuer=v.signer.issuer if v.signer else None,
        matched=str(v.matched) if v.matched else ("key" if "key" in v.notes else None),
        predicate_type=v.predicate_type,
    )


def _subject(target: Path, outcomes: list[_Outcome], *, model: bool) -> Subject:
    """Each failed check is a finding, so ``decide`` (the only judge) blocks the target."""
    from safe_pip.decide import decide
    from safe_pip.report import Subject
    from safe_pip.verify.artifact import signature_failure

    loc = str(target)
    findings = [
        signature_failure(o.error, loc, o.source, model=model)
        for o in outcomes
        if o.error is not None
    ]
    return Subject(
        "file",
        loc,
        decide(findings, target=loc),
        signatures=tuple(_check(o) for o in outcomes),
    )


def run(args: argparse.Namespace) -> int:
    from safe_pip.report import Report, check_report_file, emit
    from safe_pip.verify.trust import refresh_trusted_root

    if args.refresh_trusted_root:
        if args.report is not None:
            raise UsageError("--refresh-trusted-root writes no report; drop --report")
        out = refresh_trusted_root(args.refresh_trusted_root)
        print(
            f"wrote the TUF-verified production trusted root to {out}; pin it with "
            "--trusted-root or [signatures] trusted_root"
        )
        return EXIT_OK
    if not args.target:
        raise UsageError("verify needs a DIST file or a MODEL_DIR")
    check_report_file(args.report)
    if args.extra_args:
        raise UsageError(f"unrecognized arguments: {' '.join(args.extra_args)}")
    target = Path(args.target)
    if not target.exists():
        raise UsageError(f"{target} does not exist")
    for opt in ("bundle", "provenance", "attestation"):
        for p in getattr(args, opt):
            if not p.is_file():
                raise UsageError(f"--{opt} {p}: no such file")
    for opt in ("model_signature", "key", "policy", "trusted_root"):
        p = getattr(args, opt)
        if p is not None and not p.is_file():
            raise UsageError(f"--{opt.replace('_', '-')} {p}: no such file")
    expected = _expected_from_args(args)
    root: Path | None = args.trusted_root
    filename = args.filename or target.name
    if args.model_signature is not None:
        if args.bundle or args.provenance or args.attestation or args.policy:
            raise UsageError("--model-signature cannot be combined with distribution options")
        if not expected and not args.key:
            raise UsageError("give --cert-identity/--cert-oidc-issuer (or --key) for the model")
        outcomes = _verify_model(args, target, expected, root)
    else:
        if target.is_dir():
            raise UsageError(f"{target} is a folder; distributions are files")
        if args.policy is not None:
            pol_expected, pol_root = _from_policy(args.policy, filename)
            root = root or pol_root
            if pol_expected is not None:
                expected += pol_expected
                if not pol_expected:
                    raise UsageError("the policy's [[package]] blocks accept no publisher at all")
        if not expected:
            raise UsageError(
                "say who must have signed: --publisher, --cert-identity/"
                "--cert-oidc-issuer, or a --policy that names a publisher"
            )
        outcomes = _verify_dist(args, target, expected, root, filename)
    subject = _subject(target, outcomes, model=args.model_signature is not None)
    return emit(Report.judged("verify", (subject,)), args.format, args.report)
