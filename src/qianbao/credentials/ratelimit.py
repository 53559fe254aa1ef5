"""A rate limiter kept in the database, so it works the same on SQLite and PostgreSQL with no extra service.

    hit(session, "otp_phone", phone_hash, limit=5, window_seconds=3600)

counts one hit of `key` in `bucket` and raises RATE_LIMITED (with `retry_after` in whole seconds) when the
hit would take the key over `limit` hits in the last `window_seconds`. A refused hit is not counted, so a
client that keeps knocking does not push its own release further away.

How "the last window_seconds" is measured: a sliding-window estimate over two fixed windows. Counts are
kept per fixed window (aligned to the Unix epoch); the estimate at a moment `f` of the way through the
current window is `previous × (1 − f) + current`. This stops the burst a plain fixed window allows at its
edge (5 hits at 10:59 and 5 more at 11:00) at the cost of two small rows per key.

Race safety: the count is raised by one upsert whose `ON CONFLICT DO UPDATE ... WHERE count < cap` only
increments while there is room, so concurrent hits on PostgreSQL (which serialises the row) and on SQLite
(BEGIN IMMEDIATE) admit exactly `limit` of them. The previous window is closed, hence read without a lock.

The hit belongs to the caller's transaction: rolled back with it, committed with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.credentials.base import now_utc
from qianbao.credentials.models import RateLimitCounter
from qianbao.errors import QianbaoError

MAX_KEY_LENGTH = 200
MAX_BUCKET_LENGTH = 40


@dataclass(frozen=True)
class Hit:
    """An admitted hit: how many the window now holds (estimated) and how many more it will admit."""

    estimate: float
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.limit - self.estimate))


def hit(
    session: Session,
    bucket: str,
    key: str,
    limit: int,
    window_seconds: int,
    *,
    now: datetime | None = None,
) -> Hit:
    """Count one hit, or raise RATE_LIMITED(retry_after=seconds) without counting it."""
    if limit < 1 or window_seconds < 1:
        raise ValueError("limit and window_seconds must be at least 1")
    if len(bucket) > MAX_BUCKET_LENGTH or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"bucket at most {MAX_BUCKET_LENGTH} and key at most {MAX_KEY_LENGTH} characters")
    moment = (now or now_utc()).timestamp()
    start = int(moment // window_seconds) * window_seconds
    fraction = (moment - start) / window_seconds
    previous = _count(session, bucket, key, start - window_seconds)
    carried = previous * (1.0 - fraction)
    # The current window may hold at most `cap` hits now; the small epsilon keeps 4.9999999 from flooring to 4.
    cap = math.floor(limit - carried + 1e-9)
    if cap >= 1:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(RateLimitCounter).values(
            bucket=bucket,
            key=key,
            window_start=start,
            count=1,
            expires_at=datetime.fromtimestamp(start + 2 * window_seconds, UTC),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["bucket", "key", "window_start"],
            set_={"count": RateLimitCounter.count + 1},
            where=RateLimitCounter.count < cap,
        ).returning(RateLimitCounter.count)
        current = session.scalar(stmt)
        if current is not None:
            return Hit(estimate=carried + current, limit=limit)
    current = _count(session, bucket, key, start)
    raise QianbaoError(
        "RATE_LIMITED",
        retry_after=_retry_after(moment, start, window_seconds, previous, current, limit),
    )


def _count(session: Session, bucket: str, key: str, window_start: int) -> int:
    stmt = select(RateLimitCounter.count).where(
        RateLimitCounter.bucket == bucket,
        RateLimitCounter.key == key,
        RateLimitCounter.window_start == window_start,
    )
    return session.scalar(stmt) or 0


def _retry_after(moment: float, start: int, window: int, previous: int, current: int, limit: int) -> int:
    """Seconds until a hit would be admitted, if nobody else hits the key meanwhile.

    A hit is admitted at fraction f of a window when previous × (1 − f) ≤ limit − current − 1.
    """
    room = limit - current - 1
    if room >= 0 and previous > 0:
        at = start + window * max(0.0, 1.0 - room / previous)
    else:
        # The current window is full by itself: wait into the next one, where it becomes "previous".
        at = start + window + window * max(0.0, 1.0 - (limit - 1) / current if current else 0.0)
    return max(1, math.ceil(at - moment))


def reset(session: Session, bucket: str, key: str) -> int:
    """Forget every hit of `key` in `bucket` (an operator lifting a limit); returns rows removed."""
    stmt = delete(RateLimitCounter).where(RateLimitCounter.bucket == bucket, RateLimitCounter.key == key)
    return session.execute(stmt).rowcount


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete windows that can no longer affect any estimate; returns rows removed."""
    stmt = delete(RateLimitCounter).where(RateLimitCounter.expires_at < (now or now_utc()))
    return session.execute(stmt).rowcount
