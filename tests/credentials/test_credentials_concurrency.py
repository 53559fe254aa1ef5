"""Concurrent requests on the real database (SQLite or PostgreSQL, whichever the suite runs on): the rate
limiter, SMS-code tries and issues, and the login lock each count exactly, however the requests interleave."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from qianbao.credentials import (
    Principal,
    issue_otp,
    otp,
    ratelimit,
    set_password,
    transaction,
    verify_login,
    verify_otp,
)
from qianbao.credentials.models import OneTimeCode, RateLimitCounter
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.settings import Settings

THREADS = 8
PHONE = "13812345678"


def race(db: Database, count: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Counter[str]:
    """Run `fn(session, *args)` in `count` threads, each in its own unit of work, released together.
    Returns how many ended how: "ok" or the error code."""
    barrier = threading.Barrier(count)

    def one(_: int) -> str:
        barrier.wait()
        try:
            with transaction(db) as session:
                fn(session, *args, **kwargs)
        except QianbaoError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(one, range(count)))


def test_concurrent_hits_admit_exactly_the_limit(db: Database) -> None:
    outcomes = race(db, THREADS * 2, ratelimit.hit, "race", "203.0.113.9", 5, 3600)
    assert outcomes == Counter({"ok": 5, "RATE_LIMITED": THREADS * 2 - 5})
    with db.read() as session:
        assert session.scalar(select(func.sum(RateLimitCounter.count))) == 5


def test_concurrent_wrong_codes_use_exactly_five_tries(db: Database, run: Callable, settings: Settings) -> None:
    code = run(issue_otp, otp.REGISTER, PHONE, settings=settings).code
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    outcomes = race(db, THREADS, verify_otp, otp.REGISTER, PHONE, wrong)
    assert outcomes == Counter({"OTP_WRONG": 4, "OTP_TOO_MANY_TRIES": THREADS - 4})
    with db.read() as session:
        row = session.scalar(select(OneTimeCode))
        assert (row.tries, row.status) == (5, "dead")


def test_concurrent_uses_of_the_right_code_succeed_once(db: Database, run: Callable, settings: Settings) -> None:
    code = run(issue_otp, otp.REGISTER, PHONE, settings=settings).code
    outcomes = race(db, THREADS, verify_otp, otp.REGISTER, PHONE, code)
    assert outcomes == Counter({"ok": 1, "OTP_USED": THREADS - 1})


def test_concurrent_requests_for_a_code_send_one_text(db: Database, settings: Settings) -> None:
    outcomes = race(db, THREADS, issue_otp, otp.REGISTER, PHONE, settings=settings)
    assert outcomes == Counter({"ok": 1, "OTP_RESEND_TOO_SOON": THREADS - 1})
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_concurrent_wrong_passwords_lock_login_at_the_fifth(db: Database, run: Callable, settings: Settings) -> None:
    alice = Principal.customer(1)
    run(set_password, alice, "Lantern-Harbour-42", settings=settings)
    outcomes = race(db, THREADS, verify_login, alice, "wrong-password", settings=settings)
    assert outcomes == Counter({"LOGIN_FAILED": 4, "LOGIN_LOCKED": THREADS - 4})
