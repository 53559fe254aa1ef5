"""Holds past their timeout: the sweep that voids them (run by the worker and by `qianbao ledger sweep`).

A hold whose timeout has passed can no longer be posted or voided by a client even before the sweep
reaches it (LEDGER_PENDING_EXPIRED); the sweep only releases the held money. It goes through the
same engine as every other write, under the same locks, so it cannot race a late post.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.ledger.engine import Batch, Expire
from qianbao.ledger.models import LedgerPending


def due_holds(session: Session, now: datetime, limit: int) -> list[int]:
    rows = session.execute(
        select(LedgerPending.transfer_id)
        .where(LedgerPending.status == "pending", LedgerPending.timeout_at <= now)
        .order_by(LedgerPending.timeout_at, LedgerPending.transfer_id)
        .limit(limit)
    ).all()
    return [r[0] for r in rows]


def sweep_expired(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Void (as 'expire') up to `limit` holds whose timeout has passed; returns how many were released.

    The holds of a linked group share one timeout and expire together.
    """
    now = now or datetime.now(UTC)
    due = due_holds(session, now, limit)
    if not due:
        return 0
    batch = Batch(session, [Expire(pending_id) for pending_id in due], now)
    batch.run()
    # A hold posted or voided between the read above and the locks is simply no longer due.
    return len(batch.transfers)
