"""The yuejuan service: scanner stations upload, teachers review and download, the city's system aggregates.

Modules: :mod:`settings` (one pydantic-settings class), :mod:`db` and :mod:`models` (SQLAlchemy 2, Alembic
migrations in ``migrations/``), :mod:`storage` (content-addressed page files), :mod:`security` (API keys,
passwords, tokens), :mod:`deps` (FastAPI dependencies), :mod:`jobs` and :mod:`worker` (durable job table with
leases, local processes or Dask), ``routes/`` (the HTTP API under /api/v1), :mod:`app` (the application).
"""
