"""``python -m safe_pip``: the same entry point as the ``safe-pip`` script."""

import sys

from safe_pip.cli import main

sys.exit(main())
