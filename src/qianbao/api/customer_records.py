"""The customer JSON API for the transaction history (交易记录, SPEC §8). Bearer token only.

    GET /api/v1/records?from=&to=&type=&min_amount=&max_amount=&counterparty=&cursor=&limit=
        newest first; `type` is a kind (transfer, topup, ...) or a direction (in, out); dates are
        Asia/Shanghai days (yyyy-mm-dd, both included); amounts are yuan; `next_cursor` continues
    GET /api/v1/records/{reference}     one movement of the customer's wallet (another's is 404)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from qianbao.api.customer_auth import ApiCustomer, Money, api_customer, money
from qianbao.errors import QianbaoError
from qianbao.payments import history
from qianbao.web.customer_common import db_of

router = APIRouter(prefix="/api/v1", tags=["customer records"])


class RecordOut(BaseModel):
    reference: str
    type: str
    direction: str
    amount: Money
    fee: Money
    status: str
    counterparty: str | None
    note: str | None
    created_at: datetime


class RecordsOut(BaseModel):
    records: list[RecordOut]
    next_cursor: str | None


class RecordDetailOut(RecordOut):
    channel: str
    confirmation: str
    order_reference: str | None
    failure_reason: str | None
    completed_at: datetime | None
    details: dict[str, Any]


def _wallet_id(customer: ApiCustomer) -> int:
    if customer.wallet_id is None:
        raise QianbaoError("NOT_FOUND")
    return customer.wallet_id


def _out(record: history.Record) -> dict[str, Any]:
    return {"reference": record.reference, "type": record.kind, "direction": record.direction,
            "amount": money(record.amount), "fee": money(record.fee), "status": record.status,
            "counterparty": record.counterparty, "note": record.note, "created_at": record.created_at}


@router.get("/records")
def list_records(
    request: Request,
    start: str | None = Query(None, alias="from", max_length=10),
    end: str | None = Query(None, alias="to", max_length=10),
    kind: str | None = Query(None, alias="type", max_length=24),
    min_amount: str | None = Query(None, max_length=20),
    max_amount: str | None = Query(None, max_length=20),
    counterparty: str | None = Query(None, max_length=40),
    cursor: str | None = Query(None, max_length=64),
    limit: int = Query(20, ge=1, le=history.PAGE_MAX),
    customer: ApiCustomer = Depends(api_customer),
) -> RecordsOut:
    flt = history.RecordFilter.parse(start=start, end=end, kind=kind, min_amount=min_amount,
                                     max_amount=max_amount, counterparty=counterparty)
    with db_of(request).read() as session:
        page = history.records(session, _wallet_id(customer), flt, limit=limit, cursor=cursor)
    return RecordsOut(records=[RecordOut(**_out(r)) for r in page.items], next_cursor=page.next_cursor)


@router.get("/records/{reference}")
def get_record(request: Request, reference: str, customer: ApiCustomer = Depends(api_customer)) -> RecordDetailOut:
    with db_of(request).read() as session:
        detail = history.record_detail(session, _wallet_id(customer), reference)
    return RecordDetailOut(**_out(detail.record), channel=detail.channel, confirmation=detail.confirmation,
                           order_reference=detail.order_reference, failure_reason=detail.failure_reason,
                           completed_at=detail.completed_at, details=detail.details)
