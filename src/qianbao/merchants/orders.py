"""Merchant orders: create (idempotent by the merchant's order number), read, list, close, confirm (fulfil),
and the JSON the API and the notifications send (docs/merchants.md, "Orders").

An order is open until it is paid, closed by the merchant or past its expiry (an open order past its expiry
is *shown* as `expired`; nothing needs to sweep it: paying it is refused with ORDER_EXPIRED).
A paid order can be refunded in parts; a paid order can be confirmed (fulfilled) once — the ticket sellers'
"merchant confirms" step.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.merchants.models import (
    CLOSED,
    N_DELIVERED,
    OPEN,
    ORDER_SOURCES,
    PAID,
    SOURCE_API,
    Merchant,
    MerchantNotification,
    MerchantOrder,
    MerchantRefund,
)
from qianbao.merchants.registry import check_notify_url, get_merchant, require_active

ORDER_NO_PATTERN = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
DESCRIPTION_MAX = 128
MAX_AMOUNT = 100_000_000  # 1 亿 fen = 1,000,000 yuan: the largest single order
DEFAULT_EXPIRY = timedelta(minutes=30)
MIN_EXPIRY = timedelta(minutes=1)
MAX_EXPIRY = timedelta(days=7)
EXPIRED = "expired"  # a display state, never stored


def now_utc() -> datetime:
    return datetime.now(UTC)


def order_state(order: MerchantOrder, now: datetime | None = None) -> str:
    """open | expired | paid | refunded | partially_refunded | closed."""
    if order.status == OPEN:
        return EXPIRED if (now or now_utc()) >= order.expires_at else OPEN
    if order.status == PAID:
        if order.refunded_amount and order.refunded_amount >= order.amount:
            return "refunded"
        return "partially_refunded" if order.refunded_amount else PAID
    return order.status


def fee_for(amount: int, mdr_bp: int) -> int:
    """The merchant discount on `amount` fen at `mdr_bp` basis points, rounded half up to the fen."""
    return (amount * mdr_bp + 5_000) // 10_000


def check_order_no(value: str, code: str = "ORDER_NO_INVALID") -> str:
    text = (value or "").strip()
    if not ORDER_NO_PATTERN.fullmatch(text):
        raise QianbaoError(code)
    return text


def check_amount(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise QianbaoError("AMOUNT_INVALID")
    if amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    if amount > MAX_AMOUNT:
        raise QianbaoError("AMOUNT_TOO_LARGE")
    return amount


def check_description(value: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", value or "").split())
    if not text or len(text) > DESCRIPTION_MAX or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise QianbaoError("ORDER_DESCRIPTION_INVALID", max=DESCRIPTION_MAX)
    return text


def _request_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class CreatedOrder:
    order: MerchantOrder
    replayed: bool


def create_order(
    session: Session,
    merchant: Merchant | int,
    *,
    merchant_order_no: str,
    amount: int,
    description: str,
    expires_in: int | None = None,
    notify_url: str | None = None,
    source: str = SOURCE_API,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> CreatedOrder:
    """A new open order; the same order number with the same request again returns it (`replayed`); with
    another request ORDER_NO_TAKEN. `expires_in` seconds (60 s … 7 days, default 30 minutes)."""
    shop = merchant if isinstance(merchant, Merchant) else get_merchant(session, merchant)
    require_active(shop)
    number = check_order_no(merchant_order_no)
    fen = check_amount(amount)
    text = check_description(description)
    url = check_notify_url(notify_url)
    if source not in ORDER_SOURCES:
        raise ValueError(f"unknown order source {source!r}")
    lifetime = DEFAULT_EXPIRY if expires_in is None else timedelta(seconds=expires_in) \
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) else None
    if lifetime is None or not MIN_EXPIRY <= lifetime <= MAX_EXPIRY:
        raise QianbaoError("ORDER_EXPIRY_INVALID", min=int(MIN_EXPIRY.total_seconds()),
                           max=int(MAX_EXPIRY.total_seconds()))
    fingerprint = _request_hash({"no": number, "amount": fen, "description": text, "expires_in": expires_in,
                                 "notify_url": url, "extra": extra or {}})
    existing = order_by_no(session, shop.id, number)
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise QianbaoError("ORDER_NO_TAKEN", order_no=number)
        return CreatedOrder(existing, True)
    created = now or now_utc()
    order = MerchantOrder(
        token=secrets.token_urlsafe(16), merchant_id=shop.id, merchant_order_no=number, source=source, amount=fen,
        description=text, notify_url=url, status=OPEN, expires_at=created + lifetime, created_at=created,
        request_hash=fingerprint, fee=0, refunded_amount=0, refunded_fee=0, extra=extra or None,
    )
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        # Another request created the same order number at the same moment: answer as a replay would.
        session.expunge(order)
        existing = order_by_no(session, shop.id, number)
        if existing is None or existing.request_hash != fingerprint:
            raise QianbaoError("ORDER_NO_TAKEN", order_no=number) from None
        return CreatedOrder(existing, True)
    return CreatedOrder(order, False)


def order_by_no(session: Session, merchant_id: int, merchant_order_no: str) -> MerchantOrder | None:
    return session.scalar(select(MerchantOrder).where(MerchantOrder.merchant_id == merchant_id,
                                                      MerchantOrder.merchant_order_no == merchant_order_no))


def get_order(session: Session, merchant_id: int, merchant_order_no: str) -> MerchantOrder:
    """The merchant's own order by its number; anyone else's is ORDER_NOT_FOUND (ids cannot be probed)."""
    order = order_by_no(session, merchant_id, (merchant_order_no or "").strip())
    if order is None:
        raise QianbaoError("ORDER_NOT_FOUND")
    return order


def order_by_token(session: Session, token: str, *, lock: bool = False) -> MerchantOrder:
    text = (token or "").strip()
    if not text or len(text) > 32:
        raise QianbaoError("ORDER_NOT_FOUND")
    stmt = select(MerchantOrder).where(MerchantOrder.token == text)
    if lock:
        stmt = stmt.with_for_update()
    order = session.scalar(stmt)
    if order is None:
        raise QianbaoError("ORDER_NOT_FOUND")
    return order


def lock_order(session: Session, order_id: int) -> MerchantOrder:
    """The order row, locked for this transaction (PostgreSQL: FOR UPDATE; SQLite: BEGIN IMMEDIATE already
    serialises writers), re-read so its values are the committed ones."""
    order = session.scalar(select(MerchantOrder).where(MerchantOrder.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    if order is None:
        raise QianbaoError("ORDER_NOT_FOUND")
    return order


def list_orders(session: Session, merchant_id: int, *, status: str | None = None, limit: int = 50,
                before_id: int | None = None) -> list[MerchantOrder]:
    """Newest first; `before_id` continues from the last order of the previous page."""
    stmt = select(MerchantOrder).where(MerchantOrder.merchant_id == merchant_id)
    if status in (OPEN, PAID, CLOSED):
        stmt = stmt.where(MerchantOrder.status == status)
    if before_id is not None:
        stmt = stmt.where(MerchantOrder.id < before_id)
    return list(session.scalars(stmt.order_by(MerchantOrder.id.desc()).limit(max(1, min(limit, 100)))))


def close_order(session: Session, merchant_id: int, merchant_order_no: str, *, actor: audit.Actor,
                channel: str = "merchant_api") -> MerchantOrder:
    """Close an unpaid order (expired ones too); closing a closed order again is a no-op; a paid order
    cannot be closed (ORDER_ALREADY_PAID: refund it instead)."""
    order = lock_order(session, get_order(session, merchant_id, merchant_order_no).id)
    if order.status == PAID:
        raise QianbaoError("ORDER_ALREADY_PAID")
    if order.status == OPEN:
        order.status = CLOSED
        order.closed_at = now_utc()
        session.flush()
        audit.record(session, action="merchant.order.close", actor=actor, channel=channel,
                     object_type="merchant_order", object_id=order.id,
                     details={"merchant_order_no": order.merchant_order_no})
    return order


def confirm_order(session: Session, merchant_id: int, merchant_order_no: str, *, actor: audit.Actor,
                  channel: str = "merchant_api") -> MerchantOrder:
    """The merchant confirms it has delivered (issued the ticket): only a paid, not wholly refunded order;
    again is a no-op."""
    order = lock_order(session, get_order(session, merchant_id, merchant_order_no).id)
    if order.status != PAID:
        raise QianbaoError("ORDER_NOT_PAID")
    if order.refunded_amount >= order.amount:
        raise QianbaoError("ORDER_REFUNDED")
    if order.confirmed_at is None:
        order.confirmed_at = now_utc()
        session.flush()
        audit.record(session, action="merchant.order.confirm", actor=actor, channel=channel,
                     object_type="merchant_order", object_id=order.id,
                     details={"merchant_order_no": order.merchant_order_no})
    return order


def refunds_of(session: Session, order_id: int) -> list[MerchantRefund]:
    return list(session.scalars(select(MerchantRefund).where(MerchantRefund.order_id == order_id)
                                .order_by(MerchantRefund.id)))


def notifications_of(session: Session, order_id: int) -> list[MerchantNotification]:
    return list(session.scalars(select(MerchantNotification).where(MerchantNotification.order_id == order_id)
                                .order_by(MerchantNotification.id)))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def refund_json(refund: MerchantRefund) -> dict[str, Any]:
    return {"refund_no": refund.refund_no, "amount": refund.amount, "fee_returned": refund.fee_returned,
            "status": refund.status, "reason": refund.reason, "operation_reference": refund.operation_reference,
            "created_at": _iso(refund.created_at)}


def order_json(session: Session, order: MerchantOrder, *, merchant: Merchant | None = None,
               base_url: str = "", with_children: bool = True) -> dict[str, Any]:
    """The order as the API answers and the notifications send it (amounts in fen, times UTC ISO 8601)."""
    from qianbao.merchants.qr import order_qr_payload

    shop = merchant or get_merchant(session, order.merchant_id)
    data: dict[str, Any] = {
        "merchant_no": shop.merchant_no,
        "merchant_order_no": order.merchant_order_no,
        "amount": order.amount,
        "currency": "CNY",
        "description": order.description,
        "status": order_state(order),
        "fee": order.fee,
        "refunded_amount": order.refunded_amount,
        "refundable_amount": order.amount - order.refunded_amount if order.status == PAID else 0,
        "created_at": _iso(order.created_at),
        "expires_at": _iso(order.expires_at),
        "paid_at": _iso(order.paid_at),
        "closed_at": _iso(order.closed_at),
        "confirmed_at": _iso(order.confirmed_at),
        "payer": order.payer_label,
        "operation_reference": order.operation_reference,
        "pay_token": order.token,
        "qr_payload": order_qr_payload(shop, order, base_url) if order.status == OPEN else None,
        "checkout_url": f"{base_url.rstrip('/')}/m/checkout/{order.token}",
    }
    if with_children:
        data["refunds"] = [refund_json(r) for r in refunds_of(session, order.id)]
        data["notifications"] = [
            {"event": n.event, "status": n.status, "attempts": n.attempts,
             "last_status_code": n.last_status_code,
             "delivered_at": _iso(n.delivered_at) if n.status == N_DELIVERED else None}
            for n in notifications_of(session, order.id)
        ]
    return data
