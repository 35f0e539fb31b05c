"""The test suite's own PostgreSQL (tests/postgres.py, scripts/pg-throwaway) works: a server that answers, a
database that takes tables, and a stop that really stops it."""

import os

import psycopg
import pytest


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql", 1)


def test_throwaway_postgres_cluster(pg_helpers):
    pg = pg_helpers
    url = os.environ.get(pg.URL_ENV)
    stop = None
    if not url:
        if not pg.available():
            message = "PostgreSQL for the tests is missing (Debian's 'postgresql' package: make system-deps)"
            if pg.required():
                pytest.fail(f"{pg.REQUIRE_ENV} is set but {message}")
            pytest.skip(message)
        url, stop = pg.start_throwaway()
    assert url.startswith("postgresql+psycopg://")
    try:
        with psycopg.connect(_libpq(url), connect_timeout=10) as conn:
            (version,) = conn.execute("select version()").fetchone()
            assert version.startswith("PostgreSQL ")
            database = url.rsplit("/", 1)[-1].split("?", 1)[0]
            assert conn.execute("select current_database()").fetchone() == (database,)
            # A real table (PostgreSQL 15 no longer lets everyone create in schema public), rolled back after.
            conn.execute("create table pg_cluster_probe (id serial primary key, name text not null)")
            conn.execute("insert into pg_cluster_probe (name) values (%s), (%s)", ("甲", "乙"))
            rows = conn.execute("select name from pg_cluster_probe order by id").fetchall()
            assert rows == [("甲",), ("乙",)]
            conn.rollback()
    finally:
        if stop is not None:
            stop()
    if stop is not None:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(_libpq(url), connect_timeout=5).close()
