"""Every HTTP error is RFC 9457 problem+json with a stable code, in the request's language."""

from __future__ import annotations

import io
import json

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from qianbao.errors import QianbaoError
from qianbao.logging import configure_logging

PROBLEM = "application/problem+json"


class Payment(BaseModel):
    amount_fen: int
    note: str


@pytest.fixture
def probe_client(app):  # type: ignore[no-untyped-def]
    """The real app plus a few probe routes that exercise each error path."""
    router = APIRouter(prefix="/api/probe")

    @router.post("/echo")
    def echo(body: Payment) -> dict:
        return body.model_dump()

    @router.get("/refuse")
    def refuse() -> dict:
        raise QianbaoError("IDEMPOTENCY_KEY_REUSED")

    @router.get("/limit")
    def limit() -> dict:
        raise QianbaoError("PAYLOAD_TOO_LARGE", limit=10)

    @router.get("/crash")
    def crash() -> dict:
        raise RuntimeError("secret internal detail 110105194912310021")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_unknown_api_route_is_a_coded_404(client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "NOT_FOUND"
    assert body["status"] == 404
    assert body["detail"] == "您要找的内容不存在。"
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_a_coded_405(client) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_malformed_json_is_a_coded_400(probe_client) -> None:
    response = probe_client.post(
        "/api/probe/echo", content=b'{"amount_fen": 1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "MALFORMED_JSON"


def test_validation_errors_use_the_same_format_and_name_the_fields(probe_client) -> None:
    response = probe_client.post("/api/probe/echo", json={"amount_fen": "lots"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert {e["field"] for e in body["errors"]} == {"amount_fen", "note"}


def test_oversized_declared_body_is_a_coded_413(probe_client, settings) -> None:
    response = probe_client.post(
        "/api/probe/echo", content=b"x" * (settings.max_body_bytes + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_oversized_streamed_body_is_a_coded_413(probe_client, settings) -> None:
    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    response = probe_client.post("/api/probe/echo", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_domain_refusal_carries_its_code_status_and_message(probe_client) -> None:
    response = probe_client.get("/api/probe/refuse")
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert response.json()["detail"] == "该请求编号已用于另一笔不同的请求。"


def test_message_follows_accept_language(probe_client) -> None:
    response = probe_client.get("/api/probe/limit", headers={"accept-language": "en-GB,en;q=0.9"})
    body = response.json()
    assert body["detail"] == "The request body is too large (limit 10 bytes)."
    assert body["params"] == {"limit": 10}
    assert response.headers["content-language"] == "en"


def test_unhandled_exception_is_a_coded_500_without_internals(probe_client) -> None:
    response = probe_client.get("/api/probe/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_every_response_carries_a_request_id(client) -> None:
    ok = client.get("/healthz")
    missing = client.get("/api/nothing")
    assert len(ok.headers["x-request-id"]) >= 16
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert ok.headers["x-request-id"] != missing.headers["x-request-id"]


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client) -> None:
    kept = client.get("/healthz", headers={"x-request-id": "branch-0101-req-42"})
    assert kept.headers["x-request-id"] == "branch-0101-req-42"
    replaced = client.get("/healthz", headers={"x-request-id": "<script>alert(1)</script>"})
    assert replaced.headers["x-request-id"] != "<script>alert(1)</script>"


def test_log_lines_carry_the_request_id_as_json(probe_client) -> None:
    stream = io.StringIO()
    configure_logging(json=True, level="INFO", stream=stream)
    try:
        response = probe_client.get("/api/probe/crash")
    finally:
        configure_logging(json=False, level="WARNING")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    rid = response.headers["x-request-id"]
    events = {line["event"] for line in lines if line.get("request_id") == rid}
    assert {"unhandled_error", "request"} <= events


def test_unknown_page_is_an_html_page_with_the_code(client) -> None:
    response = client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "NOT_FOUND" in response.text
    assert response.headers["x-request-id"] in response.text


def test_openapi_docs_are_served_under_api(client) -> None:
    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Qianbao API"
