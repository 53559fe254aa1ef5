"""Retention of idempotency keys: a key is remembered for the configured period, then forgotten.

Only successful writes leave a key behind. A refused request writes nothing, so its retry is
judged afresh (the balance may allow it by then).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qianbao.ledger.config import ledger_settings
from qianbao.ledger.models import LedgerIdempotencyKey


def purge_keys(
    session: Session, *, now: datetime | None = None, retention_hours: int | None = None, limit: int = 5_000
) -> int:
    """Forget up to `limit` keys older than the retention period; returns how many were forgotten."""
    hours = retention_hours if retention_hours is not None else ledger_settings().idempotency_retention_hours
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=max(hours, 24))
    old = (
        select(LedgerIdempotencyKey.key)
        .where(LedgerIdempotencyKey.created_at < cutoff)
        .order_by(LedgerIdempotencyKey.created_at)
        .limit(limit)
    )
    keys = [r[0] for r in session.execute(old).all()]
    if not keys:
        return 0
    session.execute(delete(LedgerIdempotencyKey).where(LedgerIdempotencyKey.key.in_(keys)))
    return len(keys)


def key_transfer(session: Session, key: str) -> int | None:
    """The transfer a remembered key made, if any (for support and for retries after a crash)."""
    row = session.execute(
        select(LedgerIdempotencyKey.transfer_id).where(LedgerIdempotencyKey.key == key)
    ).first()
    return None if row is None else row[0]
