"""The merchant's own pages (`/m`): sign-in, orders, an order with its refunds and notifications, a cashier's
checkout, and the public checkout page the shop turns toward its customer (docs/merchants.md, "Pages").

Sign-in: merchant number + the portal password an operator handed over at creation (argon2id, the
credentials package's lockout: 5 wrong → 15 minutes). The session is credentials' own (idle 15 minutes,
12 hours at most) under a cookie of its own, `qb_merchant` (`__Host-` in production), so a merchant's
session is never read as a customer's or a staff member's. Every form carries the CSRF token.

    GET  /m/login, POST /m/login, POST /m/logout
    GET  /m                                   orders, newest first; a form for a new checkout (portal order)
    POST /m/orders                            new portal order → its checkout page
    GET  /m/orders/{order_token}              the order, refunds, notifications; refund / confirm / close
    POST /m/orders/{order_token}/refund|confirm|close
    GET  /m/checkout/{token}                  public: QR + amount; polls /status every 2 s until paid
    GET  /m/checkout/{token}/status           public htmx fragment
    GET  /m/checkout/{token}/qr.svg           public: the dynamic QR image

Access: "merchant.read" / "merchant.act" (qianbao.access); a merchant reaches only its own orders (another
merchant's order is ORDER_NOT_FOUND). The checkout page is public on purpose: it is found only by the
order's unguessable 128-bit token and shows what the QR code itself shows (merchant name, amount).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import access, audit, credentials, merchants
from qianbao.credentials import CookieSpec, Principal
from qianbao.credentials.sessions import SESSION_COOKIE
from qianbao.errors import QianbaoError
from qianbao.merchants.models import PAID, Merchant
from qianbao.money import parse_yuan
from qianbao.web import auth
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

MERCHANT_COOKIE = "qb_merchant"
LOGIN_PATH = auth.MERCHANT_LOGIN_PATH
POLL = "every 2s"


def merchant_cookie(request: Request) -> CookieSpec:
    base = credentials.session_cookie(auth.settings_of(request))
    return replace(base, name=base.name.removesuffix(SESSION_COOKIE) + MERCHANT_COOKIE)


def _db(request: Request) -> Any:
    return request.app.state.db


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@dataclass(frozen=True)
class MerchantContext:
    id: int
    merchant_no: str
    name_zh: str
    name_en: str
    actor: access.Actor
    csrf_token: str
    session_public_id: str

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-CN" else self.name_en

    @property
    def audit_actor(self) -> audit.Actor:
        return audit.Actor.merchant(self.id)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _to_login(request: Request, expired: bool) -> auth.LoginRequired:
    target = _here(request) if request.method in auth.SAFE_METHODS else "/m"
    return auth.LoginRequired(f"{LOGIN_PATH}?next={quote(target, safe='')}" + ("&expired=1" if expired else ""))


def _merchant_dependency(action: str) -> Any:
    def dependency(request: Request, csrf: str | None = Depends(auth.submitted_csrf)) -> MerchantContext:
        token = request.cookies.get(merchant_cookie(request).name)
        expired = False
        context: MerchantContext | None = None
        csrf_record: Any = None
        if token:
            with _db(request).transaction() as session:
                try:
                    record = credentials.require_session(session, token, ip=auth.client_ip(request),
                                                         settings=auth.settings_of(request))
                except QianbaoError as exc:
                    expired = exc.code == "SESSION_EXPIRED"
                    record = None
                if record is not None and record.principal_type == "merchant":
                    merchant = session.get(Merchant, record.principal_id)
                    if merchant is not None and merchant.status == "active":
                        context = MerchantContext(
                            merchant.id, merchant.merchant_no, merchant.name_zh, merchant.name_en,
                            access.Actor.merchant(merchant.id), credentials.csrf_token(record), record.public_id)
                        csrf_record = record
        if context is None:
            raise _to_login(request, expired)
        request.state.merchant = context
        request.state.csrf_token = context.csrf_token
        request.state.no_store = True
        access.require(context.actor, action, writes=request.method not in auth.SAFE_METHODS)
        if request.method not in auth.SAFE_METHODS:
            credentials.verify_csrf(csrf_record, csrf)
        return context

    dependency.__qb_access__ = auth.AccessSpec("merchant", frozenset({access.MERCHANT}), action)  # type: ignore[attr-defined]
    return dependency


@cache
def merchant_requires(action: str) -> Any:
    """The dependency for a merchant page doing `action` ("merchant.read" / "merchant.act")."""
    access.rule(action)
    return _merchant_dependency(action)


# ---- sign-in ----------------------------------------------------------------------------------------------

def _safe_next(value: str) -> str:
    return value if value.startswith("/m") and not value.startswith("//") else "/m"


def _login_page(request: Request, *, next_path: str = "", merchant_no: str = "", error: str | None = None,
                notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    device, is_new = auth.ensure_device_id(request)
    request.state.csrf_token = credentials.csrf_token(device)
    request.state.no_store = True
    response = render(request, "merchant/login.html", status_code=status_code, next=next_path,
                      merchant_no=merchant_no, error=error, notice=notice)
    if is_new:
        auth.set_device_cookie(request, response, device)
    return response


@router.get("/m/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = Query("", max_length=500), expired: bool = Query(False)) -> Response:
    notice = QianbaoError("SESSION_EXPIRED").message(_lang(request)) if expired else None
    return _login_page(request, next_path=next, notice=notice)


@router.post("/m/login", response_class=HTMLResponse)
def login_submit(request: Request, merchant_no: str = Form("", max_length=32), password: str = Form("", max_length=256),
                 next: str = Form("", max_length=500), _device: str = Depends(auth.device_csrf)) -> Response:
    settings = auth.settings_of(request)
    number = "".join(merchant_no.split())
    try:
        with credentials.transaction(_db(request)) as session:
            merchant = merchants.merchant_by_no(session, number) if number.isdigit() else None
            who = Principal("merchant", merchant.id) if merchant is not None else None
            try:
                credentials.verify_login(session, who, password, ip=auth.client_ip(request), settings=settings)
            except QianbaoError as exc:
                if exc.code == "LOGIN_FAILED":
                    raise QianbaoError("MERCHANT_LOGIN_FAILED") from exc
                raise
            assert merchant is not None and who is not None
            if merchant.status != "active":
                raise QianbaoError("MERCHANT_SUSPENDED")
            started = credentials.start_session(
                session, who, device_id=_device, user_agent=auth.user_agent(request), ip=auth.client_ip(request),
                role=access.MERCHANT, replaces_token=request.cookies.get(merchant_cookie(request).name),
                settings=settings)
            audit.record(session, action="merchant.sign_in", actor=audit.Actor.merchant(merchant.id),
                         channel="merchant_api", object_type="merchant", object_id=merchant.id)
    except QianbaoError as exc:
        return _login_page(request, next_path=next, merchant_no=number, error=exc.message(_lang(request)),
                           status_code=exc.status)
    response = _see_other(_safe_next(next))
    response.set_cookie(**merchant_cookie(request).set_cookie_kwargs(started.token))
    return response


@router.post("/m/logout")
def logout(request: Request, merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    token = request.cookies.get(merchant_cookie(request).name)
    with _db(request).transaction() as session:
        if token:
            credentials.sessions.end_session(session, token)
    response = _see_other(LOGIN_PATH)
    response.delete_cookie(**merchant_cookie(request).delete_cookie_kwargs())
    return response


# ---- orders ------------------------------------------------------------------------------------------------

STATUS_FILTERS = ("open", "paid", "closed")


@router.get("/m", response_class=HTMLResponse)
def orders_page(request: Request, status: str = Query("", max_length=16),
                merchant: MerchantContext = Depends(merchant_requires("merchant.read"))) -> Response:
    return _orders(request, merchant, status=status)


def _orders(request: Request, merchant: MerchantContext, *, status: str = "", error: QianbaoError | None = None,
            form: dict[str, str] | None = None) -> HTMLResponse:
    with _db(request).read() as session:
        rows = merchants.list_orders(session, merchant.id, status=status or None, limit=100)
        shop = merchants.get_merchant(session, merchant.id)
        items = [(o, merchants.order_state(o)) for o in rows]
        static_payload = merchants.static_qr_payload(shop)
    return render(request, "merchant/orders.html", status_code=error.status if error else 200, section="orders",
                  merchant=merchant, shop=shop, items=items, status=status, filters=STATUS_FILTERS,
                  error=error.message(_lang(request)) if error else None, error_code=error.code if error else None,
                  form=form or {}, static_qr=merchants.qr_svg(static_payload, shop.name_zh))


@router.post("/m/orders", response_class=HTMLResponse)
def create_portal_order(request: Request, amount: str = Form("", max_length=32),
                        description: str = Form("", max_length=256),
                        merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    try:
        fen = parse_yuan(amount)
        with _db(request).transaction() as session:
            number = "P" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3).upper()
            created = merchants.create_order(session, merchant.id, merchant_order_no=number, amount=fen,
                                             description=description, source="portal")
            token = created.order.token
    except QianbaoError as exc:
        return _orders(request, merchant, error=exc, form={"amount": amount, "description": description})
    return _see_other(f"/m/checkout/{token}")


def _own_order(session: Any, merchant: MerchantContext, token: str) -> Any:
    return merchants.order_for_merchant_token(session, merchant.id, token)


def _detail(request: Request, merchant: MerchantContext, order_token: str, *, error: QianbaoError | None = None,
            failed: str | None = None, notice: str | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    with _db(request).read() as session:
        order = _own_order(session, merchant, order_token)
        refunds = merchants.orders.refunds_of(session, order.id)
        notes = merchants.orders.notifications_of(session, order.id)
        state = merchants.order_state(order)
    return render(request, "merchant/order.html", status_code=error.status if error else 200, section="orders",
                  merchant=merchant, order=order, state=state, refunds=refunds, notifications=notes,
                  refundable=order.amount - order.refunded_amount if order.status == PAID else 0,
                  error=error.message(_lang(request)) if error else None, error_code=error.code if error else None,
                  failed=failed, notice=notice, form=form or {})


@router.get("/m/orders/{order_token}", response_class=HTMLResponse)
def order_page(request: Request, order_token: str, done: str = Query("", max_length=16),
               merchant: MerchantContext = Depends(merchant_requires("merchant.read"))) -> Response:
    notice = f"merchant.order.done.{done}" if done in ("refunded", "confirmed", "closed") else None
    return _detail(request, merchant, order_token, notice=notice)


@router.post("/m/orders/{order_token}/refund", response_class=HTMLResponse)
def refund_page(request: Request, order_token: str, amount: str = Form("", max_length=32),
                reason: str = Form("", max_length=400),
                merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    try:
        fen = parse_yuan(amount)
        with _db(request).transaction() as session:
            order = _own_order(session, merchant, order_token)
            refund_no = "R" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()
            merchants.refund(session, merchant.id, order.merchant_order_no, refund_no=refund_no, amount=fen,
                             reason=reason, actor=merchant.audit_actor, channel="merchant_api")
    except QianbaoError as exc:
        if exc.code == "ORDER_NOT_FOUND":
            raise
        return _detail(request, merchant, order_token, error=exc, failed="refund",
                       form={"amount": amount, "reason": reason})
    return _see_other(f"/m/orders/{order_token}?done=refunded")


def _order_action(request: Request, merchant: MerchantContext, order_token: str, name: str) -> Response:
    try:
        with _db(request).transaction() as session:
            order = _own_order(session, merchant, order_token)
            act = merchants.confirm_order if name == "confirm" else merchants.close_order
            act(session, merchant.id, order.merchant_order_no, actor=merchant.audit_actor)
    except QianbaoError as exc:
        if exc.code == "ORDER_NOT_FOUND":
            raise
        return _detail(request, merchant, order_token, error=exc, failed=name)
    return _see_other(f"/m/orders/{order_token}?done={'confirmed' if name == 'confirm' else 'closed'}")


@router.post("/m/orders/{order_token}/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, order_token: str,
                 merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    return _order_action(request, merchant, order_token, "confirm")


@router.post("/m/orders/{order_token}/close", response_class=HTMLResponse)
def close_page(request: Request, order_token: str,
               merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    return _order_action(request, merchant, order_token, "close")


# ---- the public checkout -----------------------------------------------------------------------------------

def _checkout(request: Request, token: str) -> tuple[Any, Merchant, str]:
    with _db(request).read() as session:
        order = merchants.order_by_token(session, token)
        shop = merchants.get_merchant(session, order.merchant_id)
        state = merchants.order_state(order)
        session.expunge(order)
        session.expunge(shop)
    return order, shop, state


@router.get("/m/checkout/{token}", response_class=HTMLResponse)
def checkout_page(request: Request, token: str) -> Response:
    order, shop, state = _checkout(request, token)
    request.state.no_store = True
    return render(request, "merchant/checkout.html", order=order, shop=shop, state=state, poll=POLL)


@router.get("/m/checkout/{token}/status", response_class=HTMLResponse)
def checkout_status(request: Request, token: str) -> Response:
    order, shop, state = _checkout(request, token)
    request.state.no_store = True
    return render(request, "merchant/_checkout_status.html", order=order, shop=shop, state=state, poll=POLL)


@router.get("/m/checkout/{token}/qr.svg")
def checkout_qr(request: Request, token: str) -> Response:
    order, shop, state = _checkout(request, token)
    if state != "open":
        raise QianbaoError("ORDER_NOT_FOUND")
    svg = merchants.qr_svg(merchants.order_qr_payload(shop, order), title=shop.name_zh)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
