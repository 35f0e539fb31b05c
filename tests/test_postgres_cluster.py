"""The test suite's own PostgreSQL (tests/postgres.py, scripts/pg-throwaway) works: a server that answers, a
database that takes tables, and a stop that really stops it."""

import importlib.util
import os
import sys
from pathlib import Path

import psycopg
import pytest


def _load_pg_helpers():
    # tests/ is not a package, so load tests/postgres.py by path, under a name nothing else uses.
    name = "yuejuan_tests_postgres"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("postgres.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


pg = _load_pg_helpers()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql", 1)


def test_throwaway_postgres_cluster():
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
