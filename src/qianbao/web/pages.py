"""Page routes of the three shells and the language switch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babel.dates import format_date
from babel.numbers import format_compact_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from qianbao.i18n import babel_locale, normalize
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import SHANGHAI, local_time, render

router = APIRouter(include_in_schema=False)

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class TierSummary:
    """What a visitor is told about one wallet tier; limits in fen, None where there is no limit."""

    tier: int
    balance_cap: int | None
    single_payment: int | None
    daily_outflow: int | None
    annual_outflow: int | None


_YUAN = 100
# The defaults of SPEC §2. The live figures belong to the wallets policy table that the ops console edits;
# when that table exists, `tier_summaries` reads it instead and this constant goes away.
DEFAULT_TIERS: tuple[TierSummary, ...] = (
    TierSummary(4, 10_000 * _YUAN, 2_000 * _YUAN, 5_000 * _YUAN, 50_000 * _YUAN),
    TierSummary(3, 20_000 * _YUAN, 5_000 * _YUAN, 10_000 * _YUAN, None),
    TierSummary(2, 500_000 * _YUAN, 50_000 * _YUAN, 100_000 * _YUAN, None),
    TierSummary(1, None, None, None, None),
)


def tier_summaries() -> tuple[TierSummary, ...]:
    return DEFAULT_TIERS


def yuan_compact(fen: int, lang: str) -> str:
    """Whole yuan the way product copy writes limits: 1万 / 2000 in Chinese, 10K / 2K in English."""
    return format_compact_decimal(fen // _YUAN, locale=babel_locale(lang), fraction_digits=1)


def today_text(lang: str, now: datetime | None = None) -> str:
    """Today's date in Asia/Shanghai, written out in full (2025年1月3日星期五 / Friday, January 3, 2025)."""
    moment = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    return format_date(moment.date(), format="full", locale=babel_locale(lang))


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


# (catalogue key, icon, href) — the keys are customer.action.<key>.
CUSTOMER_QUICK_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("scan", "scan", "/app/scan"),
    ("paycode", "paycode", "/app/paycode"),
    ("topup", "topup", "/app/topup"),
    ("transfer", "transfer", "/app/transfer"),
    ("bills", "bills", "/app/bills"),
    ("parcel", "parcel", "/app/parcels"),
    ("withdraw", "cash", "/app/withdraw"),
    ("cards", "card", "/app/cards"),
)

# (nav key, icon, href) — the operator's work queues, each shown with its own empty state until it has work.
OPS_WORK_QUEUES: tuple[tuple[str, str, str], ...] = (
    ("kyc", "idcard", "/ops/kyc"),
    ("risk", "alert", "/ops/risk"),
    ("tickets", "chat", "/ops/tickets"),
    ("recon", "checklist", "/ops/recon"),
)


@router.get("/", response_class=HTMLResponse)
def portal(request: Request) -> HTMLResponse:
    return render(request, "portal.html")


@router.get("/app", response_class=HTMLResponse)
def customer_home(request: Request) -> HTMLResponse:
    from qianbao.web.customer_common import home_context  # the signed-in holder's wallet, if any

    lang = _lang(request)
    return render(
        request, "customer/home.html", section="home",
        quick_actions=CUSTOMER_QUICK_ACTIONS,
        tiers=tier_summaries(),
        yuan_compact=lambda fen: yuan_compact(fen, lang),
        **home_context(request),
    )


@router.get("/teller", response_class=HTMLResponse)
def teller_desk(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    from qianbao.web.teller_cash import day_view  # the teller's counter day and drawer (qianbao.counter)

    with request.app.state.db.read() as session:
        day = day_view(session, staff)
    return render(request, "teller/desk.html", section="desk", today=today_text(_lang(request)), day=day)


@router.get("/ops", response_class=HTMLResponse, dependencies=[Depends(requires("ops.read"))])
def ops_dashboard(request: Request) -> HTMLResponse:
    from qianbao.web.ops_dashboard import dashboard_figures  # counted from the database on every visit

    return render(
        request, "ops/dashboard.html", section="dashboard",
        today=today_text(_lang(request)), work_queues=OPS_WORK_QUEUES, figures=dashboard_figures(request),
    )


@dataclass(frozen=True)
class StatusCheck:
    name: str
    ok: bool
    detail: str


@router.get("/ops/system-status", response_class=HTMLResponse, dependencies=[Depends(requires("ops.read"))])
def ops_system_status(request: Request) -> HTMLResponse:
    """The readiness checks as an htmx fragment for the ops dashboard; /readyz stays the one source of truth."""
    from qianbao.api.health import readyz

    body = json.loads(bytes(readyz(request).body))
    checks = [
        StatusCheck(name, detail == "ok", detail)
        for name, detail in body.get("checks", {}).items()
    ]
    if "migrations" not in body.get("checks", {}):
        # readyz skips the migration check when the database is down; say so rather than hide the line.
        checks.append(StatusCheck("migrations", False, "not checked"))
    return render(
        request, "ops/_system_status.html", checks=checks,
        checked_at=local_time(datetime.now(UTC), _lang(request), "HH:mm:ss"),
    )


# Browsers drop tabs and newlines inside URLs and read "\" as "/", so "/\evil.example" or "/\t/evil.example"
# would leave the site. Only plain printable paths without those are allowed back.
_UNSAFE_NEXT = re.compile(r"[\\\x00-\x20\x7f]")


def safe_next(target: str | None) -> str:
    """The same-site path to return to after switching language, or "/" when `target` could leave the site."""
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE_NEXT.search(target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.query:
        # A ?lang= left in the page address would outrank the cookie just set and undo the switch.
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
        target = urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))
    return target


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "/") -> RedirectResponse:
    lang = normalize(code) or "zh-CN"
    # Only same-site paths: an open redirect here would be a phishing aid.
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie("lang", lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=False, path="/")
    return response
