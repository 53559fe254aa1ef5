"""The customer app's bank cards, top-up and withdrawal pages (SPEC §5, §6.2).

    GET  /app/cards                         bound cards, the default first; add one
    GET  /app/cards/new                     the binding form (real-name holders only)
    POST /app/cards/new                     our checks, then the bank sends its code → the code page
    POST /app/cards/bindings/{binding_id}   the bank's code → the card is bound
    GET  /app/cards/{card_id}               one card: make it the default, unbind it
    POST /app/cards/{card_id}/default       make it the default
    POST /app/cards/{card_id}/unbind        unbind (CARD_IN_FLIGHT while a top-up or withdrawal waits on it)
    GET  /app/topup                         choose a card and an amount
    POST /app/topup                         start it → its status page
    GET  /app/topup/{topup_reference}       "processing" (polled with htmx every two seconds), then done/failed
    GET  /app/topup/{topup_reference}/status   the polled fragment
    GET  /app/withdraw                      choose a debit card and an amount
    POST /app/withdraw/quote                the fee from the schedule, shown before the PIN
    POST /app/withdraw                      the PIN or a passkey (bound to `withdrawal:<client key>`) → start it
    GET  /app/withdraw/{withdrawal_reference}          and /status: as for top-up

Every form carries the session's CSRF token. A top-up or withdrawal form carries a random client key made
when the form was drawn, so that a double submit is one operation (`app:<customer>:<key>`). Card numbers
live only in the binding form's POST: the pages show the bank, the card type and the last four digits.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import credentials, ledger, payments
from qianbao.cards import binding as card_binding
from qianbao.cards import cards as card_store
from qianbao.cards.models import CREDIT, DEBIT, PROCESSING
from qianbao.cards.rules import bank_name
from qianbao.credentials import Principal, passkeys
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan, to_yuan
from qianbao.payments import topup as topups
from qianbao.payments import withdrawal as withdrawals
from qianbao.wallets import customers as wallet_customers
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import db_of, error_text, lang_of, see_other, settings_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

CARDS = "/app/cards"
POLL_SECONDS = 2
_CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def bank_connector(request: Request) -> Any:
    """The bank connector of this application (settings choose the sandbox bank or a real one)."""
    connector = getattr(request.app.state, "bank_connector", None)
    if connector is None:
        from qianbao.adapters.bank import connector_for

        connector = connector_for(settings_of(request))
        request.app.state.bank_connector = connector
    return connector


def new_client_key() -> str:
    return secrets.token_urlsafe(18)


def order_key(customer_id: int, client_key: str) -> str:
    if _CLIENT_KEY.fullmatch(client_key or "") is None:
        raise QianbaoError("BAD_REQUEST")
    return f"app:{customer_id}:{client_key}"


def card_names(lang: str) -> Any:
    """Template helper: a card's bank name in the page's language."""
    return lambda code: bank_name(code, lang)


def _cards(request: Request, customer_id: int) -> list[card_store.CardView]:
    with db_of(request).read() as session:
        return card_store.list_cards(session, customer_id)


def _real_name_ready(request: Request, customer_id: int) -> bool:
    with db_of(request).read() as session:
        customer = wallet_customers.get_customer(session, customer_id)
        wallet = wallet_customers.wallet_of_customer(session, customer_id)
        return customer.is_real_name_verified and wallet is not None and wallet.tier <= 3


def _page(request: Request, template: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return render(request, template, status_code=status_code, section="me", bank_name=card_names(lang_of(request)),
                  **extra)


# ---- cards ------------------------------------------------------------------------------------------------

_NOTICES = {"bound": "card.notice.bound", "bound_tier2": "card.notice.bound_tier2", "default": "card.notice.default",
            "unbound": "card.notice.unbound"}


@router.get(CARDS, response_class=HTMLResponse)
def cards_page(request: Request, done: str = "", customer: CustomerContext = Depends(current_customer)) -> Response:
    cards = _cards(request, customer.customer_id)
    notice = _NOTICES.get(done)
    return _page(request, "customer/cards.html", cards=cards,
                 notice=translate(notice, lang_of(request)) if notice else None)


def _bind_page(request: Request, customer: CustomerContext, *, form: dict[str, str] | None = None,
               error: str | None = None, error_field: str = "", status_code: int = 200) -> HTMLResponse:
    return _page(request, "customer/card_bind.html", status_code=status_code, form=form or {}, error=error,
                 error_field=error_field, ready=_real_name_ready(request, customer.customer_id))


@router.get(CARDS + "/new", response_class=HTMLResponse)
def bind_form(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return _bind_page(request, customer)


def _bind_field(code: str) -> str:
    if code in {"CARD_NUMBER_INVALID", "CARD_UNKNOWN_BANK", "CARD_ALREADY_BOUND"}:
        return "card_number"
    return ""


@router.post(CARDS + "/new", response_class=HTMLResponse)
def bind_start(
    request: Request,
    card_number: str = Form("", max_length=40),
    holder_name: str = Form("", max_length=64),
    id_number: str = Form("", max_length=32),
    phone: str = Form("", max_length=32),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    # The number is never sent back into the page: a refused form is drawn again without it.
    form = {"holder_name": holder_name, "phone": phone}
    try:
        started = card_binding.start_binding(db_of(request), bank_connector(request), customer.customer_id,
                                             card_number, holder_name, id_number, phone or None)
    except QianbaoError as exc:
        return _bind_page(request, customer, form=form, error=error_text(request, exc),
                          error_field=_bind_field(exc.code), status_code=exc.status)
    return _page(request, "customer/card_otp.html", binding=started)


@router.post(CARDS + "/bindings/{binding_id}", response_class=HTMLResponse)
def bind_confirm(request: Request, binding_id: str, otp: str = Form("", max_length=16),
                 customer: CustomerContext = Depends(current_customer)) -> Response:
    db = db_of(request)
    try:
        with db.read() as session:
            tier_before = _tier(session, customer.customer_id)
        card = card_binding.confirm_binding(db, bank_connector(request), customer.customer_id, binding_id, otp)
    except QianbaoError as exc:
        if exc.code in {"NOT_FOUND"}:
            raise
        try:
            binding = card_binding.binding_view(db, customer.customer_id, binding_id)
        except QianbaoError:
            raise exc from None
        again = binding.status == "pending"
        return _page(request, "customer/card_otp.html", status_code=exc.status, binding=binding,
                     error=error_text(request, exc), closed=not again)
    with db.read() as session:
        tier_after = _tier(session, customer.customer_id)
    lifted = card.card_type == DEBIT and tier_before is not None and tier_after == 2 and tier_before > 2
    return see_other(f"{CARDS}?done={'bound_tier2' if lifted else 'bound'}")


def _tier(session: Any, customer_id: int) -> int | None:
    wallet = wallet_customers.wallet_of_customer(session, customer_id)
    return wallet.tier if wallet is not None else None


@router.get(CARDS + "/{card_id}", response_class=HTMLResponse)
def card_page(request: Request, card_id: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).read() as session:
        card = card_store.view(card_store.get_card(session, customer.customer_id, card_id))
    return _page(request, "customer/card_detail.html", card=card)


@router.post(CARDS + "/{card_id}/default")
def card_default(request: Request, card_id: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        card_store.set_default(session, customer.customer_id, card_id)
    return see_other(f"{CARDS}?done=default")


@router.post(CARDS + "/{card_id}/unbind", response_class=HTMLResponse)
def card_unbind(request: Request, card_id: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        card_binding.unbind_card(db_of(request), bank_connector(request), customer.customer_id, card_id)
    except QianbaoError as exc:
        if exc.code != "CARD_IN_FLIGHT":
            raise
        with db_of(request).read() as session:
            card = card_store.view(card_store.get_card(session, customer.customer_id, card_id))
        return _page(request, "customer/card_detail.html", status_code=exc.status, card=card,
                     error=error_text(request, exc))
    return see_other(f"{CARDS}?done=unbound")


# ---- top-up -----------------------------------------------------------------------------------------------

def _topup_page(request: Request, customer: CustomerContext, *, form: dict[str, str] | None = None,
                error: str | None = None, status_code: int = 200) -> HTMLResponse:
    cards = _cards(request, customer.customer_id)
    form = dict(form or {})
    form.setdefault("card_id", cards[0].id if cards else "")
    return _page(request, "customer/topup.html", status_code=status_code, cards=cards, form=form, error=error,
                 client_key=new_client_key(), section_name="topup")


@router.get("/app/topup", response_class=HTMLResponse)
def topup_form(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return _topup_page(request, customer)


@router.post("/app/topup", response_class=HTMLResponse)
def topup_submit(
    request: Request,
    card_id: str = Form("", max_length=32),
    amount: str = Form("", max_length=24),
    client_key: str = Form("", max_length=64),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    form = {"card_id": card_id, "amount": amount}
    try:
        started = topups.start_topup(db_of(request), bank_connector(request), customer_id=customer.customer_id,
                                     card_id=card_id, amount=parse_yuan(amount),
                                     key=order_key(customer.customer_id, client_key), lang=lang_of(request))
    except QianbaoError as exc:
        return _topup_page(request, customer, form=form, error=error_text(request, exc), status_code=exc.status)
    return see_other(f"/app/topup/{started.reference}")


def _movement_page(request: Request, movement: Any, *, fragment: bool) -> HTMLResponse:
    base = "/app/topup" if movement.kind == "topup" else "/app/withdraw"
    template = "customer/_movement_status.html" if fragment else "customer/movement.html"
    return _page(request, template, movement=movement, poll_url=f"{base}/{movement.reference}/status",
                 processing=movement.status == PROCESSING, poll_seconds=POLL_SECONDS,
                 timed_out=movement.failure == "bank_timeout")


@router.get("/app/topup/{topup_reference}", response_class=HTMLResponse)
def topup_status_page(request: Request, topup_reference: str,
                      customer: CustomerContext = Depends(current_customer)) -> Response:
    return _movement_page(request, topups.get_topup(db_of(request), customer.customer_id, topup_reference),
                          fragment=False)


@router.get("/app/topup/{topup_reference}/status", response_class=HTMLResponse)
def topup_status_fragment(request: Request, topup_reference: str,
                          customer: CustomerContext = Depends(current_customer)) -> Response:
    return _movement_page(request, topups.get_topup(db_of(request), customer.customer_id, topup_reference),
                          fragment=True)


# ---- withdrawal -------------------------------------------------------------------------------------------

def _withdraw_page(request: Request, customer: CustomerContext, *, form: dict[str, str] | None = None,
                   error: str | None = None, status_code: int = 200) -> HTMLResponse:
    cards = [card for card in _cards(request, customer.customer_id) if card.card_type == DEBIT]
    credit_only = not cards and any(card.card_type == CREDIT for card in _cards(request, customer.customer_id))
    form = dict(form or {})
    form.setdefault("card_id", cards[0].id if cards else "")
    with db_of(request).read() as session:
        wallet = wallet_customers.wallet_of_customer(session, customer.customer_id)
        available = ledger.balance(session, wallet.ledger_account_id).available if wallet is not None else 0
    return _page(request, "customer/withdraw.html", status_code=status_code, cards=cards, form=form, error=error,
                 credit_only=credit_only, available=available)


@router.get("/app/withdraw", response_class=HTMLResponse)
def withdraw_form(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return _withdraw_page(request, customer)


@router.post("/app/withdraw/quote", response_class=HTMLResponse)
def withdraw_quote(
    request: Request,
    card_id: str = Form("", max_length=32),
    amount: str = Form("", max_length=24),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    form = {"card_id": card_id, "amount": amount}
    try:
        quote = withdrawals.quote_withdrawal(db_of(request), customer.customer_id, card_id, parse_yuan(amount))
    except QianbaoError as exc:
        return _withdraw_page(request, customer, form=form, error=error_text(request, exc), status_code=exc.status)
    return _confirm_page(request, quote, client_key=new_client_key())


def _confirm_page(request: Request, quote: withdrawals.WithdrawalQuote, *, client_key: str, error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    customer: CustomerContext = request.state.customer
    with db_of(request).read() as session:
        has_passkey = passkeys.has_passkey(session, Principal.customer(customer.customer_id))
    return _page(request, "customer/withdraw_confirm.html", status_code=status_code, quote=quote,
                 client_key=client_key, error=error, yuan_plain=lambda fen: str(to_yuan(fen)), has_passkey=has_passkey)


def _passkey_answer(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise QianbaoError("PASSKEY_INVALID") from None


@router.post("/app/withdraw", response_class=HTMLResponse)
def withdraw_submit(
    request: Request,
    card_id: str = Form("", max_length=32),
    amount: str = Form("", max_length=24),
    fee: str = Form("", max_length=24),
    pin: str = Form("", max_length=12),
    passkey: str = Form("", max_length=8192),
    client_key: str = Form("", max_length=64),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    from qianbao.web.customer_passkeys import relying_party

    db = db_of(request)
    try:
        fen = parse_yuan(amount)
        quoted_fee = int(fee) if fee.isdigit() else None
        key = order_key(customer.customer_id, client_key)
        quote = withdrawals.quote_withdrawal(db, customer.customer_id, card_id, fen)
    except QianbaoError as exc:
        return _withdraw_page(request, customer, form={"card_id": card_id, "amount": amount},
                              error=error_text(request, exc), status_code=exc.status)
    try:
        if not pin and not passkey:
            raise QianbaoError("PAYMENT_CONFIRMATION_REQUIRED")
        rp_id, origin = relying_party(request)
        with credentials.transaction(db) as session:
            confirmation = payments.confirm(session, customer.customer_id, amount=fen + quote.fee, pin=pin or None,
                                            passkey=None if pin else _passkey_answer(passkey), rp_id=rp_id,
                                            origin=origin, binding=f"withdrawal:{client_key}",
                                            allow_password_free=False, ip=auth.client_ip(request),
                                            settings=settings_of(request))
        started = withdrawals.start_withdrawal(
            db, bank_connector(request), customer_id=customer.customer_id, card_id=card_id, amount=fen,
            fee=quoted_fee, key=key, confirmation=confirmation, lang=lang_of(request))
    except QianbaoError as exc:
        if exc.code == "WITHDRAWAL_FEE_CHANGED":
            quote = withdrawals.quote_withdrawal(db, customer.customer_id, card_id, fen)
        return _confirm_page(request, quote, client_key=client_key, error=error_text(request, exc),
                             status_code=exc.status)
    return see_other(f"/app/withdraw/{started.reference}")


@router.get("/app/withdraw/{withdrawal_reference}", response_class=HTMLResponse)
def withdraw_status_page(request: Request, withdrawal_reference: str,
                         customer: CustomerContext = Depends(current_customer)) -> Response:
    return _movement_page(request, withdrawals.get_withdrawal(db_of(request), customer.customer_id,
                                                              withdrawal_reference), fragment=False)


@router.get("/app/withdraw/{withdrawal_reference}/status", response_class=HTMLResponse)
def withdraw_status_fragment(request: Request, withdrawal_reference: str,
                             customer: CustomerContext = Depends(current_customer)) -> Response:
    return _movement_page(request, withdrawals.get_withdrawal(db_of(request), customer.customer_id,
                                                              withdrawal_reference), fragment=True)
