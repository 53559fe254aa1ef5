"""The cashier's page for the customer's payment code (付款码): `/m/paycode` in the merchant's pages.

    GET  /m/paycode                    the form: the code (a USB/Bluetooth scanner types it and Enter; or the
                                       device camera reads it, as in the customer's scan page), amount, description
    POST /m/paycode                    charge it (qianbao.payments.paycode.charge) → the result, or
                                       "waiting for the customer" polled every 2 s
    GET  /m/paycode/status?reference=  the polled fragment: awaiting | succeeded | declined | expired

The merchant's order number is made here (`C` + time + random). Refusals (PAYMENT_CODE_EXPIRED / _REUSED /
_INVALID, the customer's limits or balance) are shown above the form with their code; nothing moves.
Signed in as the merchant (`merchant_pages.merchant_requires`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import merchants
from qianbao.errors import QianbaoError
from qianbao.money import parse_yuan
from qianbao.payments import paycode
from qianbao.web.customer_pay import SCAN_CSP
from qianbao.web.merchant_pages import MerchantContext, merchant_requires
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PAGE = "/m/paycode"


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _page(request: Request, merchant: MerchantContext, *, error: QianbaoError | None = None,
          form: dict[str, str] | None = None, charge: paycode.Charge | None = None) -> Response:
    response = render(request, "merchant/paycode.html", status_code=error.status if error else 200,
                      section="paycode", merchant=merchant, form=form or {}, charge=charge,
                      error=error.message(_lang(request)) if error else None, error_code=error.code if error else None)
    response.headers["content-security-policy"] = SCAN_CSP
    return response


@router.get(PAGE, response_class=HTMLResponse)
def paycode_page(request: Request, merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    return _page(request, merchant)


@router.post(PAGE, response_class=HTMLResponse)
def paycode_charge(request: Request, payload: str = Form("", max_length=64), amount: str = Form("", max_length=32),
                   description: str = Form("", max_length=128),
                   merchant: MerchantContext = Depends(merchant_requires("merchant.act"))) -> Response:
    form = {"amount": amount, "description": description}
    try:
        fen = parse_yuan(amount)
        number = "C" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3).upper()
        with request.app.state.db.transaction() as session:
            shop = merchants.get_merchant(session, merchant.id)
            charge = paycode.charge(session, shop, payload, amount=fen, merchant_order_no=number,
                                    description=description.strip() or "付款码收款 Payment code")
    except QianbaoError as exc:
        return _page(request, merchant, error=exc, form=form)
    return _page(request, merchant, charge=charge)


@router.get(PAGE + "/status", response_class=HTMLResponse)
def paycode_status(request: Request, reference: str = Query("", max_length=24),
                   merchant: MerchantContext = Depends(merchant_requires("merchant.read"))) -> Response:
    with request.app.state.db.transaction() as session:
        charge = paycode.get_charge(session, reference, merchant_id=merchant.id)
    return render(request, "merchant/_paycode_status.html", charge=charge)
