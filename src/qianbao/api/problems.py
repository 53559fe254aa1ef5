"""RFC 9457 problem+json for every refusal, in the request's language.

Pages get the same code and message rendered as an HTML page instead (see `wants_html`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qianbao.errors import CATALOGUE, QianbaoError
from qianbao.i18n import translate

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://qianbao.dev/problems/"

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def request_lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def problem_body(
    code: str, status: int, lang: str, rid: str, instance: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    params = params or {}
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
        "title": translate("problem.title", lang),
        "status": status,
        "code": code,
        "detail": translate(f"error.{code}", lang, **params),
        "instance": instance,
        "request_id": rid,
    }
    safe_params = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | None)}
    if safe_params:
        body["params"] = safe_params
    return body


def problem_response(
    request: Request, code: str, status: int, params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
) -> Response:
    lang = request_lang(request)
    if wants_html(request):
        from qianbao.web.render import render_error_page

        return render_error_page(request, code, status, params or {}, headers=headers)
    body = problem_body(code, status, lang, request_id(request), request.url.path, params)
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def wants_html(request: Request) -> bool:
    """Browsers navigating pages get HTML; the API and programmatic clients get problem+json."""
    path = request.url.path
    if path.startswith("/api/") or path == "/api" or path in {"/healthz", "/readyz", "/metrics"}:
        return False
    if request.headers.get("hx-request"):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" in accept


async def qianbao_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QianbaoError)
    headers = {"Retry-After": str(exc.params["retry_after"])} if "retry_after" in exc.params else None
    challenge = getattr(request.state, "www_authenticate", None)
    if exc.status == 401 and challenge:
        # A bearer-token endpoint (qianbao.api.customer_auth) says how to authenticate (RFC 6750).
        headers = {**(headers or {}), "WWW-Authenticate": challenge}
    return problem_response(request, exc.code, exc.status, exc.params, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(request, "MALFORMED_JSON", 400)
    fields = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "type": e.get("type"),
            "message": e.get("msg"),
        }
        for e in errors
    ]
    return problem_response(request, "VALIDATION_FAILED", 422, extra={"errors": fields})


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR")
    status = exc.status_code if code in CATALOGUE else 500
    headers = dict(exc.headers) if exc.headers else None
    params: dict[str, Any] = {}
    if code == "PAYLOAD_TOO_LARGE":
        params["limit"] = request.app.state.settings.max_body_bytes
    return problem_response(request, code, status, params, headers=headers)
