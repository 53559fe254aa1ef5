"""The merchant scans the customer's payment code (付款码): `/api/merchant/v1/paycode-payments`.

Signed like the rest of the merchant API (qianbao.api.merchant_api: HMAC headers, nonce, timestamp).

    POST /api/merchant/v1/paycode-payments                 {code, amount (fen), merchant_order_no, description}
         201 {status: "succeeded"}  paid at once (小额免密 within the customer's threshold and daily cap)
         202 {status: "awaiting"}   the customer confirms on their phone within `confirm_before` (120 s)
         200                        the same charge again (same code, order number and amount): its state
         409 PAYMENT_CODE_EXPIRED / PAYMENT_CODE_REUSED, 422 PAYMENT_CODE_INVALID, and the payments core's
             refusals (LIMIT_EXCEEDED, INSUFFICIENT_BALANCE, WALLET_FROZEN, ...) — nothing moved
    GET  /api/merchant/v1/paycode-payments?reference=PC…   poll an awaiting charge: awaiting | succeeded |
                                                           declined | expired (with `failure_code`)

The merchant's order (`merchant_order_no`) is created by the charge and gets the usual signed notification
when paid; a declined or expired charge closes it.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qianbao import merchants
from qianbao.api.merchant_api import ApiMerchant, acts, reads
from qianbao.money import to_yuan
from qianbao.payments import paycode

router = APIRouter(prefix="/api/merchant/v1", tags=["merchant"])


class ChargeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=40, description="the 18 digits the scanner read (spaces allowed)")
    amount: int = Field(strict=True, description="fen (1 yuan = 100)")
    merchant_order_no: str = Field(max_length=64)
    description: str = Field(max_length=256)


class ChargeOut(BaseModel):
    reference: str
    status: str
    amount: int
    amount_yuan: str
    merchant_order_no: str
    code_tail: str
    confirm_before: datetime | None
    payment_reference: str | None
    failure_code: str | None


def _out(charge: paycode.Charge) -> ChargeOut:
    return ChargeOut(reference=charge.reference, status=charge.status, amount=charge.amount,
                     amount_yuan=str(to_yuan(charge.amount)), merchant_order_no=charge.merchant_order_no,
                     code_tail=charge.code_tail, confirm_before=charge.confirm_deadline,
                     payment_reference=charge.operation_reference, failure_code=charge.failure_code)


@router.post("/paycode-payments", status_code=201, response_model=ChargeOut,
             responses={202: {"description": "waiting for the customer's confirmation"}})
def charge_paycode(request: Request, body: ChargeIn, merchant: ApiMerchant = Depends(acts)) -> JSONResponse:
    with request.app.state.db.transaction() as session:
        shop = merchants.get_merchant(session, merchant.id)
        charge = paycode.charge(session, shop, body.code, amount=body.amount,
                                merchant_order_no=body.merchant_order_no, description=body.description)
    status = 200 if charge.replayed else 201 if charge.status == "succeeded" else 202
    return JSONResponse(_out(charge).model_dump(mode="json"), status_code=status)


@router.get("/paycode-payments", response_model=ChargeOut)
def get_paycode_payment(request: Request, reference: str = Query(max_length=24),
                        merchant: ApiMerchant = Depends(reads)) -> ChargeOut:
    with request.app.state.db.transaction() as session:
        return _out(paycode.get_charge(session, reference, merchant_id=merchant.id))
