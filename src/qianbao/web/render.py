"""Template rendering with the request's language, money and time formatting built in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from qianbao.i18n import babel_locale, translate
from qianbao.money import format_fen

TEMPLATES_PATH = Path(__file__).parent / "templates"
STATIC_PATH = Path(__file__).parent / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")

templates = Jinja2Templates(directory=str(TEMPLATES_PATH))


def local_time(value: datetime, lang: str, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Stored times are UTC; people read them in Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return format_datetime(value.astimezone(SHANGHAI), fmt, locale=babel_locale(lang))


def csrf_input(request: Request) -> Markup:
    """The hidden CSRF field for a POST form: the token the auth dependency (or a sign-in page) put on the
    request. A form on a page without one is a bug, so it fails loudly instead of posting a form that
    will be refused."""
    token = getattr(request.state, "csrf_token", None)
    if not token:
        raise RuntimeError("csrf_input() on a page without a session or sign-in token (request.state.csrf_token)")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


def page_context(request: Request, **extra: Any) -> dict[str, Any]:
    lang: str = getattr(request.state, "lang", "zh-CN")
    other = "en" if lang == "zh-CN" else "zh-CN"
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "request": request,
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh-CN" else "en",
        "t": lambda key, **params: translate(key, lang, **params),
        "money": lambda fen, symbol=True: format_fen(fen, lang, symbol=symbol),
        "local_time": lambda value, fmt="yyyy-MM-dd HH:mm": local_time(value, lang, fmt),
        "switch_lang_url": f"/lang/{other}?next={quote(here, safe='')}",
        "request_id": getattr(request.state, "request_id", ""),
        # Set by qianbao.web.auth: the signed-in staff member (role area) and the form token.
        "staff": getattr(request.state, "staff", None),
        "csrf_input": lambda: csrf_input(request),
        **extra,
    }


def render(request: Request, template: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, page_context(request, **extra), status_code=status_code)


def render_error_page(
    request: Request, code: str, status: int, params: dict[str, Any], headers: dict[str, str] | None = None
) -> HTMLResponse:
    lang = getattr(request.state, "lang", "zh-CN")
    response = render(
        request, "error.html", status_code=status,
        code=code, status=status, message=translate(f"error.{code}", lang, **params),
    )
    if headers:
        response.headers.update(headers)
    return response
