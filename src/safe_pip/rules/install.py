"""Rules of the install gate: resolution, fetch, names, hashes, index and age checks."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date "
    "(bind it to the file's sha256 where you can)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "INSTALL-HASH-MISMATCH",
        "Downloaded bytes differ from the hash the index advertised",
        S.CRITICAL,
        "The file safe-pip downloaded does not have the sha256 the index (or pip's "
        "report) announced for it. Something between the index and you, or the index "
        "itself, served other bytes than it describes. Nothing is installed.",
        "Not allowable: fix the index or the network path and retry.",
    ),
    Rule(
        "INSTALL-HASH-PIN-MISMATCH",
        "Artifact does not match its hash pin",
        S.CRITICAL,
        "A --hash line in the requirements or a [[package]] hashes entry in the policy "
        "pins this package, and the file resolved for it has another sha256. A new upload "
        "under the same version, a different platform wheel or a tampered file all land "
        "here.",
        "Add the new sha256 to the pin after checking where the file came from.",
    ),
    Rule(
        "INSTALL-HASH-NOT-PINNED",
        "Artifact has no hash pin but the policy requires one",
        S.HIGH,
        '[hashes] require = "always" and neither the requirements (--hash) nor a '
        "[[package]] block pins this file.",
        "Pin it: add --hash=sha256:... to the requirement or hashes = [...] to a "
        "[[package]] block, or relax [hashes] require.",
    ),
    Rule(
        "NAME-DENIED",
        "Package name is on the deny list",
        S.CRITICAL,
        "The project name matches a [names] deny entry (a name or a glob such as "
        "'torch-*-optimized').",
        "Remove the entry from the policy layer that added it; a lower layer cannot undo "
        "an org deny.",
    ),
    Rule(
        "NAME-TYPOSQUAT",
        "Package name imitates a popular package",
        S.HIGH,
        "The name is one letter, one swap, a doubled letter or a separator away from one "
        "of the most downloaded PyPI projects, or it is a popular name with a prefix or "
        "suffix bolted on (torchvision-optimized). Typosquats rely on exactly these "
        "mistakes. It blocks for names you asked for; for a dependency (a name chosen by "
        "the maintainers of what you asked for) it is a low-severity warning.",
        'Add the name to [names] allow, or set [names] typosquat = "warn".',
        suspicious=True,
    ),
    Rule(
        "INDEX-NOT-ALLOWED",
        "Artifact comes from an index the policy does not allow",
        S.HIGH,
        "The file, or the index page pip found it on, is not under any [index] allowed "
        "URL. Dependency confusion attacks publish internal names on public indexes.",
        "Add the index URL to [index] allowed (org layer), or install from an allowed index.",
    ),
    Rule(
        "INDEX-CONFUSION",
        "Project offered by more than one index",
        S.HIGH,
        "More than one configured source (the primary index, an --extra-index-url, a "
        "find-links location) lists this project, and they do not all serve the chosen "
        "file with the same sha256: which file is installed depends on which index "
        "answered. That is dependency confusion: in the torchtriton attack a higher "
        "version on the public index silently won over the PyTorch nightly index. Files "
        "every source serves with the same advertised sha256 (a mirror) are not reported.",
        'Say which index the project may come from: [[package]] name = "..." '
        'index = "<index URL or find-links location>" (the other sources are then ignored '
        "for it).",
    ),
    Rule(
        "INDEX-YANKED",
        "Release was yanked",
        S.HIGH,
        "The index marks this file as yanked: its maintainers withdrew it, often because "
        "it was broken or compromised.",
        'Set [install] yanked = "warn" or "allow", or pin another version.',
    ),
    Rule(
        "INDEX-TOO-NEW",
        "Release is younger than the cooldown",
        S.HIGH,
        "The file was uploaded less than [install] min_age ago. Most malicious uploads "
        "are found and removed within days; a cooldown keeps them out.",
        "Wait, pin an older version, or add an [[exception]] for this package and "
        "version with a reason and an expiry date.",
    ),
    Rule(
        "INDEX-AGE-UNKNOWN",
        "Upload time unknown under a cooldown",
        S.HIGH,
        "[install] min_age is set, but the index gives no upload time for this file "
        "(no PEP 691 JSON / PEP 700 upload-time, a find-links directory or a local file). "
        "A cooldown that cannot be checked is not met.",
        _EXC,
    ),
    Rule(
        "SDIST-REFUSED",
        "Source distribution or local build refused",
        S.HIGH,
        "Installing this needs a build (an sdist, a source tree, a VCS URL or -e): "
        "building runs the project's setup code before anything could be scanned. "
        "[install] allow_sdist = false refuses it.",
        "Use a wheel, or set [install] allow_sdist = true where building is acceptable.",
    ),
    Rule(
        "INSTALL-UNVETTABLE",
        "Artifact cannot be fetched as a file to vet",
        S.HIGH,
        "pip resolved this requirement to a source tree or a VCS checkout, which has no "
        "single file that could be hashed, scanned and installed by hash.",
        "Build a wheel yourself, vet it with 'safe-pip scan', and install that wheel.",
    ),
    Rule(
        "INSTALL-IDENTITY-MISMATCH",
        "Requested name, file name and METADATA disagree",
        S.HIGH,
        "The name you asked for, the project and version in the file's name, and the Name and "
        "Version in the METADATA inside it must all be the same project and release. pip "
        "installs by METADATA, while people, deny lists and pins look at the name they typed "
        "or the file name: a file that calls itself something else inside is an artifact "
        "passing itself off as another project (or another release of it).",
        "Not allowable: the index serves a mislabelled file; report it to whoever runs the index.",
    ),
)
