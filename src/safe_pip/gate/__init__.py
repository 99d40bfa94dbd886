"""The install gate: one module per stage, run in order by :mod:`safe_pip.gate.pipeline`.

inputs -> resolve -> fetch -> verify -> build -> scan -> decide -> install, with the journal
recording intent and outcome around the install. No argparse and no printing here: commands
hand in parsed arguments and a progress sink, and get a typed result back.
"""
