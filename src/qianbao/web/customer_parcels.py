"""The customer app's parcel payment (寄件支付) and withholding agreements (免密代扣), SPEC §6.2.

    GET  /app/parcels                              the postal express orders waiting for payment, then paid ones
    POST /app/parcels/{order_no}/pay               one tap: PIN, passkey or 小额免密 → paid
    GET  /app/parcel                               the home page's entry: → /app/parcels
    GET  /app/agreements                           my withholding agreements (caps, this month's use), sign one
    POST /app/agreements                           sign: per-payment and monthly caps (≤ policy), with the PIN
    POST /app/agreements/{agreement_id}/cancel     cancel at once: later charges are refused
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import credentials, payments
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan
from qianbao.payments import parcels, withholding
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_bills import client_key_of, confirmation_context, error_field, make_confirm
from qianbao.web.customer_common import db_of, error_text, lang_of, see_other, settings_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PARCELS = "/app/parcels"
AGREEMENTS = "/app/agreements"
PARCELS_DONE = frozenset({"paid"})
AGREEMENTS_DONE = frozenset({"signed", "cancelled"})


# ---- parcels -------------------------------------------------------------------------------------------

def _parcels_page(request: Request, customer: CustomerContext, *, error: str | None = None, field: str = "",
                  error_order: str = "", notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        orders = parcels.customer_orders(session, customer.customer_id)
        agreement = withholding.active_agreement(session, customer.customer_id)
    waiting = [order for order in orders if order.status == "awaiting_payment" and not order.expired]
    largest = max((order.price for order in waiting), default=0)
    return render(request, "customer/parcels.html", status_code=status_code, section="pay", orders=orders,
                  waiting=waiting, agreement=agreement, error=error, error_field=field, error_order=error_order,
                  notice=notice, keys={order.order_no: secrets.token_urlsafe(18) for order in waiting},
                  **confirmation_context(request, customer.customer_id, largest))


@router.get(PARCELS, response_class=HTMLResponse)
def parcels_page(request: Request, done: str = Query("", max_length=16),
                 customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    notice = translate(f"parcels.done.{done}", lang_of(request)) if done in PARCELS_DONE else None
    return _parcels_page(request, customer, notice=notice)


@router.get("/app/parcel")
def parcel_alias(customer: CustomerContext = Depends(current_customer)) -> Response:
    return see_other(PARCELS)


@router.post(PARCELS + "/{order_no}/pay", response_class=HTMLResponse)
def pay_parcel(request: Request, order_no: str, pin: str = Form("", max_length=12),
               passkey: str = Form("", max_length=8192), client_key: str = Form("", max_length=64),
               customer: CustomerContext = Depends(current_customer)) -> Response:
    order_no = order_no[:16]
    with db_of(request).read() as session:
        parcels.get_order(session, customer.customer_id, order_no)  # NOT_FOUND before anything else
    try:
        key = f"parcel:app:{customer.customer_id}:{client_key_of(client_key)}"
        confirm = make_confirm(request, customer.customer_id, pin=pin, passkey=passkey, client_key=client_key)
        with credentials.transaction(db_of(request)) as session:
            parcels.pay_order(session, customer_id=customer.customer_id, order_no=order_no, key=key,
                              confirm=confirm, channel="app")
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _parcels_page(request, customer, error=error_text(request, exc), field=error_field(exc.code),
                             error_order=order_no, status_code=exc.status)
    return see_other(f"{PARCELS}?done=paid")


# ---- withholding agreements ----------------------------------------------------------------------------

def _agreements_page(request: Request, customer: CustomerContext, *, error: str | None = None, field: str = "",
                     notice: str | None = None, form: dict[str, str] | None = None,
                     status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        agreements = withholding.list_agreements(session, customer.customer_id)
        limits = withholding.policy(session)
        has_pin = credentials.has_pin(session, credentials.Principal.customer(customer.customer_id))
    active = any(agreement.active for agreement in agreements)
    return render(request, "customer/agreements.html", status_code=status_code, section="me",
                  agreements=agreements, limits=limits, active=active, has_pin=has_pin, error=error,
                  error_field=field, notice=notice, form=form or {})


@router.get(AGREEMENTS, response_class=HTMLResponse)
def agreements_page(request: Request, done: str = Query("", max_length=16),
                    customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    notice = translate(f"agreements.done.{done}", lang_of(request)) if done in AGREEMENTS_DONE else None
    return _agreements_page(request, customer, notice=notice)


def _cap_field(code: str, params: dict[str, Any]) -> str:
    if code == "WITHHOLDING_CAP_INVALID":
        return str(params.get("field", ""))
    if code.startswith("AMOUNT_"):
        return "per_payment_cap"
    return "pin" if code.startswith(("PIN_", "CONFIRM")) else ""


@router.post(AGREEMENTS, response_class=HTMLResponse)
def sign_agreement(request: Request, per_payment_cap: str = Form("", max_length=32),
                   monthly_cap: str = Form("", max_length=32), pin: str = Form("", max_length=12),
                   customer: CustomerContext = Depends(current_customer)) -> Response:
    form = {"per_payment_cap": per_payment_cap, "monthly_cap": monthly_cap}
    try:
        try:
            per_payment = parse_yuan(per_payment_cap)
        except QianbaoError as exc:
            raise QianbaoError(exc.code, field="per_payment_cap", **exc.params) from None
        try:
            monthly = parse_yuan(monthly_cap)
        except QianbaoError as exc:
            raise QianbaoError(exc.code, field="monthly_cap", **exc.params) from None
        with credentials.transaction(db_of(request)) as session:
            if not pin:
                raise QianbaoError("CONFIRMATION_REQUIRED")
            method = payments.confirm(session, customer.customer_id, amount=per_payment, pin=pin,
                                      allow_password_free=False, ip=auth.client_ip(request),
                                      settings=settings_of(request))
            withholding.sign(session, customer.customer_id, per_payment_cap=per_payment, monthly_cap=monthly,
                             confirmed_with=method)
    except QianbaoError as exc:
        field = exc.params.get("field") if exc.code.startswith("AMOUNT_") else _cap_field(exc.code, exc.params)
        return _agreements_page(request, customer, error=error_text(request, exc), field=str(field or ""),
                                form=form, status_code=exc.status)
    return see_other(f"{AGREEMENTS}?done=signed")


@router.post(AGREEMENTS + "/{agreement_id}/cancel")
def cancel_agreement(request: Request, agreement_id: str,
                     customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        withholding.cancel(session, customer.customer_id, agreement_id[:24])
    return see_other(f"{AGREEMENTS}?done=cancelled")

