"""Request-scoped machinery as plain ASGI middleware: request id, language, body limit, crash guard.

Plain ASGI (not BaseHTTPMiddleware) so that a streamed body can be cut off at the limit and so that
an unhandled exception still gets a coded problem with the request id instead of a bare 500.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from http.cookies import SimpleCookie
from typing import Any

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qianbao.i18n import negotiate, normalize, translate

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = structlog.get_logger("qianbao.http")


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def resolve_language(scope: Scope, default: str) -> str:
    """Cookie `lang` (the page switch) beats Accept-Language; a ?lang= query beats both."""
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "lang" and normalize(value):
            return normalize(value)  # type: ignore[return-value]
    cookie_header = _header(scope, b"cookie")
    if cookie_header:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except Exception:
            cookie = SimpleCookie()
        if "lang" in cookie and normalize(cookie["lang"].value):
            return normalize(cookie["lang"].value)  # type: ignore[return-value]
    return negotiate(_header(scope, b"accept-language"), default)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, default_language: str,
                 body_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Larger limits for the few paths that take uploads (path -> bytes), e.g. the ID photos.
        self.body_limits = dict(body_limits or {})
        self.default_language = default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        rid = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        lang = resolve_language(scope, self.default_language)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["lang"] = lang
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": None}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                headers.append((b"content-language", lang.encode()))
                message["headers"] = headers
            await send(message)

        declared = _header(scope, b"content-length")
        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._problem(send_wrapper, 413, "PAYLOAD_TOO_LARGE", lang, rid, scope,
                                    {"limit": limit})
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge
                return message

            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLarge:
            if status_holder["status"] is None:
                await self._problem(send_wrapper, 413, "PAYLOAD_TOO_LARGE", lang, rid, scope,
                                    {"limit": limit})
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"), method=scope.get("method"))
            if status_holder["status"] is None:
                await self._problem(send_wrapper, 500, "INTERNAL_ERROR", lang, rid, scope, {})
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    @staticmethod
    async def _problem(
        send: Send, status: int, code: str, lang: str, rid: str, scope: Scope, params: dict[str, Any]
    ) -> None:
        from qianbao.api.problems import PROBLEM_MEDIA_TYPE, problem_body

        body = json.dumps(
            problem_body(code, status, lang, rid, scope.get("path", ""), params), ensure_ascii=False
        ).encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})


__all__ = ["RequestContextMiddleware", "resolve_language", "translate"]
