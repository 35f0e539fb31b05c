"""Fixtures of the service tests: a fresh service per test (SQLite by default, PostgreSQL on request), a city
with two schools and every kind of caller, and scans made by the project's own simulator."""

from __future__ import annotations

import os
import uuid

import pytest

from api.service.app import create_app
from api.service.context import open_service
from api.service.settings import Settings

from service_city import City, make_city  # noqa: F401 (City: the fixture's type)


@pytest.fixture(scope="session")
def pg_server_url(pg_helpers):
    """The URL of a PostgreSQL server for the tests: ``YUEJUAN_TEST_DATABASE_URL`` (what .ci/run starts), else
    a throw-away cluster of our own; skipped when neither can be had, unless ``YUEJUAN_REQUIRE_POSTGRES``."""
    pg = pg_helpers
    url = os.environ.get(pg.URL_ENV)
    if url:
        yield url
        return
    if not pg.available():
        if pg.required():
            pytest.fail(f"{pg.REQUIRE_ENV} is set but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (make system-deps installs it)")
    url, stop = pg.start_throwaway()
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def pg_url(pg_server_url):
    """A fresh, empty PostgreSQL database for one test, dropped after it."""
    import psycopg

    admin_url = pg_server_url.replace("postgresql+psycopg", "postgresql", 1)
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_service(request, tmp_path):
    """A migrated service with no background workers, on SQLite, then on PostgreSQL."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    service = open_service(Settings(data_dir=tmp_path / "data", database_url=url, workers=0, _env_file=None))
    yield service
    service.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings of a service with its data under tmp_path, SQLite, no background workers."""
    return Settings(data_dir=tmp_path / "data", workers=0, _env_file=None)


@pytest.fixture
def service(settings):
    svc = open_service(settings)
    yield svc
    svc.close()


@pytest.fixture
def client(service):
    from fastapi.testclient import TestClient

    with TestClient(create_app(service=service)) as test_client:
        yield test_client


@pytest.fixture
def city(client, service) -> City:
    return make_city(client, service)


@pytest.fixture(scope="session")
def simulated_scans(tmp_path_factory):
    """Six simulated cn-a4-55 sheets as JPEG files with their truth, students of 2 classes (seed fixed)."""
    from sample_sheets.simulate import write_batch

    folder = tmp_path_factory.mktemp("scans")
    manifest = write_batch("cn-a4-55", folder, count=6, seed=4242, profile="typical", fmt="jpg", classes=2)
    return folder, manifest
