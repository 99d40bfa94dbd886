"""The scanner's core: content sniffing, dispatch to readers, limits, and the scan context.

Readers in ``containers``, ``formats`` and ``dist`` call back into ``core.dispatch.scan_blob``
for nested members; nothing here knows a file format beyond its magic bytes.
"""
