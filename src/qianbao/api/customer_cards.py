"""The customer JSON API for bank cards, top-ups and withdrawals (SPEC §5, §6.2). Bearer token only
(`api_customer`); money writes take an `Idempotency-Key` header (scoped per customer).

    GET    /api/v1/cards                                   bound cards, the default first
    POST   /api/v1/cards                                   {card_number, holder_name, id_number, phone?}
                                                           → 202 the binding: the bank has texted its code
    POST   /api/v1/cards/bindings/{binding_id}/confirm     {otp} → 201 the bound card
    GET    /api/v1/cards/{card_id}                         one card
    POST   /api/v1/cards/{card_id}/default                 make it the default
    DELETE /api/v1/cards/{card_id}                         unbind (409 CARD_IN_FLIGHT while money moves on it)
    POST   /api/v1/topups                                  {card_id?, amount} (Idempotency-Key) → 202 processing
    GET    /api/v1/topups/{topup_reference}                its state: processing | succeeded | failed
    GET    /api/v1/withdrawals/quote?card_id=&amount=      the fee from the schedule, before confirming
    POST   /api/v1/withdrawals                             {card_id, amount, fee, pin | passkey}
                                                           (Idempotency-Key) → 202 processing
    GET    /api/v1/withdrawals/{withdrawal_reference}      its state

Amounts are yuan as a decimal string ("100.00"), answers carry fen and yuan. A card is shown as its bank,
type, BIN and last four digits; the number never comes back. Refusals are problem+json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qianbao import credentials, payments
from qianbao.api.customer_auth import ApiCustomer, api_customer, idempotency_key, money
from qianbao.api.customer_auth import Money as MoneyOut
from qianbao.cards import binding as card_binding
from qianbao.cards import cards as card_store
from qianbao.cards.movements import MovementView
from qianbao.cards.rules import bank_name
from qianbao.errors import QianbaoError
from qianbao.money import parse_yuan
from qianbao.payments import topup as topups
from qianbao.payments import withdrawal as withdrawals
from qianbao.web import auth
from qianbao.web.customer_cards import bank_connector
from qianbao.web.customer_common import db_of, lang_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["customer cards and money"])


class CardOut(BaseModel):
    id: str
    bank_code: str
    bank_name: str
    card_type: str
    bin: str
    last4: str
    is_default: bool
    bound_at: datetime


class CardsOut(BaseModel):
    cards: list[CardOut]


class BindIn(BaseModel):
    card_number: str = Field(..., max_length=40)
    holder_name: str = Field(..., max_length=64)
    id_number: str = Field(..., max_length=32)
    phone: str | None = Field(None, max_length=32)


class BindingOut(BaseModel):
    binding_id: str
    status: str
    bank_code: str
    bank_name: str
    card_type: str
    last4: str
    masked_phone: str
    expires_at: datetime


class ConfirmIn(BaseModel):
    otp: str = Field(..., max_length=16)


class TopupIn(BaseModel):
    card_id: str | None = Field(None, max_length=32)
    amount: str = Field(..., max_length=24, description="yuan, e.g. \"100.00\"")


class WithdrawalIn(BaseModel):
    card_id: str = Field(..., max_length=32)
    amount: str = Field(..., max_length=24, description="yuan, e.g. \"100.00\"")
    fee_fen: int | None = Field(None, ge=0, description="the quoted fee in fen; WITHDRAWAL_FEE_CHANGED if it changed")
    pin: str | None = Field(None, max_length=12)
    passkey: dict[str, Any] | None = Field(
        None, description="a WebAuthn assertion for step-up options asked with binding `withdrawal:<Idempotency-Key>`")


class QuoteOut(BaseModel):
    card_id: str
    amount: MoneyOut
    fee: MoneyOut
    total: MoneyOut


class MovementOut(BaseModel):
    reference: str
    kind: str
    status: str
    amount: MoneyOut
    fee: MoneyOut
    card_id: str
    bank_name: str
    card_type: str
    last4: str
    failure: str | None
    created_at: datetime
    resolved_at: datetime | None
    replayed: bool


def _card_out(card: card_store.CardView, lang: str) -> CardOut:
    return CardOut(id=card.id, bank_code=card.bank_code, bank_name=bank_name(card.bank_code, lang),
                   card_type=card.card_type, bin=card.bin, last4=card.last4, is_default=card.is_default,
                   bound_at=card.bound_at)


def _movement_out(movement: MovementView, lang: str) -> MovementOut:
    return MovementOut(reference=movement.reference, kind=movement.kind, status=movement.status,
                       amount=money(movement.amount), fee=money(movement.fee), card_id=movement.card_id,
                       bank_name=bank_name(movement.bank_code, lang), card_type=movement.card_type,
                       last4=movement.last4, failure=movement.failure, created_at=movement.created_at,
                       resolved_at=movement.resolved_at, replayed=movement.replayed)


def _movement_response(movement: MovementView, lang: str) -> JSONResponse:
    body = _movement_out(movement, lang).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if movement.status == "processing" else 201)


# ---- cards ------------------------------------------------------------------------------------------------

@router.get("/cards")
def list_cards(request: Request, customer: ApiCustomer = Depends(api_customer)) -> CardsOut:
    with db_of(request).read() as session:
        cards = card_store.list_cards(session, customer.customer_id)
    return CardsOut(cards=[_card_out(card, lang_of(request)) for card in cards])


@router.post("/cards", status_code=202)
def start_binding(request: Request, body: BindIn, customer: ApiCustomer = Depends(api_customer)) -> BindingOut:
    started = card_binding.start_binding(db_of(request), bank_connector(request), customer.customer_id,
                                         body.card_number, body.holder_name, body.id_number, body.phone)
    return BindingOut(binding_id=started.id, status=started.status, bank_code=started.bank_code,
                      bank_name=bank_name(started.bank_code, lang_of(request)), card_type=started.card_type,
                      last4=started.last4, masked_phone=started.phone_masked, expires_at=started.expires_at)


def own_binding(request: Request, binding_id: str, customer: ApiCustomer = Depends(api_customer)) -> str:
    """The binding must be the caller's (NOT_FOUND otherwise), checked before the body is read."""
    card_binding.binding_view(db_of(request), customer.customer_id, binding_id)
    return binding_id


