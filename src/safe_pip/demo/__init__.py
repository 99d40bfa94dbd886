"""``safe-pip demo``: a self-contained first run of the gate (see :mod:`.scenario`)."""
