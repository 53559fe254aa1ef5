"""The ledger's worker jobs: release expired holds, forget old idempotency keys.

Each first looks in a read-only unit of work, so an idle round never takes the write lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from qianbao.db import Database
from qianbao.ledger.config import ledger_settings
from qianbao.ledger.holds import due_holds, sweep_expired
from qianbao.ledger.idempotency import purge_keys
from qianbao.ledger.models import LedgerIdempotencyKey
from qianbao.settings import Settings


def sweep_job(db: Database, _settings: Settings) -> int:
    with db.read() as session:
        if not due_holds(session, datetime.now(UTC), 1):
            return 0
    with db.transaction() as session:
        return sweep_expired(session, limit=ledger_settings().sweep_batch)


def purge_keys_job(db: Database, _settings: Settings) -> int:
    config = ledger_settings()
    cutoff = datetime.now(UTC) - timedelta(hours=config.idempotency_retention_hours)
    with db.read() as session:
        if session.execute(
            select(LedgerIdempotencyKey.key).where(LedgerIdempotencyKey.created_at < cutoff).limit(1)
        ).first() is None:
            return 0
    with db.transaction() as session:
        return purge_keys(session, limit=config.purge_batch)
