"""Inventory of an installed environment, read from disk and never imported.

``site`` finds the site-packages folders of a target interpreter (running it
only with ``-I -S``, so no ``.pth`` file or ``sitecustomize`` executes);
``dists`` reads ``*.dist-info`` METADATA and RECORD; ``record`` checks every
installed file against its RECORD hash and size; ``models`` finds model
artifacts by content and scans them; ``audit`` puts it together and applies
the policy.
"""
