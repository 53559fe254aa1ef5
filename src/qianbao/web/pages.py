"""Page routes of the three shells and the language switch."""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from qianbao.i18n import normalize
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def portal(request: Request) -> HTMLResponse:
    return render(request, "portal.html")


@router.get("/app", response_class=HTMLResponse)
def customer_home(request: Request) -> HTMLResponse:
    return render(request, "customer/home.html", section="home")


@router.get("/teller", response_class=HTMLResponse)
def teller_desk(request: Request) -> HTMLResponse:
    return render(request, "teller/desk.html", section="desk")


@router.get("/ops", response_class=HTMLResponse)
def ops_dashboard(request: Request) -> HTMLResponse:
    return render(request, "ops/dashboard.html", section="dashboard")


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "/") -> RedirectResponse:
    lang = normalize(code) or "zh-CN"
    # Only same-site paths: an open redirect here would be a phishing aid.
    target = next if next.startswith("/") and not next.startswith("//") and not urlparse(next).netloc else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax", httponly=False, path="/")
    return response
