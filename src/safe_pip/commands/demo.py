"""safe-pip demo: watch the gate install a clean package and block a malicious one.

Everything happens in a throwaway folder on this machine: two real wheels, a package
index on 127.0.0.1, a fresh virtual environment, and two runs of the real
safe-pip install with the built-in default policy. No network is needed and nothing
outside the folder changes. Exit 0 when the gate behaved as designed (the clean package
installed, the attack blocked and never run); 2 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from safe_pip.errors import EXIT_ERROR, EXIT_OK


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the throwaway folder (index, venv, audit log) and print where it is",
    )


def run(args: argparse.Namespace) -> int:
    from safe_pip.demo import scenario
    from safe_pip.report.text import use_colour

    say = scenario.Narrator(sys.stdout, use_colour(sys.stdout))
    outcome = scenario.run(say, keep=args.keep)
    if outcome.as_designed:
        say.say("The gate behaved as designed. Next, in your own environment:")
        say.say("  safe-pip install PACKAGE      vet and install, as you would with pip")
        say.say("  safe-pip scan PATH            scan model files and wheels you already have")
        return EXIT_OK
    failed = "; ".join(text for ok, text in outcome.checks if not ok)
    print(f"safe-pip: error: the demo did not behave as designed: {failed}", file=sys.stderr)
    return EXIT_ERROR
