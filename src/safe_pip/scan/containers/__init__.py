"""Containers: zip (read as torch and pip read it), tar and compressed streams.

Each reader hands every member back to ``core.dispatch.scan_blob``; a member that cannot be
read is a finding, never a silent skip.
"""
