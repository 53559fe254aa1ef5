"""Worker jobs of the wallets package (registered in `qianbao.worker.jobs`).

    wallets_id_expiry            ID-card expiry reminders and outflow restrictions (expiry.py)
    wallets_expire_applications  counter applications left open for 24 hours expire, photos deleted

Each first looks in a read-only snapshot whether there is anything to do, so an idle round takes no
write lock (SQLite has one writer at a time), and returns how much it did.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import exists, select

from qianbao.db import Database
from qianbao.identity import today_in_shanghai
from qianbao.settings import Settings
from qianbao.wallets import expiry
from qianbao.wallets.counter_opening import APPLICATION_TTL, OPEN_STATUSES, expire_applications
from qianbao.wallets.models import CounterApplication


def id_expiry_job(db: Database, settings: Settings) -> int:
    today = today_in_shanghai()
    with db.read() as session:
        if not expiry.anything_due(session, today):
            return 0
    with db.transaction() as session:
        done = expiry.send_expiry_reminders(session, today)
    with db.transaction() as session:
        done += expiry.restrict_expired(session, today)
    return done


def expire_applications_job(db: Database, settings: Settings) -> int:
    now = datetime.now(UTC)
    with db.read() as session:
        due = session.scalar(select(exists().where(
            CounterApplication.status.in_(OPEN_STATUSES), CounterApplication.created_at < now - APPLICATION_TTL,
        )))
    if not due:
        return 0
    with db.transaction() as session:
        return expire_applications(session, now=now)
