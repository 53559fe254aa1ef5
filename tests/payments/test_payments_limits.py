"""SPEC §2 limits inside payments.execute: each limit, the Shanghai day and year, and races on both databases."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from payments_helpers import YUAN, Pay

from qianbao import payments, wallets
from qianbao.errors import QianbaoError
from qianbao.payments import Order, Party
from qianbao.wallets.policy import update_wallet_policy


def merchant(pay: Pay) -> Party:
    return Party.account(pay.run(payments.system_account, "bank_clearing:SHOP"), "测试商户")


def spend(pay: Pay, w, amount: int, **options) -> payments.Operation:  # type: ignore[no-untyped-def]
    options.setdefault("kind", "merchant_payment")
    return pay.execute(Order(key=pay.key(), payer=Party.wallet(w.wallet_id), payee=merchant(pay), amount=amount,
                             **options))


def refused(pay: Pay, w, amount: int, **options) -> QianbaoError:  # type: ignore[no-untyped-def]
    with pytest.raises(QianbaoError) as caught:
        spend(pay, w, amount, **options)
    return caught.value


def test_tier4_payment_over_the_single_limit_is_refused_naming_it(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    error = refused(pay, a, 2_000 * YUAN + 1)
    assert error.code == "LIMIT_EXCEEDED" and error.params["limit"] == "single"
    assert error.params["remaining"] == "2,000.00" and error.params["remaining_fen"] == 2_000 * YUAN
    assert "单笔支付限额" in error.message("zh-CN") and "single-payment limit" in error.message("en")
    assert pay.balance(a) == 3_000 * YUAN
    assert spend(pay, a, 2_000 * YUAN).status == "succeeded"


def test_tier4_daily_outflow_counts_every_outflow_kind_and_names_what_is_left(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 9_000 * YUAN)
    spend(pay, a, 2_000 * YUAN)
    pay.execute(pay.order(a, b, 2_000 * YUAN))
    error = refused(pay, a, 1_000 * YUAN + 1, kind="bill")
    assert error.code == "LIMIT_EXCEEDED" and error.params["limit"] == "daily"
    assert error.params["remaining_fen"] == 1_000 * YUAN
    assert spend(pay, a, 1_000 * YUAN, kind="parcel").status == "succeeded"
    assert pay.balance(a) == 4_000 * YUAN


def test_the_fee_counts_as_outflow(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 9_000 * YUAN)
    spend(pay, a, 2_000 * YUAN)
    spend(pay, a, 2_000 * YUAN)
    error = refused(pay, a, 1_000 * YUAN, fee=1)
    assert error.params["limit"] == "daily"


def test_the_daily_limit_starts_again_at_midnight_in_shanghai(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    pay.fund(a, 9_000 * YUAN)
    clock.move_to(datetime(2026, 11, 25, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    for _ in range(2):
        spend(pay, a, 2_000 * YUAN)
    spend(pay, a, 1_000 * YUAN)
    assert refused(pay, a, 1).params["limit"] == "daily"
    clock.move_to(datetime(2026, 11, 25, 16, 0, 1, tzinfo=UTC))  # 00:00:01 on the 26th in Shanghai
    assert spend(pay, a, 1 * YUAN).status == "succeeded"


def test_tier4_annual_outflow_is_counted_over_the_shanghai_year(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    day = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    for n in range(10):  # 10 days × 5,000 = 50,000 yuan, the annual limit
        clock.move_to(day + timedelta(days=n))
        pay.fund(a, 5_000 * YUAN)
        for _ in range(2):
            spend(pay, a, 2_000 * YUAN)
        spend(pay, a, 1_000 * YUAN)
    clock.move_to(day + timedelta(days=20))
    pay.fund(a, 10 * YUAN)
    error = refused(pay, a, 1)
    assert error.params["limit"] == "annual" and error.params["remaining_fen"] == 0
    clock.move_to(datetime(2026, 12, 31, 16, 0, 1, tzinfo=UTC))  # 2027-01-01 in Shanghai
    assert spend(pay, a, 1).status == "succeeded"


def test_tier1_has_no_outflow_limits(pay: Pay) -> None:
    a = pay.open(tier=1)
    pay.fund(a, 200_000 * YUAN)
    assert spend(pay, a, 150_000 * YUAN).status == "succeeded"


def test_tier3_limits_come_from_the_policy_table(pay: Pay) -> None:
    a = pay.open(tier=3)
    pay.fund(a, 12_000 * YUAN)
    assert refused(pay, a, 5_000 * YUAN + 1).params["limit"] == "single"
    spend(pay, a, 5_000 * YUAN)
    spend(pay, a, 5_000 * YUAN)
    assert refused(pay, a, 1).params["limit"] == "daily"


def test_password_free_payments_total_at_most_1000_a_day(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    for _ in range(5):
        spend(pay, a, 200 * YUAN, confirmation="password_free")
    error = refused(pay, a, 1, confirmation="password_free")
    assert error.params["limit"] == "password_free" and error.params["remaining_fen"] == 0
    assert spend(pay, a, 1, confirmation="pin").status == "succeeded"


def test_withholding_counts_against_the_password_free_cap(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    spend(pay, a, 900 * YUAN, confirmation="withholding", kind="parcel")
    assert refused(pay, a, 100 * YUAN + 1, confirmation="password_free").params["limit"] == "password_free"


def test_static_qr_payments_total_at_most_500_a_day(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    spend(pay, a, 499 * YUAN, static_qr=True)
    error = refused(pay, a, 2 * YUAN, static_qr=True)
    assert error.params["limit"] == "static_qr" and error.params["remaining"] == "1.00"
    assert spend(pay, a, 2 * YUAN).status == "succeeded"  # a dynamic QR is not capped so


def test_the_confirmation_caps_follow_the_wallet_policy(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    pay.run(update_wallet_policy, {"static_qr_daily_limit": 100 * YUAN}, 1, "tighter")
    assert refused(pay, a, 100 * YUAN + 1, static_qr=True).params["limit"] == "static_qr"


def test_top_ups_and_refunds_are_not_outflow(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 2_000 * YUAN)
    pay.fund(a, 2_000 * YUAN)
    spend(pay, a, 2_000 * YUAN)
    spend(pay, a, 2_000 * YUAN)
    shop = merchant(pay)
    refund = pay.execute(Order(key=pay.key(), kind="refund", payer=shop, payee=Party.wallet(a.wallet_id),
                               amount=500 * YUAN, confirmation="system", channel="merchant"))
    assert refund.status == "succeeded"
    with pay.db.read() as session:
        left = payments.remaining(session, wallets.get_wallet(session, a.wallet_id), now=datetime.now(UTC))
    assert left.daily == 1_000 * YUAN


def test_a_refused_payment_counts_nothing(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    assert refused(pay, a, 1_000 * YUAN).code == "INSUFFICIENT_BALANCE"
    with pay.db.read() as session:
        left = payments.remaining(session, wallets.get_wallet(session, a.wallet_id), now=datetime.now(UTC))
    assert left.daily == 5_000 * YUAN and left.annual == 50_000 * YUAN


# ----------------------------------------------------------------------------------------- races

THREADS = 8


def race(pay: Pay, count: int, call) -> Counter[str]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(THREADS)

    def run(n: int) -> list[str]:
        barrier.wait()
        codes = []
        for i in range(count):
            try:
                with pay.db.transaction() as session:
                    call(session, f"race:{n}:{i}")
                codes.append("OK")
            except QianbaoError as error:
                codes.append(f"{error.code}:{error.params.get('limit', '')}")
        return codes

    with ThreadPoolExecutor(THREADS) as pool:
        return Counter(code for codes in pool.map(run, range(THREADS)) for code in codes)


def test_concurrent_payments_never_together_pass_the_daily_limit(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 9_000 * YUAN)
    shop = merchant(pay)

    def one(session, key: str) -> None:  # type: ignore[no-untyped-def]
        payments.execute(session, Order(key=key, kind="merchant_payment", payer=Party.wallet(a.wallet_id),
                                        payee=shop, amount=500 * YUAN))

    outcomes = race(pay, 2, one)
    assert outcomes == Counter({"OK": 10, "LIMIT_EXCEEDED:daily": 6})
    assert pay.balance(a) == 4_000 * YUAN
    pay.check_ledger()


def test_concurrent_password_free_payments_never_together_pass_their_cap(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 5_000 * YUAN)
    shop = merchant(pay)

    def one(session, key: str) -> None:  # type: ignore[no-untyped-def]
        payments.execute(session, Order(key=key, kind="merchant_payment", payer=Party.wallet(a.wallet_id),
                                        payee=shop, amount=100 * YUAN, confirmation="password_free"))

    outcomes = race(pay, 2, one)
    assert outcomes == Counter({"OK": 10, "LIMIT_EXCEEDED:password_free": 6})
    assert pay.balance(a) == 4_000 * YUAN


def test_concurrent_retries_of_one_key_move_money_once(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 100 * YUAN)
    order = pay.order(a, b, 10 * YUAN, key="one-key")
    replays: list[bool] = []
    lock = threading.Lock()

    def one(session, _key: str) -> None:  # type: ignore[no-untyped-def]
        op = payments.execute(session, order)
        with lock:
            replays.append(op.replayed)

    outcomes = race(pay, 1, one)
    assert outcomes == Counter({"OK": THREADS})
    assert sorted(replays) == [False] + [True] * (THREADS - 1)
    assert pay.balance(a) == 90 * YUAN and pay.balance(b) == 10 * YUAN
