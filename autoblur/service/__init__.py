"""``autoblur serve``: the removal service (HTTP API, persistent queue, workers, review page).

Needs the ``service`` extra (FastAPI, uvicorn, Jinja2).
"""
