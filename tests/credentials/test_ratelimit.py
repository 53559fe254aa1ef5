"""The database rate limiter: a limit per window, retry_after, refused hits not counted, pruning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from qianbao.credentials import ratelimit
from qianbao.credentials.jobs import prune as prune_job
from qianbao.credentials.models import RateLimitCounter
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.worker import jobs

HOUR = 3600


@pytest.fixture
def hit(run: Callable) -> Callable:
    def call(key: str = "203.0.113.9", limit: int = 3, window: int = HOUR, bucket: str = "test") -> ratelimit.Hit:
        return run(ratelimit.hit, bucket, key, limit, window)

    return call


@pytest.fixture
def refused(refusal: Callable) -> Callable:
    def call(key: str = "203.0.113.9", limit: int = 3, window: int = HOUR, bucket: str = "test") -> int:
        error = refusal(ratelimit.hit, bucket, key, limit, window)
        assert error.code == "RATE_LIMITED"
        assert error.status == 429
        return error.params["retry_after"]

    return call


def test_hits_up_to_the_limit_are_admitted_then_refused(hit: Callable, refused: Callable,
                                                        clock: time_machine.Traveller) -> None:
    assert [hit().remaining for _ in range(3)] == [2, 1, 0]
    refused()


def test_retry_after_is_when_the_oldest_hits_leave_the_window(hit: Callable, refused: Callable,
                                                              clock: time_machine.Traveller) -> None:
    hit()
    clock.shift(timedelta(minutes=20))
    hit()
    hit()
    # The first hit (at 0) leaves the hour at 60 minutes; the limiter counts in 6-minute slices.
    assert refused() == 40 * 60 + 6 * 60
    clock.shift(timedelta(minutes=46) - timedelta(seconds=1))
    refused()
    clock.shift(timedelta(seconds=1))
    hit()


def test_no_span_of_the_window_ever_holds_more_than_the_limit(run: Callable,
                                                             clock: time_machine.Traveller) -> None:
    admitted: list[float] = []
    for _ in range(24 * 12):  # a try every 5 minutes for a day, 3 allowed an hour
        try:
            run(ratelimit.hit, "test", "k", 3, HOUR)
            admitted.append(datetime.now(UTC).timestamp())
        except QianbaoError as exc:
            assert exc.code == "RATE_LIMITED"
        clock.shift(timedelta(minutes=5))
    assert len(admitted) >= 24 * 2
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t - start < HOUR) <= 3


def test_refused_hits_are_not_counted(hit: Callable, refused: Callable, clock: time_machine.Traveller) -> None:
    for _ in range(3):
        hit()
    first = refused()
    for _ in range(20):
        assert refused() == first


def test_keys_and_buckets_are_counted_apart(hit: Callable, refused: Callable, clock: time_machine.Traveller) -> None:
    for _ in range(3):
        hit(key="a")
    hit(key="b")
    hit(key="a", bucket="other")
    refused(key="a")


def test_reset_forgets_a_keys_hits(run: Callable, hit: Callable, clock: time_machine.Traveller) -> None:
    for _ in range(3):
        hit()
    assert run(ratelimit.reset, "test", "203.0.113.9") == 1
    hit()


def test_limit_and_window_must_be_positive(run: Callable) -> None:
    with pytest.raises(ValueError):
        run(ratelimit.hit, "test", "k", 0, HOUR)
    with pytest.raises(ValueError):
        run(ratelimit.hit, "test", "k", 1, 0)


def test_old_slices_are_pruned_once_out_of_every_window(db: Database, run: Callable, hit: Callable,
                                                        clock: time_machine.Traveller) -> None:
    hit()
    clock.shift(timedelta(minutes=65))
    hit()
    clock.shift(timedelta(minutes=1, seconds=1))  # the first slice ended at 6 min; + 60 min window
    assert run(ratelimit.prune) == 1
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RateLimitCounter)) == 1


def test_the_worker_prunes_credentials_tables(db: Database, settings: Settings, hit: Callable,
                                              clock: time_machine.Traveller) -> None:
    assert "credentials_prune" in [job.name for job in jobs()]
    hit()
    clock.shift(timedelta(hours=2))
    assert prune_job(db, settings, force=True) == 1
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RateLimitCounter)) == 0