@router.post("/cards/bindings/{binding_id}/confirm", status_code=201)
def confirm_binding(request: Request, body: ConfirmIn, binding_id: str = Depends(own_binding),
                    customer: ApiCustomer = Depends(api_customer)) -> CardOut:
    card = card_binding.confirm_binding(db_of(request), bank_connector(request), customer.customer_id, binding_id,
                                        body.otp)
    return _card_out(card, lang_of(request))


@router.get("/cards/{card_id}")
def get_card(request: Request, card_id: str, customer: ApiCustomer = Depends(api_customer)) -> CardOut:
    with db_of(request).read() as session:
        card = card_store.view(card_store.get_card(session, customer.customer_id, card_id))
    return _card_out(card, lang_of(request))


@router.post("/cards/{card_id}/default")
def make_default(request: Request, card_id: str, customer: ApiCustomer = Depends(api_customer)) -> CardOut:
    with db_of(request).transaction() as session:
        card = card_store.set_default(session, customer.customer_id, card_id)
    return _card_out(card, lang_of(request))


@router.delete("/cards/{card_id}", status_code=204)
def unbind(request: Request, card_id: str, customer: ApiCustomer = Depends(api_customer)) -> Response:
    card_binding.unbind_card(db_of(request), bank_connector(request), customer.customer_id, card_id)
    return Response(status_code=204)


# ---- top-up -----------------------------------------------------------------------------------------------

@router.post("/topups", status_code=202, responses={201: {"model": MovementOut, "description": "already done"}})
def create_topup(request: Request, body: TopupIn, key: str = Depends(idempotency_key),
                 customer: ApiCustomer = Depends(api_customer)) -> Response:
    card_id = body.card_id
    if not card_id:
        with db_of(request).read() as session:
            chosen = card_store.default_card(session, customer.customer_id)
        if chosen is None:
            raise QianbaoError("NOT_FOUND")
        card_id = chosen.id
    started = topups.start_topup(db_of(request), bank_connector(request), customer_id=customer.customer_id,
                                 card_id=card_id, amount=parse_yuan(body.amount), key=key, channel="api",
                                 lang=lang_of(request))
    return _movement_response(started, lang_of(request))


@router.get("/topups/{topup_reference}")
def get_topup(request: Request, topup_reference: str, customer: ApiCustomer = Depends(api_customer)) -> MovementOut:
    return _movement_out(topups.get_topup(db_of(request), customer.customer_id, topup_reference), lang_of(request))


# ---- withdrawal -------------------------------------------------------------------------------------------

@router.get("/withdrawals/quote")
def quote_withdrawal(request: Request, card_id: str = Query(..., max_length=32),
                     amount: str = Query(..., max_length=24),
                     customer: ApiCustomer = Depends(api_customer)) -> QuoteOut:
    quote = withdrawals.quote_withdrawal(db_of(request), customer.customer_id, card_id, parse_yuan(amount))
    return QuoteOut(card_id=quote.card.id, amount=money(quote.amount), fee=money(quote.fee),
                    total=money(quote.total))


@router.post("/withdrawals", status_code=202, responses={201: {"model": MovementOut, "description": "already done"}})
def create_withdrawal(request: Request, body: WithdrawalIn, key: str = Depends(idempotency_key),
                      customer: ApiCustomer = Depends(api_customer)) -> Response:
    db = db_of(request)
    amount = parse_yuan(body.amount)
    quote = withdrawals.quote_withdrawal(db, customer.customer_id, body.card_id, amount)
    if not body.pin and not body.passkey:
        raise QianbaoError("PAYMENT_CONFIRMATION_REQUIRED")
    from qianbao.web.customer_passkeys import relying_party

    rp_id, origin = relying_party(request)
    with credentials.transaction(db) as session:
        confirmation = payments.confirm(
            session, customer.customer_id, amount=amount + quote.fee, pin=body.pin or None, passkey=body.passkey,
            rp_id=rp_id, origin=origin, binding=f"withdrawal:{key.split(':', 2)[2]}", allow_password_free=False,
            ip=auth.client_ip(request), settings=settings_of(request))
    started = withdrawals.start_withdrawal(db, bank_connector(request), customer_id=customer.customer_id,
                                           card_id=body.card_id, amount=amount, fee=body.fee_fen, key=key,
                                           confirmation=confirmation, channel="api", lang=lang_of(request))
    return _movement_response(started, lang_of(request))


@router.get("/withdrawals/{withdrawal_reference}")
def get_withdrawal(request: Request, withdrawal_reference: str,
                   customer: ApiCustomer = Depends(api_customer)) -> MovementOut:
    return _movement_out(withdrawals.get_withdrawal(db_of(request), customer.customer_id, withdrawal_reference),
                         lang_of(request))
