"""The customer app's transfer pages (转账, SPEC §6.2) and payment settings (小额免密).

    GET  /app/transfer                   the form: recipient (wallet number or mobile), amount, note
    POST /app/transfer/preview           look the recipient up → the confirm page: masked name, fee, total
    POST /app/transfer                   PIN (or password-free within the customer's threshold) → the result
    GET  /app/transfer/{reference}       the result of one of the customer's own transfers
    GET  /app/settings/payments          password-free payments: on/off and the per-payment threshold
    POST /app/settings/payments          change them (needs the PIN)

The confirm form carries a random client key made when the preview was shown: submitting it twice (a
double click, a reload) is one transfer (`payments.execute` answers the replay).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import credentials, ledger, payments
from qianbao.credentials import Principal, passkeys
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan, to_yuan
from qianbao.payments import transfers
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.policy import wallet_policy
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import db_of, error_text, lang_of, see_other, settings_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

TRANSFER = "/app/transfer"
SETTINGS = "/app/settings/payments"
_CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _wallet_id(request: Request, customer_id: int) -> int:
    with db_of(request).read() as session:
        wallet = wallet_customers.wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return wallet.id


def _available(request: Request, wallet_id: int) -> int:
    with db_of(request).read() as session:
        wallet = wallet_customers.get_wallet(session, wallet_id)
        return ledger.balance(session, wallet.ledger_account_id).available


def _page(request: Request, template: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return render(request, template, status_code=status_code, section="home",
                  yuan_plain=lambda fen: str(to_yuan(fen)), **extra)


def _form_page(request: Request, customer: CustomerContext, *, form: dict[str, str] | None = None,
               error: str | None = None, error_field: str = "", status_code: int = 200) -> HTMLResponse:
    wallet_id = _wallet_id(request, customer.customer_id)
    form = {"recipient": "", "amount": "", "note": "", **(form or {})}
    with db_of(request).read() as session:
        left = payments.remaining(session, wallet_customers.get_wallet(session, wallet_id), now=datetime.now(UTC))
    today = min((v for v in (left.single, left.daily, left.annual) if v is not None), default=None)
    return _page(request, "customer/transfer.html", status_code=status_code, form=form, error=error,
                 error_field=error_field, available=_available(request, wallet_id), today=today)


_FIELD = {"TRANSFER_RECIPIENT_INVALID": "recipient", "TRANSFER_RECIPIENT_NOT_FOUND": "recipient",
          "WALLET_NUMBER_INVALID": "recipient", "TRANSFER_TO_SELF": "recipient",
          "AMOUNT_INVALID": "amount", "AMOUNT_NOT_POSITIVE": "amount", "AMOUNT_TOO_MANY_DECIMALS": "amount",
          "AMOUNT_TOO_LARGE": "amount", "PAYMENT_NOTE_TOO_LONG": "note"}


@router.get(TRANSFER, response_class=HTMLResponse)
def transfer_form(request: Request, to: str = Query("", max_length=32),
                  customer: CustomerContext = Depends(current_customer)) -> Response:
    return _form_page(request, customer, form={"recipient": to})


def _check_note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > 200:
        raise QianbaoError("PAYMENT_NOTE_TOO_LONG", max=200)
    return note


def _confirm_page(request: Request, customer: CustomerContext, preview: transfers.TransferPreview, *,
                  recipient: str, note: str, client_key: str, error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        password_free = payments.password_free_allowed(session, customer.customer_id, preview.total)
        has_passkey = passkeys.has_passkey(session, Principal.customer(customer.customer_id))
    return _page(request, "customer/transfer_confirm.html", status_code=status_code, preview=preview,
                 recipient=recipient, note=note, client_key=client_key, error=error, password_free=password_free,
                 has_passkey=has_passkey)


def _passkey_answer(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise QianbaoError("PASSKEY_INVALID") from None


@router.post(TRANSFER + "/preview", response_class=HTMLResponse)
def transfer_preview(
    request: Request,
    recipient: str = Form("", max_length=40),
    amount: str = Form("", max_length=24),
    note: str = Form("", max_length=400),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    form = {"recipient": recipient, "amount": amount, "note": note}
    wallet_id = _wallet_id(request, customer.customer_id)
    try:
        fen = transfers.parse_amount(amount)
        clean_note = _check_note(note)
        with db_of(request).transaction() as session:
            preview = transfers.preview(session, wallet_id, recipient, fen)
    except QianbaoError as exc:
        return _form_page(request, customer, form=form, error=error_text(request, exc),
                          error_field=_FIELD.get(exc.code, ""), status_code=exc.status)
    return _confirm_page(request, customer, preview, recipient=recipient.strip(), note=clean_note,
                         client_key=secrets.token_urlsafe(18))


@router.post(TRANSFER, response_class=HTMLResponse)
def transfer_submit(
    request: Request,
    recipient: str = Form("", max_length=40),
    amount: str = Form("", max_length=24),
    note: str = Form("", max_length=400),
    pin: str = Form("", max_length=12),
    passkey: str = Form("", max_length=8192),
    client_key: str = Form("", max_length=64),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    from qianbao.web.customer_passkeys import relying_party

    db = db_of(request)
    wallet_id = _wallet_id(request, customer.customer_id)
    form = {"recipient": recipient, "amount": amount, "note": note}
    try:
        if _CLIENT_KEY.fullmatch(client_key or "") is None:
            raise QianbaoError("BAD_REQUEST")
        fen = transfers.parse_amount(amount)
        clean_note = _check_note(note)
        with db.read() as session:
            preview = transfers.TransferPreview(
                recipient=transfers.resolve_recipient(session, wallet_id, recipient), amount=fen,
                fee=payments.quote_fee(session, "transfer", fen, wallet_id=wallet_id))
    except QianbaoError as exc:
        return _form_page(request, customer, form=form, error=error_text(request, exc),
                          error_field=_FIELD.get(exc.code, ""), status_code=exc.status)
    key = f"app:{customer.customer_id}:{client_key}"
    try:
        with db.read() as session:
            done = payments.find_operation(session, key)
        if done is None:
            rp_id, origin = relying_party(request)
            with credentials.transaction(db) as session:
                confirmation = payments.confirm(
                    session, customer.customer_id, amount=preview.total, pin=pin or None,
                    passkey=_passkey_answer(passkey), rp_id=rp_id, origin=origin, binding=f"transfer:{client_key}",
                    ip=auth.client_ip(request), settings=settings_of(request))
        else:  # the same form again: execute answers the original (or IDEMPOTENCY_KEY_REUSED if it differs)
            confirmation = done.confirmation
        with db.transaction() as session:
            done = transfers.transfer(session, payer_wallet_id=wallet_id, recipient=recipient, amount=fen,
                                      key=key, confirmation=confirmation, note=clean_note or None)
    except QianbaoError as exc:
        return _confirm_page(request, customer, preview, recipient=recipient, note=clean_note, client_key=client_key,
                             error=error_text(request, exc), status_code=exc.status)
    return see_other(f"{TRANSFER}/{done.reference}")


@router.get(TRANSFER + "/{reference}", response_class=HTMLResponse)
def transfer_result(request: Request, reference: str,
                    customer: CustomerContext = Depends(current_customer)) -> Response:
    wallet_id = _wallet_id(request, customer.customer_id)
    with db_of(request).read() as session:
        try:
            op = payments.get_operation(session, reference[:24])
        except QianbaoError:
            raise QianbaoError("NOT_FOUND") from None
    if op.kind != "transfer" or op.payer_wallet_id != wallet_id:
        raise QianbaoError("NOT_FOUND")
    return _page(request, "customer/transfer_done.html", op=op)


# ---- payment settings (小额免密) ---------------------------------------------------------------------------

def _settings_page(request: Request, customer: CustomerContext, *, error: str | None = None, notice: str | None = None,
                   form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        chosen = payments.payment_settings(session, customer.customer_id)
        wide = wallet_policy(session)
    form = form or {"threshold": str(to_yuan(chosen.password_free_threshold))}
    return render(request, "customer/payment_settings.html", status_code=status_code, section="me", chosen=chosen,
                  daily_cap=wide.password_free_daily_limit, form=form, error=error, notice=notice)


@router.get(SETTINGS, response_class=HTMLResponse)
def settings_page(request: Request, done: str = Query("", max_length=16),
                  customer: CustomerContext = Depends(current_customer)) -> Response:
    notice = translate("payments.settings.saved", lang_of(request)) if done == "saved" else None
    return _settings_page(request, customer, notice=notice)


@router.post(SETTINGS, response_class=HTMLResponse)
def settings_save(
    request: Request,
    enabled: str = Form("", max_length=8),
    threshold: str = Form("", max_length=24),
    pin: str = Form("", max_length=12),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    db = db_of(request)
    form = {"threshold": threshold, "enabled": enabled}
    try:
        fen = parse_yuan(threshold)
        if not pin:
            raise QianbaoError("CONFIRMATION_REQUIRED")
        with credentials.transaction(db) as session:
            payments.confirm(session, customer.customer_id, amount=fen, pin=pin, allow_password_free=False,
                             ip=auth.client_ip(request), settings=settings_of(request))
            payments.set_password_free(session, customer.customer_id, enabled=enabled == "on", threshold=fen)
    except QianbaoError as exc:
        return _settings_page(request, customer, error=error_text(request, exc), form=form, status_code=exc.status)
    return see_other(f"{SETTINGS}?done=saved")
