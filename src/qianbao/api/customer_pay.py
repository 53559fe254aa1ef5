"""The customer JSON API for merchant payments: scanned QR codes and the payment code (SPEC §6.2).
Bearer token only (`api_customer`); money writes take an `Idempotency-Key` header (scoped per customer).

    POST /api/v1/qr/parse                {payload} → the merchant as registered (never the code's own text),
                                         static/dynamic, the order's amount and number, whether 小额免密 applies
    POST /api/v1/qr-payments             {payload, amount? (yuan, static codes), pin? | passkey?, note?}
                                         (Idempotency-Key) → 201 the payment (200 when replayed). A passkey
                                         answers the challenge of step-up/options with binding
                                         "payment:<Idempotency-Key>"; neither PIN nor passkey = 小额免密,
                                         allowed within the customer's threshold and the day's cap
    POST /api/v1/paycodes                → 201 a new payment code (18 digits, 60 s; earlier ones stop working)
    GET  /api/v1/paycodes/pending        the merchant charge waiting for this customer's confirmation, or null
    POST /api/v1/paycodes/confirm        {reference, pin? | passkey?} → the charge, paid (passkey binding
                                         "payment:<reference>")
    POST /api/v1/paycodes/decline        {reference} → the charge, declined

Amounts in answers carry fen and yuan. Refusals are problem+json with the codes of docs/qr-payments.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qianbao import credentials, merchants, payments
from qianbao.api.customer_auth import ApiCustomer, api_customer, idempotency_key, money
from qianbao.api.customer_auth import Money as MoneyOut
from qianbao.errors import QianbaoError
from qianbao.payments import paycode
from qianbao.web import auth
from qianbao.web.customer_common import db_of
from qianbao.web.customer_pay import pay_scanned, read_code

router = APIRouter(prefix="/api/v1", tags=["customer merchant payments"])


def _wallet(customer: ApiCustomer) -> int:
    if customer.wallet_id is None:
        raise QianbaoError("NOT_FOUND")
    return customer.wallet_id


class ParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: str = Field(max_length=1024)


class MerchantOut(BaseModel):
    merchant_no: str
    name_zh: str
    name_en: str
    city: str


class OrderOut(BaseModel):
    merchant_order_no: str
    description: str | None
    expires_at: datetime | None


class ParsedOut(BaseModel):
    merchant: MerchantOut
    dynamic: bool
    amount: MoneyOut | None = Field(description="fixed by the code (dynamic: its order's amount); null: enter it")
    order: OrderOut | None
    currency: str = "CNY"
    password_free_threshold: MoneyOut | None = Field(
        description="the customer's 小额免密 threshold when turned on (no PIN needed up to it), else null")


@router.post("/qr/parse", response_model=ParsedOut)
def parse_qr(request: Request, body: ParseIn, customer: ApiCustomer = Depends(api_customer)) -> ParsedOut:
    with db_of(request).read() as session:
        scanned = read_code(session, body.payload)
        chosen = payments.payment_settings(session, customer.customer_id)
    return ParsedOut(
        merchant=MerchantOut(merchant_no=scanned.merchant_no, name_zh=scanned.name_zh, name_en=scanned.name_en,
                             city=scanned.city),
        dynamic=scanned.target.dynamic, amount=money(scanned.amount) if scanned.amount is not None else None,
        order=OrderOut(merchant_order_no=scanned.order_no, description=scanned.description,
                       expires_at=scanned.expires_at) if scanned.order_no else None,
        password_free_threshold=money(chosen.password_free_threshold) if chosen.password_free_enabled else None,
    )


class PayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: str = Field(max_length=1024)
    amount: str | None = Field(default=None, max_length=32, description="yuan, e.g. \"12.50\"; static codes only")
    pin: str | None = Field(default=None, max_length=12)
    passkey: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=60)


class PaymentOut(BaseModel):
    reference: str
    status: str
    amount: MoneyOut
    merchant: str
    merchant_order_no: str
    confirmation: str
    created_at: datetime
    replayed: bool


@router.post("/qr-payments", status_code=201, response_model=PaymentOut)
def pay_qr(request: Request, body: PayIn, customer: ApiCustomer = Depends(api_customer),
           key: str = Depends(idempotency_key)) -> JSONResponse:
    from qianbao.web.customer_passkeys import relying_party

    wallet_id = _wallet(customer)
    rp_id, origin = relying_party(request)
    client_key = key.split(":", 2)[2]
    with credentials.transaction(db_of(request)) as session:
        payment = pay_scanned(session, customer.customer_id, wallet_id, body.payload, amount_text=body.amount,
                              pin=body.pin, passkey=body.passkey, client_key=client_key, note=body.note,
                              rp_id=rp_id, origin=origin, ip=auth.client_ip(request), channel="api", key=key)
        operation = payment.operation
        out = PaymentOut(reference=operation.reference, status=operation.status, amount=money(operation.amount),
                         merchant=payment.merchant.name_zh, merchant_order_no=payment.order.merchant_order_no,
                         confirmation=operation.confirmation, created_at=operation.created_at,
                         replayed=payment.replayed)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if out.replayed else 201)


class PaycodeOut(BaseModel):
    code: str
    expires_at: datetime
    refresh_seconds: int = int(paycode.LIFETIME.total_seconds())


@router.post("/paycodes", status_code=201, response_model=PaycodeOut)
def new_paycode(request: Request, customer: ApiCustomer = Depends(api_customer)) -> PaycodeOut:
    with db_of(request).transaction() as session:
        issued = paycode.issue(session, customer.customer_id, _wallet(customer))
    return PaycodeOut(code=issued.code, expires_at=issued.expires_at)


class ChargeOut(BaseModel):
    reference: str
    status: str = Field(description="awaiting | succeeded | declined | expired")
    amount: MoneyOut
    merchant: str
    merchant_order_no: str
    code_tail: str
    confirm_before: datetime | None
    payment_reference: str | None
    failure_code: str | None


def charge_out(session: Any, charge: paycode.Charge) -> ChargeOut:
    merchant = merchants.get_merchant(session, charge.merchant_id)
    return ChargeOut(reference=charge.reference, status=charge.status, amount=money(charge.amount),
                     merchant=merchant.name_zh, merchant_order_no=charge.merchant_order_no,
                     code_tail=charge.code_tail, confirm_before=charge.confirm_deadline,
                     payment_reference=charge.operation_reference, failure_code=charge.failure_code)


class PendingOut(BaseModel):
    charge: ChargeOut | None


@router.get("/paycodes/pending", response_model=PendingOut)
def pending_charge(request: Request, customer: ApiCustomer = Depends(api_customer)) -> PendingOut:
    with db_of(request).transaction() as session:
        waiting = paycode.awaiting_charge(session, customer.customer_id)
        return PendingOut(charge=charge_out(session, waiting) if waiting else None)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(max_length=24)
    pin: str | None = Field(default=None, max_length=12)
    passkey: dict[str, Any] | None = None


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(max_length=24)


@router.post("/paycodes/confirm", response_model=ChargeOut)
def confirm_charge(request: Request, body: ConfirmIn, customer: ApiCustomer = Depends(api_customer)) -> ChargeOut:
    from qianbao.web.customer_passkeys import relying_party

    if not body.pin and not body.passkey:
        raise QianbaoError("CONFIRMATION_REQUIRED")
    rp_id, origin = relying_party(request)
    with credentials.transaction(db_of(request)) as session:
        amount = paycode.amount_of_awaiting(session, customer.customer_id, body.reference)
        confirmation = payments.confirm(session, customer.customer_id, amount=amount, pin=body.pin,
                                        passkey=body.passkey, rp_id=rp_id, origin=origin,
                                        binding=f"payment:{body.reference}", allow_password_free=False,
                                        ip=auth.client_ip(request))
        charge = paycode.confirm_charge(session, customer.customer_id, body.reference, confirmation)
        return charge_out(session, charge)


@router.post("/paycodes/decline", response_model=ChargeOut)
def decline_charge(request: Request, body: DeclineIn, customer: ApiCustomer = Depends(api_customer)) -> ChargeOut:
    with db_of(request).transaction() as session:
        return charge_out(session, paycode.decline_charge(session, customer.customer_id, body.reference))
