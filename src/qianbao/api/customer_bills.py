"""The customer JSON API for bills (生活缴费), parcels (寄件支付) and withholding agreements (免密代扣).
Bearer token only (`api_customer`); writes take an `Idempotency-Key` header.

    GET    /api/v1/billers                               the billers offered (policy table)
    POST   /api/v1/bills/lookup                          {biller, reference} → what is due (amount 0: nothing)
    POST   /api/v1/bills/payments                        {biller, reference, bill_id, amount_fen, pin? | passkey?,
                                                          save?} → 201 the payment (processing/succeeded/failed)
    GET    /api/v1/bills/payments/{payment_ref}          one of the customer's bill payments
    GET    /api/v1/bills/saved                           my billers;  POST {biller, reference, label?} saves one
    DELETE /api/v1/bills/saved/{saved_id}                forget one
    GET    /api/v1/parcels                               the customer's postal express orders
    POST   /api/v1/parcels/{order_no}/pay                {pin? | passkey?} → the paid order
    GET    /api/v1/agreements                            withholding agreements, with this month's use
    POST   /api/v1/agreements                            {per_payment_cap, monthly_cap (yuan), pin} → 201
    POST   /api/v1/agreements/{agreement_id}/cancel      cancel it

A passkey assertion is bound to `payment:<Idempotency-Key>`. Without a PIN or passkey a payment is
password-free only within the customer's own threshold (CONFIRMATION_REQUIRED otherwise). The same
Idempotency-Key again answers the first result (`replayed: true`) and moves nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from qianbao import credentials, payments
from qianbao.api.customer_auth import ApiCustomer, Money, api_customer, idempotency_key, money
from qianbao.errors import QianbaoError
from qianbao.money import parse_yuan
from qianbao.payments import bills, parcels, withholding
from qianbao.web import auth
from qianbao.web.customer_bills import billers_of
from qianbao.web.customer_common import db_of, lang_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["customer bills and parcels"])


class BillerOut(BaseModel):
    code: str
    category: str
    name: str
    name_zh: str
    name_en: str
    region: str
    reference_format: str


class LookupIn(BaseModel):
    biller: str = Field(..., max_length=32)
    reference: str = Field(..., max_length=40)


class DueOut(BaseModel):
    biller: BillerOut
    reference_masked: str
    holder: str
    amount: Money
    nothing_due: bool
    period: str | None
    due_date: date | None
    bill_id: str | None


class PayIn(BaseModel):
    biller: str = Field(..., max_length=32)
    reference: str = Field(..., max_length=40)
    bill_id: str = Field(..., max_length=40)
    amount_fen: int = Field(..., ge=0, le=10**12, description="the amount due, as the look-up gave it")
    pin: str | None = Field(None, max_length=12)
    passkey: dict[str, Any] | None = Field(
        None, description="a WebAuthn assertion bound to `payment:<Idempotency-Key>`")
    save: bool = False


class PaymentOut(BaseModel):
    reference: str
    status: str
    failure_code: str | None
    biller: BillerOut
    reference_masked: str
    holder: str
    period: str | None
    amount: Money
    confirmation: str
    biller_confirmation: str | None
    created_at: datetime
    completed_at: datetime | None
    replayed: bool


class SaveIn(BaseModel):
    biller: str = Field(..., max_length=32)
    reference: str = Field(..., max_length=40)
    label: str | None = Field(None, max_length=32)


class SavedOut(BaseModel):
    id: int
    biller: BillerOut
    reference_masked: str
    label: str | None
    last_paid_at: datetime | None


class ConfirmIn(BaseModel):
    pin: str | None = Field(None, max_length=12)
    passkey: dict[str, Any] | None = None


class ParcelOut(BaseModel):
    order_no: str
    status: str
    expired: bool
    receiver_city: str
    weight_grams: int
    price: Money
    sender: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    paid_via: str | None
    payment_reference: str | None
    charge_refused_code: str | None
    replayed: bool = False


class AgreementIn(BaseModel):
    per_payment_cap: str = Field(..., max_length=24, description='yuan, e.g. "100.00"')
    monthly_cap: str = Field(..., max_length=24, description='yuan, e.g. "500.00"')
    pin: str | None = Field(None, max_length=12)
    passkey: dict[str, Any] | None = Field(
        None, description="a WebAuthn assertion bound to `agreement:<Idempotency-Key>`")


class AgreementOut(BaseModel):
    id: str
    merchant: str
    status: str
    per_payment_cap: Money
    monthly_cap: Money
    month_used: Money
    month_remaining: Money
    signed_at: datetime
    cancelled_at: datetime | None


def _biller(view: bills.BillerView, lang: str) -> BillerOut:
    return BillerOut(code=view.code, category=view.category, name=view.name(lang), name_zh=view.name_zh,
                     name_en=view.name_en, region=view.region, reference_format=view.reference_format)


def _payment(view: bills.BillPaymentView, lang: str) -> PaymentOut:
    return PaymentOut(reference=view.operation_reference, status=view.status, failure_code=view.failure_code,
                      biller=_biller(view.biller, lang), reference_masked=view.reference_masked, holder=view.holder,
                      period=view.period, amount=money(view.amount), confirmation=view.confirmation_method,
                      biller_confirmation=view.biller_confirmation, created_at=view.created_at,
                      completed_at=view.completed_at, replayed=view.replayed)


def _parcel(view: parcels.ParcelView) -> ParcelOut:
    return ParcelOut(order_no=view.order_no, status=view.status, expired=view.expired,
                     receiver_city=view.receiver_city, weight_grams=view.weight_grams, price=money(view.price),
                     sender=view.sender, created_at=view.created_at, expires_at=view.expires_at,
                     paid_at=view.paid_at, paid_via=view.paid_via, payment_reference=view.operation_reference,
                     charge_refused_code=view.charge_refused_code, replayed=view.replayed)


def _agreement(view: withholding.AgreementView) -> AgreementOut:
    return AgreementOut(id=view.public_id, merchant=view.merchant, status=view.status,
                        per_payment_cap=money(view.per_payment_cap), monthly_cap=money(view.monthly_cap),
                        month_used=money(view.month_used), month_remaining=money(view.month_remaining),
                        signed_at=view.signed_at, cancelled_at=view.cancelled_at)


def _confirm(request: Request, customer_id: int, *, pin: str | None, passkey: Any, binding: str) -> bills.Confirm:
    from qianbao.web.customer_passkeys import relying_party

    rp_id, origin = relying_party(request)

    def confirm(session: Session, amount: int) -> str:
        return payments.confirm(session, customer_id, amount=amount, pin=pin or None, passkey=passkey, rp_id=rp_id,
                                origin=origin, binding=binding, ip=auth.client_ip(request),
                                settings=settings_of(request))

    return confirm


def _client_key(key: str) -> str:
    return key.split(":", 2)[-1]


# ---- billers and bills ---------------------------------------------------------------------------------

@router.get("/billers")
def list_billers(request: Request, customer: ApiCustomer = Depends(api_customer)) -> list[BillerOut]:
    with db_of(request).read() as session:
        return [_biller(view, lang_of(request)) for view in bills.list_billers(session)]


@router.post("/bills/lookup")
def lookup(request: Request, body: LookupIn, customer: ApiCustomer = Depends(api_customer)) -> DueOut:
    due = bills.lookup_bill(db_of(request), billers_of(request), body.biller, body.reference)
    return DueOut(biller=_biller(due.biller, lang_of(request)), reference_masked=due.reference_masked,
                  holder=due.holder, amount=money(due.amount), nothing_due=due.nothing_due, period=due.period,
                  due_date=due.due_date, bill_id=due.bill_id)


@router.post("/bills/payments", status_code=201, response_model=PaymentOut)
def pay_bill(request: Request, body: PayIn, key: str = Depends(idempotency_key),
             customer: ApiCustomer = Depends(api_customer)) -> Response:
    paid = bills.pay_bill(
        db_of(request), billers_of(request), key=f"bill:{key}", customer_id=customer.customer_id, code=body.biller,
        reference=body.reference, bill_id=body.bill_id, amount=body.amount_fen, channel="api", save=body.save,
        confirm=_confirm(request, customer.customer_id, pin=body.pin, passkey=body.passkey,
                         binding=f"payment:{_client_key(key)}"),
    )
    return JSONResponse(_payment(paid, lang_of(request)).model_dump(mode="json"), status_code=201)


@router.get("/bills/payments/{payment_ref}")
def get_bill_payment(request: Request, payment_ref: str, customer: ApiCustomer = Depends(api_customer)) -> PaymentOut:
    with db_of(request).read() as session:
        return _payment(bills.get_payment(session, customer.customer_id, payment_ref[:64]), lang_of(request))


@router.get("/bills/saved")
def list_saved(request: Request, customer: ApiCustomer = Depends(api_customer)) -> list[SavedOut]:
    with db_of(request).read() as session:
        return [SavedOut(id=item.id, biller=_biller(item.biller, lang_of(request)),
                         reference_masked=item.reference_masked, label=item.label, last_paid_at=item.last_paid_at)
                for item in bills.saved_billers(session, customer.customer_id)]


@router.post("/bills/saved", status_code=201, response_model=SavedOut)
def save(request: Request, body: SaveIn, customer: ApiCustomer = Depends(api_customer)) -> Response:
    with db_of(request).transaction() as session:
        item = bills.save_biller(session, customer.customer_id, body.biller, body.reference, label=body.label)
    out = SavedOut(id=item.id, biller=_biller(item.biller, lang_of(request)), reference_masked=item.reference_masked,
                   label=item.label, last_paid_at=item.last_paid_at)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.delete("/bills/saved/{saved_id}", status_code=204)
def remove_saved(request: Request, saved_id: str, customer: ApiCustomer = Depends(api_customer)) -> Response:
    if not saved_id.isdigit() or len(saved_id) > 12:
        raise QianbaoError("NOT_FOUND")
    with db_of(request).transaction() as session:
        bills.remove_saved_biller(session, customer.customer_id, int(saved_id))
    return Response(status_code=204)


# ---- parcels -------------------------------------------------------------------------------------------

@router.get("/parcels")
def list_parcels(request: Request, customer: ApiCustomer = Depends(api_customer)) -> list[ParcelOut]:
    with db_of(request).read() as session:
        return [_parcel(view) for view in parcels.customer_orders(session, customer.customer_id)]


async def _confirm_body(request: Request) -> ConfirmIn | QianbaoError:
    """The JSON body, read here so that the order's owner is checked before the body's shape: someone
    else's order is NOT_FOUND whatever was sent."""
    raw = await request.body()
    if not raw.strip():
        return ConfirmIn(pin=None, passkey=None)
    try:
        return ConfirmIn.model_validate_json(raw)
    except ValidationError:
        return QianbaoError("VALIDATION_FAILED")


