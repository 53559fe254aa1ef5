"""Liveness, readiness (database reachable, migrations current) and Prometheus metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qianbao.app import create_app
from qianbao.db import Database


def test_healthz_answers_ok(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_readyz_is_unavailable_when_migrations_are_behind(settings, empty_database_url) -> None:
    db = Database(empty_database_url)
    try:
        with TestClient(create_app(settings, db)) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["migrations"].startswith("behind")
    finally:
        db.dispose()


def test_readyz_is_unavailable_when_the_database_is_unreachable(settings) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings, db)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")


def test_metrics_count_requests_by_route_template(client) -> None:
    client.get("/healthz")
    client.get("/api/does-not-exist")
    text = client.get("/metrics").text
    assert 'qianbao_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "qianbao_http_request_duration_seconds_bucket" in text
