"""Signed asynchronous notifications to the merchant's notify URL (docs/merchants.md, "Notifications").

`enqueue` writes a notification row in the caller's transaction (so a payment that rolls back notifies
nobody); the worker job `merchant_notify` (`deliver_due`) posts it:

    POST <notify URL>   Content-Type: application/json; charset=utf-8
    X-Qianbao-Merchant, X-Qianbao-Timestamp, X-Qianbao-Nonce, X-Qianbao-Signature   (the API's scheme,
        signed with the merchant's current secret over POST, the URL's path and query, and the body)
    X-Qianbao-Notification: the notification's id (the same on every try: deduplicate on it)
    body: {"notification_id", "event": "order.paid" | "order.refunded", "refund_no"?, "order": {...}}

Any 2xx answer acknowledges it. Anything else (another status, a timeout, a refused connection) is tried
again after 15 s, 15 s, 30 s, 3 min, 10 min, 20 min, 30 min, 30 min, 30 min, 1 h, 3 h, 3 h, 3 h, 6 h, 6 h
(about 24 hours in all, 16 tries); after the last the notification is `failed` and the merchant is expected
to query the order. Each try is claimed with a lease, as the outbox does, so two workers never post one
notification at once.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from qianbao.db import Database
from qianbao.merchants import signing
from qianbao.merchants.models import (
    N_DELIVERED,
    N_FAILED,
    N_PENDING,
    Merchant,
    MerchantNotification,
    MerchantOrder,
)
from qianbao.settings import Settings

log = structlog.get_logger("qianbao.merchants")

RETRY_SCHEDULE_SECONDS = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
TIMEOUT_SECONDS = 5.0
LEASE_SECONDS = 60.0
BATCH = 20


def now_utc() -> datetime:
    return datetime.now(UTC)


def enqueue(session: Session, merchant: Merchant, order: MerchantOrder, event: str, *,
            refund_no: str | None = None, now: datetime | None = None) -> MerchantNotification | None:
    """Queue one notification of `event` about `order` to its notify URL (the order's, else the merchant's);
    None when there is none. One per order and event (and refund number)."""
    from qianbao.merchants.orders import order_json

    url = order.notify_url or merchant.notify_url
    if not url:
        return None
    dedupe = f"{order.id}:{event}" + (f":{refund_no}" if refund_no else "")
    existing = session.scalar(select(MerchantNotification).where(MerchantNotification.dedupe_key == dedupe))
    if existing is not None:
        return existing
    moment = now or now_utc()
    public_id = "N" + secrets.token_hex(12)
    payload: dict[str, Any] = {"notification_id": public_id, "event": event,
                               "order": order_json(session, order, merchant=merchant, with_children=False)}
    if refund_no:
        payload["refund_no"] = refund_no
    row = MerchantNotification(merchant_id=merchant.id, order_id=order.id, event=event, dedupe_key=dedupe, url=url,
                               payload=payload, status=N_PENDING, attempts=0, next_attempt_at=moment,
                               created_at=moment)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class _Claimed:
    id: int
    url: str
    payload: dict[str, Any]
    attempts: int
    merchant_no: str
    secret: str


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _claim(db: Database, limit: int) -> tuple[str, list[_Claimed]]:
    now = now_utc()
    token = secrets.token_hex(16)
    with db.transaction() as session:
        ids = list(session.scalars(
            select(MerchantNotification.id)
            .where(MerchantNotification.status == N_PENDING, MerchantNotification.next_attempt_at <= now,
                   or_(MerchantNotification.locked_until.is_(None), MerchantNotification.locked_until <= now))
            .order_by(MerchantNotification.next_attempt_at, MerchantNotification.id)
            .limit(limit).with_for_update(skip_locked=True)
        ))
        if not ids:
            return token, []
        session.execute(update(MerchantNotification).where(MerchantNotification.id.in_(ids))
                        .values(locked_until=now + timedelta(seconds=LEASE_SECONDS), claim_token=token)
                        .execution_options(synchronize_session=False))
        rows = session.execute(
            select(MerchantNotification, Merchant).join(Merchant, Merchant.id == MerchantNotification.merchant_id)
            .where(MerchantNotification.id.in_(ids)).order_by(MerchantNotification.id)
        ).all()
        return token, [_Claimed(n.id, n.url, n.payload, n.attempts, m.merchant_no, m.secret) for n, m in rows]


def _post(client: httpx.Client, item: _Claimed) -> tuple[int | None, str | None]:
    body = body_of(item.payload)
    headers = signing.signed_headers(item.merchant_no, item.secret, "POST", _target(item.url), body)
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["X-Qianbao-Notification"] = str(item.payload.get("notification_id", ""))
    try:
        response = client.post(item.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _record(db: Database, token: str, item: _Claimed, status_code: int | None, error: str | None) -> None:
    now = now_utc()
    attempts = item.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": status_code, "last_error": error,
                              "last_attempt_at": now, "locked_until": None, "claim_token": None}
    if error is None:
        values.update(status=N_DELIVERED, delivered_at=now)
    elif attempts >= MAX_ATTEMPTS:
        values["status"] = N_FAILED
    else:
        values["next_attempt_at"] = now + timedelta(seconds=RETRY_SCHEDULE_SECONDS[attempts - 1])
    with db.transaction() as session:
        session.execute(update(MerchantNotification)
                        .where(MerchantNotification.id == item.id, MerchantNotification.claim_token == token)
                        .values(**values).execution_options(synchronize_session=False))
    log.info("merchant_notification", notification_id=item.id, attempt=attempts, status_code=status_code,
             delivered=error is None)


def deliver_due(db: Database, settings: Settings, limit: int = BATCH, *,
                client: httpx.Client | None = None) -> int:
    """Post up to `limit` due notifications (no transaction open while posting); returns how many were tried."""
    token, batch = _claim(db, limit)
    if not batch:
        return 0
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        for item in batch:
            status_code, error = _post(http, item)
            _record(db, token, item, status_code, error)
    finally:
        if own:
            http.close()
    return len(batch)


def purge_nonces_job(db: Database, settings: Settings) -> int:
    from qianbao.merchants.registry import purge_nonces

    with db.transaction() as session:
        return purge_nonces(session)
