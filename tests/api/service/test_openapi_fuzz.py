"""Schemathesis against the service's own OpenAPI schema: generated requests to every operation, as each kind of
caller, and not one server error (5xx), on SQLite and on PostgreSQL (which refuses what SQLite stores: text longer
than its column, a NUL, an integer beyond its type)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from api.service.app import create_app

from service_city import make_city


def test_no_server_errors(any_service):
    """Every operation, ~15 generated requests each, as the municipal key, a school admin and a station."""
    from fastapi.testclient import TestClient

    service = any_service

    app = create_app(service=service)
    with TestClient(app) as client:
        city = make_city(client, service)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    callers = (city.municipal, city.a.admin, city.a.station)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            for headers in callers:
                response = case.call(headers=headers)
                assert response.status_code < 500, (f"{case.method} {case.formatted_path} as {list(headers)[0]}: "
                                                    f"{response.status_code} {response.text[:500]}")

        no_server_error()


def test_schema_documents_every_route_with_security(client):
    document = client.get("/api/v1/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schemes)
    open_routes = {("/api/v1/health", "get"), ("/api/v1/auth/token", "post")}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) not in open_routes:
                assert operation.get("security"), f"{method.upper()} {path} documents no authentication"