@router.post("/parcels/{order_no}/pay", openapi_extra={"requestBody": {
    "content": {"application/json": {"schema": ConfirmIn.model_json_schema()}}}})
def pay_parcel(request: Request, order_no: str, body: ConfirmIn | QianbaoError = Depends(_confirm_body),
               client_key: str | None = Header(None, alias="Idempotency-Key"),
               customer: ApiCustomer = Depends(api_customer)) -> ParcelOut:
    with db_of(request).read() as session:
        parcels.get_order(session, customer.customer_id, order_no[:16])  # NOT_FOUND before anything else
    if isinstance(body, QianbaoError):
        raise body
    key = idempotency_key(customer, client_key)
    confirm = _confirm(request, customer.customer_id, pin=body.pin, passkey=body.passkey,
                       binding=f"payment:{_client_key(key)}")
    with credentials.transaction(db_of(request)) as session:
        paid = parcels.pay_order(session, customer_id=customer.customer_id, order_no=order_no[:16],
                                 key=f"parcel:{key}", confirm=confirm, channel="api")
    return _parcel(paid)


# ---- withholding agreements ----------------------------------------------------------------------------

@router.get("/agreements")
def list_agreements(request: Request, customer: ApiCustomer = Depends(api_customer)) -> list[AgreementOut]:
    with db_of(request).read() as session:
        return [_agreement(view) for view in withholding.list_agreements(session, customer.customer_id)]


