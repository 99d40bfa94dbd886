"""One module per sub-command: ``register`` adds its arguments, ``run`` does the work.

Command modules import their heavy dependencies inside ``run`` so that
``safe-pip --help`` and a scan of a small file start fast.
"""
