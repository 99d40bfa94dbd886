"""``safe-pip serve``: one vetting index in front of every client of an organisation.

Shims on laptops are bypassed by uv, poetry, an IDE or a Dockerfile; an index is not. This
package is a PEP 503 / PEP 691 simple index (Starlette, run by uvicorn or gunicorn) in front
of one or more upstream indexes. The first request for a file vets it with the install gate's
own code (:mod:`safe_pip.gate.vet`: fetch, verify, scan, decide) and every later request
serves the vetted bytes from a content-addressed store, or refuses them with the rule ids.

Modules: ``config`` (settings and tokens), ``db`` (verdicts, claims, audit records and fleet
inventory in SQLite or PostgreSQL), ``upstream`` (what the upstream indexes offer, with the
gate's index-priority rule), ``vetting`` (scan-once across processes and replicas),
``pages`` (PEP 503 HTML and PEP 691 JSON), ``app`` (the routes), ``push`` (the client side of
``safe-pip audit --push``; needs nothing of the server's extra).

Nothing here is imported by the rest of safe-pip, and only ``app`` and ``db`` need the
``server`` extra (Starlette, uvicorn, psycopg).
"""
