"""A rate limiter kept in the database, so it works the same on SQLite and PostgreSQL with no extra service.

    hit(session, "otp_phone", phone_hash, limit=5, window_seconds=3600)

counts one hit of `key` in `bucket`, or raises RATE_LIMITED with `retry_after` (whole seconds until a hit
would be admitted) when admitting it would put more than `limit` hits in some span of `window_seconds`.
A refused hit is not counted, so a client that keeps knocking does not push its own release further away.

How the window is measured: hits are counted in slices of a tenth of the window (aligned to the Unix
epoch), and a hit is admitted when the slices that overlap the last `window_seconds` — the current one
and the ten before it at most — hold fewer than `limit`. Counting whole slices errs on the safe side:
no span of `window_seconds` ever holds more than `limit` hits, and a client waits at most a tenth of the
window longer than an exact log of every hit would make it. (A single fixed window would let 2 × limit
through around its edge; an exact log would need a row per hit.)

Race safety: only the current slice is ever written, by one upsert whose `ON CONFLICT DO UPDATE ... WHERE
count < cap` raises the count only while there is room; the older slices are closed and read without a
lock. PostgreSQL serialises the upsert on the row, SQLite on BEGIN IMMEDIATE, so concurrent hits admit
exactly `limit`.

The hit belongs to the caller's transaction: rolled back with it, committed with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.credentials.base import execute_count, now_utc
from qianbao.credentials.models import RateLimitCounter
from qianbao.errors import QianbaoError

SLICES_PER_WINDOW = 10
MAX_KEY_LENGTH = 200
MAX_BUCKET_LENGTH = 40


@dataclass(frozen=True)
class Hit:
    """An admitted hit: how many hits the window now holds, this one included, out of `limit`."""

    count: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)


def slice_seconds(window_seconds: int) -> int:
    return max(1, math.ceil(window_seconds / SLICES_PER_WINDOW))


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
    size = slice_seconds(window_seconds)
    current_start = int(moment // size) * size
    # The oldest slice that still overlaps [moment - window, moment].
    oldest_start = int((moment - window_seconds) // size) * size
    rows = session.execute(
        select(RateLimitCounter.window_start, RateLimitCounter.count).where(
            RateLimitCounter.bucket == bucket,
            RateLimitCounter.key == key,
            RateLimitCounter.window_start >= oldest_start,
            RateLimitCounter.window_start < current_start,
        )
    ).all()
    earlier = sum(count for _, count in rows)
    cap = limit - earlier
    if cap >= 1:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(RateLimitCounter)
            .values(
                bucket=bucket,
                key=key,
                window_start=current_start,
                count=1,
                expires_at=datetime.fromtimestamp(current_start + size + window_seconds, UTC),
            )
            .on_conflict_do_update(
                index_elements=["bucket", "key", "window_start"],
                set_={"count": RateLimitCounter.count + 1},
                where=RateLimitCounter.count < cap,
            )
            .returning(RateLimitCounter.count)
        )
        current = session.scalar(stmt)
        if current is not None:
            return Hit(count=earlier + current, limit=limit)
    current = session.scalar(
        select(RateLimitCounter.count).where(
            RateLimitCounter.bucket == bucket,
            RateLimitCounter.key == key,
            RateLimitCounter.window_start == current_start,
        )
    ) or 0
    slices = sorted([*rows, (current_start, current)])
    raise QianbaoError("RATE_LIMITED", retry_after=_retry_after(moment, slices, size, window_seconds, limit))


def _retry_after(moment: float, slices: list[tuple[int, int]], size: int, window: int, limit: int) -> int:
    """Seconds until enough of the oldest slices have left the window for one more hit to fit."""
    held = sum(count for _, count in slices)
    for start, count in slices:
        held -= count
        if held <= limit - 1:
            # A slice stops counting once the window's start has passed its end.
            return max(1, math.ceil(start + size + window - moment))
    return 1


def reset(session: Session, bucket: str, key: str) -> int:
    """Forget every hit of `key` in `bucket` (an operator lifting a limit); returns rows removed."""
    stmt = delete(RateLimitCounter).where(RateLimitCounter.bucket == bucket, RateLimitCounter.key == key)
    return execute_count(session, stmt)


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete slices that have left every window; returns rows removed."""
    stmt = delete(RateLimitCounter).where(RateLimitCounter.expires_at < (now or now_utc()))
    return execute_count(session, stmt)
