"""The customer app's transaction history (交易记录, SPEC §8).

    GET /app/records                   every movement, newest first; filters (period, type, amount range,
                                       counterparty) in the query string; "more" follows the cursor
    GET /app/records/export.csv        the filtered list as CSV (UTF-8 with BOM: Excel and WPS open it)
    GET /app/records/{reference}       one movement in detail (another wallet's is 404)
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.errors import QianbaoError
from qianbao.payments import history
from qianbao.payments.models import KINDS
from qianbao.wallets import customers as wallet_customers
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import db_of, error_text, lang_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

RECORDS = "/app/records"
PAGE = 20


def _wallet_id(request: Request, customer_id: int) -> int:
    with db_of(request).read() as session:
        wallet = wallet_customers.wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return wallet.id


@router.get(RECORDS, response_class=HTMLResponse)
def records_page(
    request: Request,
    start: str = Query("", alias="from", max_length=10),
    end: str = Query("", alias="to", max_length=10),
    kind: str = Query("", alias="type", max_length=24),
    min_amount: str = Query("", alias="min", max_length=20),
    max_amount: str = Query("", alias="max", max_length=20),
    q: str = Query("", max_length=40),
    cursor: str = Query("", max_length=64),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    wallet_id = _wallet_id(request, customer.customer_id)
    form = {"from": start, "to": end, "type": kind, "min": min_amount, "max": max_amount, "q": q}
    error = None
    page = history.RecordsPage([], None)
    try:
        flt = history.RecordFilter.parse(start=start, end=end, kind=kind, min_amount=min_amount,
                                         max_amount=max_amount, counterparty=q)
        with db_of(request).read() as session:
            page = history.records(session, wallet_id, flt, limit=PAGE, cursor=cursor or None)
        query = flt.as_query()
    except QianbaoError as exc:
        error = error_text(request, exc)
        query = {}
    more = f"{RECORDS}?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else None
    export = f"{RECORDS}/export.csv" + (f"?{urlencode(query)}" if query else "")
    return render(request, "customer/records.html", status_code=422 if error else 200, section="records",
                  page=page, form=form, error=error, more=more, export=export, kinds=KINDS,
                  filtered=bool(query), continued=bool(cursor))


@router.get(RECORDS + "/export.csv")
def records_export(
    request: Request,
    start: str = Query("", alias="from", max_length=10),
    end: str = Query("", alias="to", max_length=10),
    kind: str = Query("", alias="type", max_length=24),
    min_amount: str = Query("", alias="min", max_length=20),
    max_amount: str = Query("", alias="max", max_length=20),
    q: str = Query("", max_length=40),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    wallet_id = _wallet_id(request, customer.customer_id)
    flt = history.RecordFilter.parse(start=start, end=end, kind=kind, min_amount=min_amount,
                                     max_amount=max_amount, counterparty=q)
    with db_of(request).read() as session:
        body = history.export_csv(session, wallet_id, flt, lang_of(request))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": "attachment; filename=\"qianbao-records.csv\"",
        "Cache-Control": "no-store",
    })


@router.get(RECORDS + "/{reference}", response_class=HTMLResponse)
def record_page(request: Request, reference: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    wallet_id = _wallet_id(request, customer.customer_id)
    with db_of(request).read() as session:
        detail = history.record_detail(session, wallet_id, reference)
    return render(request, "customer/record_detail.html", section="records", detail=detail, r=detail.record)