@router.post("/agreements", status_code=201, response_model=AgreementOut)
def sign_agreement(request: Request, body: AgreementIn, key: str = Depends(idempotency_key),
                   customer: ApiCustomer = Depends(api_customer)) -> Response:
    per_payment, monthly = parse_yuan(body.per_payment_cap), parse_yuan(body.monthly_cap)
    with db_of(request).read() as session:
        earlier = withholding.agreement_by_key(session, customer.customer_id, key)
    if earlier is not None:
        return JSONResponse(_agreement(earlier).model_dump(mode="json"), status_code=201)
    from qianbao.web.customer_passkeys import relying_party

    rp_id, origin = relying_party(request)
    with credentials.transaction(db_of(request)) as session:
        if not body.pin and not body.passkey:
            raise QianbaoError("CONFIRMATION_REQUIRED")
        method = payments.confirm(session, customer.customer_id, amount=per_payment, pin=body.pin or None,
                                  passkey=body.passkey, rp_id=rp_id, origin=origin,
                                  binding=f"agreement:{_client_key(key)}", allow_password_free=False,
                                  ip=auth.client_ip(request), settings=settings_of(request))
        signed = withholding.sign(session, customer.customer_id, per_payment_cap=per_payment, monthly_cap=monthly,
                                  confirmed_with=method, key=key)
    return JSONResponse(_agreement(signed).model_dump(mode="json"), status_code=201)


@router.post("/agreements/{agreement_id}/cancel")
def cancel_agreement(request: Request, agreement_id: str,
                     customer: ApiCustomer = Depends(api_customer)) -> AgreementOut:
    with db_of(request).transaction() as session:
        return _agreement(withholding.cancel(session, customer.customer_id, agreement_id[:24]))
