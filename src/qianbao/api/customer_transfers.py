"""The customer JSON API for transfers (转账, SPEC §6.2). Bearer token only (`api_customer`).

    GET  /api/v1/transfers/preview?recipient=&amount=   the recipient's masked name and wallet number, the fee
    POST /api/v1/transfers                               {recipient, amount, note?, pin? | passkey?}
                                                         (Idempotency-Key) → 201 the transfer
    GET  /api/v1/transfers/{reference}                   one of the customer's own transfers

`recipient` is a 16-digit wallet number or a registered mainland mobile number; `amount` is yuan as a
decimal string with at most two decimals ("12.34"). Without a PIN or passkey, the transfer is
password-free only within the customer's own threshold (else CONFIRMATION_REQUIRED). A retry with the
same Idempotency-Key and body answers the original transfer (`replayed: true`) and moves nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qianbao import credentials, payments
from qianbao.api.customer_auth import ApiCustomer, Money, api_customer, idempotency_key, money
from qianbao.errors import QianbaoError
from qianbao.payments import transfers
from qianbao.web import auth
from qianbao.web.customer_common import db_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["customer transfers"])


class RecipientOut(BaseModel):
    masked_name: str
    masked_wallet_number: str


class PreviewOut(BaseModel):
    recipient: RecipientOut
    amount: Money | None
    fee: Money
    total: Money


class TransferIn(BaseModel):
    recipient: str = Field(..., max_length=40, description="16-digit wallet number or mobile number")
    amount: str = Field(..., max_length=24, description='yuan, at most 2 decimals, e.g. "12.34"')
    note: str | None = Field(None, max_length=200)
    pin: str | None = Field(None, max_length=12)
    passkey: dict[str, Any] | None = Field(
        None, description="a WebAuthn assertion bound to `transfer:<Idempotency-Key>`")


class TransferOut(BaseModel):
    reference: str
    status: str
    amount: Money
    fee: Money
    recipient: str | None
    note: str | None
    confirmation: str
    created_at: datetime
    replayed: bool


def _wallet_id(customer: ApiCustomer) -> int:
    if customer.wallet_id is None:
        raise QianbaoError("NOT_FOUND")
    return customer.wallet_id


def transfer_out(op: payments.Operation) -> TransferOut:
    return TransferOut(reference=op.reference, status=op.status, amount=money(op.amount), fee=money(op.fee),
                       recipient=op.counterparty_label, note=op.note, confirmation=op.confirmation,
                       created_at=op.created_at, replayed=op.replayed)


@router.get("/transfers/preview")
def preview_transfer(request: Request, recipient: str = Query(..., max_length=40),
                     amount: str | None = Query(None, max_length=24),
                     customer: ApiCustomer = Depends(api_customer)) -> PreviewOut:
    wallet_id = _wallet_id(customer)
    fen = transfers.parse_amount(amount) if amount else None
    with db_of(request).transaction() as session:
        found = transfers.preview(session, wallet_id, recipient, fen)
    return PreviewOut(
        recipient=RecipientOut(masked_name=found.recipient.masked_name,
                               masked_wallet_number=found.recipient.masked_number),
        amount=None if fen is None else money(fen), fee=money(found.fee), total=money(found.total))


@router.post("/transfers", status_code=201, response_model=TransferOut)
def create_transfer(request: Request, body: TransferIn, key: str = Depends(idempotency_key),
                    customer: ApiCustomer = Depends(api_customer)) -> Response:
    db = db_of(request)
    wallet_id = _wallet_id(customer)
    fen = transfers.parse_amount(body.amount)
    if not body.pin and not body.passkey:
        # Password-free (or a retry): checking it writes nothing, so the look-ups, the check and the transfer
        # share one unit of work (a PIN or passkey is checked in its own, whose failure count must commit).
        with db.transaction() as session:
            done = payments.find_operation(session, key)
            if done is None:
                fee = payments.quote_fee(session, "transfer", fen, wallet_id=wallet_id)
                confirmation = payments.confirm(session, customer.customer_id, amount=fen + fee, pin=None,
                                                passkey=None, ip=auth.client_ip(request),
                                                settings=settings_of(request))
            else:
                confirmation = done.confirmation
            done = transfers.transfer(session, payer_wallet_id=wallet_id, recipient=body.recipient, amount=fen,
                                      key=key, confirmation=confirmation, note=body.note, channel="api")
        return JSONResponse(transfer_out(done).model_dump(mode="json"), status_code=201)
    with db.read() as session:
        done = payments.find_operation(session, key)
        fee = payments.quote_fee(session, "transfer", fen, wallet_id=wallet_id)
    if done is None:
        from qianbao.web.customer_passkeys import relying_party

        rp_id, origin = relying_party(request)
        with credentials.transaction(db) as session:
            confirmation = payments.confirm(
                session, customer.customer_id, amount=fen + fee, pin=body.pin or None, passkey=body.passkey,
                rp_id=rp_id, origin=origin, binding=f"transfer:{key.split(':', 2)[-1]}",
                ip=auth.client_ip(request), settings=settings_of(request))
        with db.transaction() as session:
            done = transfers.transfer(session, payer_wallet_id=wallet_id, recipient=body.recipient, amount=fen,
                                      key=key, confirmation=confirmation, note=body.note, channel="api")
    else:
        # The same key again: the body must be the same request (IDEMPOTENCY_KEY_REUSED otherwise).
        with db.transaction() as session:
            done = transfers.transfer(session, payer_wallet_id=wallet_id, recipient=body.recipient, amount=fen,
                                      key=key, confirmation=done.confirmation, note=body.note, channel="api")
    return JSONResponse(transfer_out(done).model_dump(mode="json"), status_code=201)


@router.get("/transfers/{reference}")
def get_transfer(request: Request, reference: str, customer: ApiCustomer = Depends(api_customer)) -> TransferOut:
    wallet_id = _wallet_id(customer)
    with db_of(request).read() as session:
        try:
            op = payments.get_operation(session, reference[:24])
        except QianbaoError:
            raise QianbaoError("NOT_FOUND") from None
    if op.kind != "transfer" or op.payer_wallet_id != wallet_id:
        raise QianbaoError("NOT_FOUND")
    return transfer_out(op)
