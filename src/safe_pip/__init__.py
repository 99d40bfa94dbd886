"""safe-pip: an install-time gatekeeper for Python packages.

Every artifact pip would install is downloaded once into quarantine, verified
against the organisation's policy, scanned (pickles, PyTorch checkpoints,
wheels) without ever being executed, and only then installed by hash.
"""

__version__ = "0.1.0"
