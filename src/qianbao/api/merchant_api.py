"""The merchant JSON API, `/api/merchant/v1/...` (docs/merchants.md, "API").

Every request is signed (qianbao.merchants.signing): the headers X-Qianbao-Merchant, X-Qianbao-Key,
X-Qianbao-Timestamp, X-Qianbao-Nonce and X-Qianbao-Signature over method, path with query, timestamp, nonce
and the raw body. A missing, stale, replayed or wrong signature is a 401 problem and nothing happens; the
nonce is spent in its own unit of work as soon as the signature verifies, so a replay is refused even when
the first request was itself refused. No cookie or bearer token is read here.

    POST /api/merchant/v1/orders                                   create (201; 200 when replayed)
    GET  /api/merchant/v1/orders?status=&limit=&before=            list, newest first
    GET  /api/merchant/v1/orders/{merchant_order_no}               query (refunds and notifications inside)
    POST /api/merchant/v1/orders/{merchant_order_no}/close         close an unpaid order
    POST /api/merchant/v1/orders/{merchant_order_no}/confirm       confirm (fulfil) a paid order
    POST /api/merchant/v1/orders/{merchant_order_no}/refunds       refund (201; 200 when replayed)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qianbao import access, audit, credentials, merchants
from qianbao.errors import QianbaoError
from qianbao.merchants import signing
from qianbao.merchants.models import Merchant
from qianbao.web.auth import AccessSpec

router = APIRouter(prefix="/api/merchant/v1", tags=["merchant"])


@dataclass(frozen=True)
class ApiMerchant:
    id: int
    merchant_no: str

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor.merchant(self.id)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _authenticate(request: Request, body: bytes, action: str) -> ApiMerchant:
    headers = request.headers
    signed = merchants.SignedRequest(
        merchant_no=signing.header(headers, signing.HEADER_MERCHANT),
        api_key=signing.header(headers, signing.HEADER_KEY),
        timestamp=signing.header(headers, signing.HEADER_TIMESTAMP),
        nonce=signing.header(headers, signing.HEADER_NONCE),
        signature=signing.header(headers, signing.HEADER_SIGNATURE),
    )
    ip = request.client.host if request.client else "unknown"
    with request.app.state.db.transaction() as session:
        _refuse_if_over_limit(session, ip)
    try:
        with request.app.state.db.transaction() as session:
            merchant: Merchant = merchants.authenticate_request(session, signed, request.method, _target(request),
                                                                body)
            found = ApiMerchant(merchant.id, merchant.merchant_no)
            suspended = merchant.status != "active"
    except QianbaoError as exc:
        _refused(request, signed, exc, ip)
        raise
    if suspended:
        raise QianbaoError("MERCHANT_SUSPENDED")
    access.require(access.Actor.merchant(found.id), action)
    return found


# Refused signatures per client address: past the limit the API answers RATE_LIMITED (429) at once, so
# keys and secrets cannot be guessed at speed. A refusal naming a known merchant is a security event and is
# audited (merchant.api.refused, with the code).
FAILURE_BUCKET = "merchant_api_auth"
FAILURE_LIMIT = 60
FAILURE_WINDOW_SECONDS = 300


class _Probe(Exception):
    pass


def _refuse_if_over_limit(session: Any, ip: str) -> None:
    """RATE_LIMITED if this address is past its refusals; counts nothing (the probe's hit is rolled back)."""
    try:
        with session.begin_nested():
            credentials.ratelimit.hit(session, FAILURE_BUCKET, ip, FAILURE_LIMIT, FAILURE_WINDOW_SECONDS)
            raise _Probe
    except _Probe:
        pass


def _refused(request: Request, signed: merchants.SignedRequest, exc: QianbaoError, ip: str) -> None:
    with request.app.state.db.transaction() as session:
        known = merchants.merchant_by_no(session, signed.merchant_no) if signed.merchant_no.isdigit() else None
        if known is not None and exc.code != "MERCHANT_SUSPENDED":
            audit.record(session, action="merchant.api.refused", actor=audit.Actor.merchant(known.id),
                         channel="merchant_api", object_type="merchant", object_id=known.id, outcome="refused",
                         details={"code": exc.code, "method": request.method, "path": request.url.path})
        # Already at the limit: the next request is refused up front.
        with contextlib.suppress(QianbaoError):
            credentials.ratelimit.hit(session, FAILURE_BUCKET, ip, FAILURE_LIMIT, FAILURE_WINDOW_SECONDS)


def _dependency(action: str) -> Any:
    def dependency(request: Request, body: bytes = Depends(_raw_body)) -> ApiMerchant:
        return _authenticate(request, body, action)

    dependency.__qb_access__ = AccessSpec(  # type: ignore[attr-defined]
        "merchant", frozenset({access.MERCHANT}), action, credential="hmac")
    return dependency


reads = _dependency("merchant.read")
acts = _dependency("merchant.act")


def _base_url(request: Request) -> str:
    configured = getattr(request.app.state.settings, "public_url", "") or ""
    return configured.rstrip("/") or str(request.base_url).rstrip("/")


class CreateOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchant_order_no: str = Field(max_length=64)
    amount: int = Field(strict=True, description="fen (1 yuan = 100)")
    description: str = Field(max_length=256)
    expires_in: int | None = Field(default=None, description="seconds, 60 … 604800; default 1800")
    notify_url: str | None = Field(default=None, max_length=500)


class CreateRefund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund_no: str = Field(max_length=64)
    amount: int = Field(strict=True, description="fen")
    reason: str | None = Field(default=None, max_length=400)


def _answer(request: Request, session: Any, order: merchants.MerchantOrder, status: int = 200) -> JSONResponse:
    return JSONResponse(merchants.order_json(session, order, base_url=_base_url(request)), status_code=status)


@router.post("/orders", status_code=201)
def create_order(request: Request, body: CreateOrder, merchant: ApiMerchant = Depends(acts)) -> JSONResponse:
    with request.app.state.db.transaction() as session:
        created = merchants.create_order(session, merchant.id, merchant_order_no=body.merchant_order_no,
                                         amount=body.amount, description=body.description,
                                         expires_in=body.expires_in, notify_url=body.notify_url)
        return _answer(request, session, created.order, 200 if created.replayed else 201)


@router.get("/orders")
def list_orders(request: Request, status: str | None = Query(None, max_length=16),
                limit: int = Query(20, ge=1, le=100), before: str | None = Query(None, max_length=64),
                merchant: ApiMerchant = Depends(reads)) -> JSONResponse:
    with request.app.state.db.read() as session:
        before_id = None
        if before:
            before_id = merchants.get_order(session, merchant.id, before).id
        rows = merchants.list_orders(session, merchant.id, status=status, limit=limit, before_id=before_id)
        items = [merchants.order_json(session, o, base_url=_base_url(request), with_children=False) for o in rows]
    return JSONResponse({"orders": items,
                         "next_before": items[-1]["merchant_order_no"] if len(items) == limit else None})


@router.get("/orders/{merchant_order_no}")
def get_order(request: Request, merchant_order_no: str, merchant: ApiMerchant = Depends(reads)) -> JSONResponse:
    with request.app.state.db.read() as session:
        return _answer(request, session, merchants.get_order(session, merchant.id, merchant_order_no))


@router.post("/orders/{merchant_order_no}/close")
def close_order(request: Request, merchant_order_no: str, merchant: ApiMerchant = Depends(acts)) -> JSONResponse:
    with request.app.state.db.transaction() as session:
        order = merchants.close_order(session, merchant.id, merchant_order_no, actor=merchant.actor)
        return _answer(request, session, order)


@router.post("/orders/{merchant_order_no}/confirm")
def confirm_order(request: Request, merchant_order_no: str, merchant: ApiMerchant = Depends(acts)) -> JSONResponse:
    with request.app.state.db.transaction() as session:
        order = merchants.confirm_order(session, merchant.id, merchant_order_no, actor=merchant.actor)
        return _answer(request, session, order)


@router.post("/orders/{merchant_order_no}/refunds", status_code=201)
def refund_order(request: Request, merchant_order_no: str, body: CreateRefund,
                 merchant: ApiMerchant = Depends(acts)) -> JSONResponse:
    with request.app.state.db.transaction() as session:
        done = merchants.refund(session, merchant.id, merchant_order_no, refund_no=body.refund_no,
                                amount=body.amount, reason=body.reason, actor=merchant.actor)
        data = {"refund": merchants.orders.refund_json(done.refund),
                "order": merchants.order_json(session, done.order, base_url=_base_url(request))}
    return JSONResponse(data, status_code=200 if done.replayed else 201)
