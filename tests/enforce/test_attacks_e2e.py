"""Every spelling of issue 18 (and the variants found since), in real bash, zsh and fish.

Each attack runs in its own shell process against a venv protected by safe-pip's hook,
with the venv "activated" (its bin first on PATH) as a developer's or an IDE's would be,
and no shell functions or shims at all: the hook alone must stop it. The payload is an
sdist whose setup.py writes a marker if anything builds it. After each attack: no marker,
nothing installed, and safe-pip's own words on the terminal. Where pip itself does not run
the command (pip 26.3 refuses ``install -V`` as a usage error), nothing runs and nothing lands.

Tools that run pip themselves are here too: pipenv runs its own vendored copy of pip
(imported as ``pipenv.patched.pip``) with the target environment's interpreter, from
pipenv's own installation; a zipapp pip (``pip.pyz``) is another copy of pip the venv's
interpreter can run.

bash runs the full list with pip 23.2 and pip 26.3; zsh and fish run, with pip 26.3, every
spelling that goes through the shell's own lookup or syntax (the interpreter spellings by
full path behave the same whichever shell starts them, and each gate run costs seconds).
"""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.enforce.conftest import run_shell
from tests.enforce.hooked import Managed, manage

# {pip} = pip on PATH; {V} = the venv; {SP} = its site-packages; {P} = the payload sdist;
# {PIPENV} = pipenv's vendored pip (a test dependency, never installed in {V}); {PYZ} = a
# zipapp of the venv's own pip.
ATTACKS: dict[str, str] = {
    "pip": "pip install {P}",
    "full path": "{V}/bin/pip install {P}",
    "pip3.N": "{V}/bin/pip3 install {P}",
    "python -m pip": "python -m pip install {P}",
    "-Im pip": "{V}/bin/python -Im pip install {P}",
    "-Impip": "{V}/bin/python -Impip install {P}",
    "-sEm pip": "{V}/bin/python -sEm pip install {P}",
    "-m pip.__pip-runner__": "{V}/bin/python -m pip.__pip-runner__ install {P}",
    "python <site>/pip": "{V}/bin/python {SP}/pip install {P}",
    "python <site>/pip/__main__.py": "{V}/bin/python {SP}/pip/__main__.py install {P}",
    "runpy": (
        "{V}/bin/python -c \"import runpy, sys; sys.argv[1:] = ['install', '{P}']; "
        "runpy.run_module('pip', run_name='__main__')\""
    ),
    "pip internals": (
        '{V}/bin/python -c "import sys; from pip._internal.cli.main import main; '
        "sys.exit(main(['install', '{P}']))\""
    ),
    "install -V": "pip install -V {P}",
    "install --version": "pip install --version {P}",
    "install --log --help": "pip install --log --help {P}",
    "--time 5": "pip --time 5 install {P}",
    "--dry-run": "pip install --dry-run {P}",
    "command pip": "command pip install {P}",
    "env pip": "env pip install {P}",
    "exec pip": "exec pip install {P}",
    "which pip": "{WHICH} install {P}",
    "xargs pip": "echo {P} | xargs pip install",
    "make": "make -s -f {MK}",
    "download": "pip download -d dl {P}",
    "wheel": "pip wheel -w wh {P}",
    "lock": "pip lock -o pylock.toml {P}",
    "pipenv's vendored pip": "{V}/bin/python {PIPENV}/__pip-runner__.py install {P}",
    "pip.pyz": "{V}/bin/python {PYZ} install {P}",
}
WHICH = {"bash": "$(which pip)", "zsh": "$(which pip)", "fish": "set p (which pip); $p"}
# Where pip itself refuses the line before anything runs: its exit code and words. pip 26.3
# has no -V/--version inside install (pip 23.2 accepts them and installs; the differential
# test covers both readings); pip 23.2 has no lock command.
PIP_REFUSES = {
    ("26.3", "install -V"): (2, "no such option"),
    ("26.3", "install --version"): (2, "no such option"),
    ("23.2.1", "lock"): (1, "unknown command"),
}


PYZ_MAIN = "import sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"


def _vendored_pip() -> Path:
    """pipenv's copy of pip, found without importing pipenv."""
    spec = importlib.util.find_spec("pipenv")
    assert spec is not None and spec.submodule_search_locations, "pipenv (test extra) missing"
    return Path(next(iter(spec.submodule_search_locations))) / "patched" / "pip"


def _pyz(m: Managed, tmp_path: Path) -> Path:
    """The venv's own pip as a zipapp whose ``__main__`` runs pip's main (as pip.pyz does)."""
    target = tmp_path / "pip.pyz"
    if not target.exists():
        with zipfile.ZipFile(target, "w") as pyz:
            pyz.writestr("__main__.py", PYZ_MAIN)
            for path in sorted((m.site / "pip").rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    pyz.write(path, path.relative_to(m.site).as_posix())
    return target


def _attack(shell: str, m: Managed, name: str, tmp_path: Path) -> str:
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"all:\n\tpip install {m.payload}\n")
    return ATTACKS[name].format(
        pip="pip",
        V=m.venv,
        SP=m.site,
        P=m.payload,
        WHICH=WHICH[shell],
        MK=makefile,
        PIPENV=_vendored_pip(),
        PYZ=_pyz(m, tmp_path) if name == "pip.pyz" else "",
    )


def _run_all(
    shell: str, m: Managed, pip_version: str, tmp_path: Path, names: Sequence[str] = tuple(ATTACKS)
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here; its attack tests are skipped")
    failures = []
    for name in names:
        r = run_shell([shell, "-c", _attack(shell, m, name, tmp_path)], m.env(), tmp_path)
        said = r.stdout + r.stderr
        if (pip_version, name) in PIP_REFUSES:
            code, words = PIP_REFUSES[pip_version, name]
            ok = r.code == code and words in said
        else:
            # make reports a failed recipe as its exit 2, xargs a failed command as 123
            ok = (
                r.code in {"make": (1, 2), "xargs pip": (1, 123)}.get(name, (1,))
                and "goes through the safe-pip gate" in said
                and ("blocked by policy" in said or "refused" in said)
            )
        if not ok or m.marker.exists():
            failures.append((name, r.code, said[-600:]))
    assert not failures, failures
    assert m.clean()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["pip23", "pip26"])
def test_bash(which: str, request: pytest.FixtureRequest, tmp_path: Path, home: Path) -> None:
    python: Path = request.getfixturevalue(which)
    m = manage(python, tmp_path, home)
    _run_all("bash", m, "23.2.1" if which == "pip23" else "26.3", tmp_path)


SHELL_FORMS = (
    "pip", "python -m pip", "install --log --help", "--time 5", "command pip", "env pip",
    "exec pip", "which pip", "xargs pip", "make", "download", "wheel", "-Impip",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish(shell: str, pip26: Path, tmp_path: Path, home: Path) -> None:
    m = manage(pip26, tmp_path, home)
    _run_all(shell, m, "26.3", tmp_path, SHELL_FORMS)
