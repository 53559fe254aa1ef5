"""The customer app's bill payment (生活缴费, SPEC §6.2).

    GET  /app/bills                          choose a biller, type the account number; my billers; recent payments
    POST /app/bills/lookup                   ask the biller what is due → the confirmation page (or "nothing due")
    POST /app/bills/pay                      PIN, passkey or 小额免密 → the money is held, the biller confirms,
                                             posted or released → the receipt
    GET  /app/bills/payments/{payment_ref}   the receipt (processing / paid / failed and why)
    POST /app/bills/saved/{saved_id}/remove  forget one of my billers

The confirmation page carries what the customer saw (bill number, amount); the domain asks the biller again
right before holding the money and refuses a bill that changed. Refusals are shown on the page they concern.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from qianbao import credentials, payments
from qianbao.adapters.billers import BillerAdapter, adapter_from_settings
from qianbao.credentials import Principal, passkeys
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.payments import bills
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import db_of, error_text, lang_of, see_other, settings_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

BILLS = "/app/bills"
_CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
BILLS_DONE = frozenset({"removed"})


def billers_of(request: Request) -> BillerAdapter:
    """The biller adapter of this app (from settings, made once; tests may put their own on app.state)."""
    state = request.app.state
    adapter = getattr(state, "biller_adapter", None)
    if adapter is None:
        adapter = adapter_from_settings(settings_of(request), db_of(request))
        state.biller_adapter = adapter
    return adapter  # type: ignore[no-any-return]


def new_client_key() -> str:
    return secrets.token_urlsafe(18)


def client_key_of(value: str) -> str:
    if _CLIENT_KEY.fullmatch(value or "") is None:
        raise QianbaoError("BAD_REQUEST")
    return value


def passkey_answer(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise QianbaoError("PASSKEY_INVALID") from None


def make_confirm(request: Request, customer_id: int, *, pin: str, passkey: str, client_key: str) -> bills.Confirm:
    """The confirmation callback the domain calls inside its unit of work: PIN, passkey or 小额免密."""
    from qianbao.web.customer_passkeys import relying_party

    rp_id, origin = relying_party(request)
    answer = passkey_answer(passkey)

    def confirm(session: Session, amount: int) -> str:
        return payments.confirm(session, customer_id, amount=amount, pin=pin or None, passkey=answer,
                                rp_id=rp_id, origin=origin, binding=f"payment:{client_key}",
                                ip=auth.client_ip(request), settings=settings_of(request))

    return confirm


def confirmation_context(request: Request, customer_id: int, amount: int) -> dict[str, Any]:
    """What a confirmation form shows: passkey button, PIN set, 小额免密 hint."""
    with db_of(request).read() as session:
        principal = Principal.customer(customer_id)
        chosen = payments.payment_settings(session, customer_id)
        return {
            "has_passkey": bool(passkeys.list_passkeys(session, principal)),
            "has_pin": credentials.has_pin(session, principal),
            "password_free": payments.password_free_allowed(session, customer_id, amount),
            "threshold": chosen.password_free_threshold,
        }


def error_field(code: str) -> str:
    if code.startswith(("PIN_", "CONFIRM", "PASSKEY_")):
        return "pin"
    if code.startswith(("BILL_REFERENCE", "BILLER_")):
        return "reference"
    return ""


# ---- the page ------------------------------------------------------------------------------------------

def _bills_page(request: Request, customer: CustomerContext, *, error: str | None = None, field: str = "",
                biller: str = "", reference: str = "", notice: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        billers = bills.list_billers(session)
        saved = bills.saved_billers(session, customer.customer_id)
        recent = bills.recent_payments(session, customer.customer_id, limit=10)
    return render(request, "customer/bills.html", status_code=status_code, section="pay", billers=billers,
                  saved=saved, recent=recent, error=error, error_field=field, chosen=biller or
                  (billers[0].code if billers else ""), reference=reference, notice=notice)


@router.get(BILLS, response_class=HTMLResponse)
def bills_page(request: Request, done: str = Query("", max_length=16), biller: str = Query("", max_length=32),
               customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    notice = translate(f"bills.done.{done}", lang_of(request)) if done in BILLS_DONE else None
    return _bills_page(request, customer, notice=notice, biller=biller.upper())


def _confirm_page(request: Request, customer: CustomerContext, due: bills.DueView, *, client_key: str | None = None,
                  error: str | None = None, field: str = "", save: bool = True,
                  status_code: int = 200) -> HTMLResponse:
    return render(request, "customer/bill_confirm.html", status_code=status_code, section="pay", due=due,
                  client_key=client_key or new_client_key(), error=error, error_field=field, save=save,
                  **confirmation_context(request, customer.customer_id, due.amount))


@router.post(BILLS + "/lookup", response_class=HTMLResponse)
def lookup(request: Request, biller: str = Form("", max_length=32), reference: str = Form("", max_length=40),
           customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        due = bills.lookup_bill(db_of(request), billers_of(request), biller, reference)
    except QianbaoError as exc:
        return _bills_page(request, customer, error=error_text(request, exc), field=error_field(exc.code),
                           biller=biller.upper(), reference=reference, status_code=exc.status)
    return _confirm_page(request, customer, due)


@router.post(BILLS + "/pay", response_class=HTMLResponse)
def pay(request: Request, biller: str = Form("", max_length=32), reference: str = Form("", max_length=40),
        bill_id: str = Form("", max_length=40), amount: int = Form(0, ge=0, le=10**12),
        pin: str = Form("", max_length=12), passkey: str = Form("", max_length=8192),
        client_key: str = Form("", max_length=64), save: str = Form("", max_length=4),
        customer: CustomerContext = Depends(current_customer)) -> Response:
    db, adapter = db_of(request), billers_of(request)
    try:
        key = bills.payment_key("app", customer.customer_id, client_key_of(client_key))
        paid = bills.pay_bill(db, adapter, key=key, customer_id=customer.customer_id, code=biller,
                              reference=reference, bill_id=bill_id, amount=amount, channel="app", save=bool(save),
                              confirm=make_confirm(request, customer.customer_id, pin=pin, passkey=passkey,
                                                   client_key=client_key))
    except QianbaoError as exc:
        try:
            due = bills.lookup_bill(db, adapter, biller, reference)
        except QianbaoError:
            return _bills_page(request, customer, error=error_text(request, exc), field=error_field(exc.code),
                               biller=biller.upper(), reference=reference, status_code=exc.status)
        return _confirm_page(request, customer, due, client_key=client_key if exc.code.startswith(
            ("PIN_", "CONFIRM", "PASSKEY_")) else None, error=error_text(request, exc),
            field=error_field(exc.code), save=bool(save), status_code=exc.status)
    return see_other(f"{BILLS}/payments/{paid.operation_reference}")


@router.get(BILLS + "/payments/{payment_ref}", response_class=HTMLResponse)
def receipt(request: Request, payment_ref: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).read() as session:
        paid = bills.get_payment(session, customer.customer_id, payment_ref)
    return render(request, "customer/bill_receipt.html", section="pay", paid=paid)


@router.post(BILLS + "/saved/{saved_id}/remove")
def remove_saved(request: Request, saved_id: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    if not saved_id.isdigit() or len(saved_id) > 12:
        raise QianbaoError("NOT_FOUND")
    with db_of(request).transaction() as session:
        bills.remove_saved_biller(session, customer.customer_id, int(saved_id))
    return see_other(f"{BILLS}?done=removed")
