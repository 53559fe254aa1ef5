"""Many threads on a few hot accounts: money is conserved, no bound is broken, and exactly as many
requests succeed as the balances allow. Runs on both databases (row locks on PostgreSQL, BEGIN
IMMEDIATE on SQLite)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from ledger_helpers import Chart, assert_ledger_ok, fund, key, posted

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import NewTransfer

pytestmark = pytest.mark.slow

THREADS = 8


def hammer(worker: Callable[[int], list[str]]) -> Counter[str]:
    start = threading.Barrier(THREADS)

    def run(n: int) -> list[str]:
        start.wait()
        return worker(n)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = [code for codes in pool.map(run, range(THREADS)) for code in codes]
    return Counter(outcomes)


def attempt(db: Database, call: Callable[[Any], Any]) -> str:
    try:
        with db.transaction() as s:
            call(s)
        return "OK"
    except QianbaoError as error:
        return error.code


def test_exactly_as_many_payments_succeed_as_the_balance_allows(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 1_000)

    def pay_tens(n: int) -> list[str]:
        return [
            attempt(db, lambda s: ledger.create_transfer(s, key=key(f"t{n}"), debit=chart.alice,
                                                         credit=chart.merchant, amount=10, code="pay"))
            for _ in range(40)
        ]

    outcomes = hammer(pay_tens)
    assert outcomes == Counter({"OK": 100, "LEDGER_INSUFFICIENT_FUNDS": 220})
    assert posted(db, chart.alice) == 0 and posted(db, chart.merchant) == 1_000
    assert_ledger_ok(db)


def test_exactly_as_many_holds_succeed_as_the_balance_allows(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 500)

    def hold_and_post(n: int) -> list[str]:
        codes = []
        for i in range(20):
            try:
                with db.transaction() as s:
                    h = ledger.create_transfer(s, key=key(f"h{n}"), debit=chart.alice, credit=chart.merchant,
                                               amount=10, code="pay", pending=True)
                with db.transaction() as s:
                    if i % 2:
                        ledger.post_pending(s, key=key(), pending_id=h.id)
                    else:
                        ledger.void_pending(s, key=key(), pending_id=h.id)
                codes.append("posted" if i % 2 else "voided")
            except QianbaoError as error:
                codes.append(error.code)
        return codes

    outcomes = hammer(hold_and_post)
    assert sum(outcomes.values()) == 160 and set(outcomes) <= {"posted", "voided", "LEDGER_INSUFFICIENT_FUNDS"}
    assert posted(db, chart.merchant) == 10 * outcomes["posted"]
    assert posted(db, chart.alice) == 500 - 10 * outcomes["posted"] >= 0
    assert_ledger_ok(db)


def test_random_traffic_between_hot_wallets_conserves_money(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        hot = [ledger.open_account(s, "customer_wallet").id for _ in range(4)]
    for wallet in hot:
        fund(db, chart, wallet, 2_000)

    def shuffle(n: int) -> list[str]:
        rnd = random.Random(n)
        codes = []
        for _ in range(30):
            a, b = rnd.sample(hot, 2)
            if rnd.random() < 0.2:
                items = [NewTransfer(key(), a, b, rnd.randint(1, 900), "p2p", linked=True),
                         NewTransfer(key(), a, chart.fees, rnd.randint(1, 50), "fee")]
                codes.append(attempt(db, lambda s, items=items: _all_or_raise(ledger.create_transfers(s, items))))
            else:
                codes.append(attempt(db, lambda s, a=a, b=b: ledger.create_transfer(
                    s, key=key(), debit=a, credit=b, amount=rnd.randint(1, 900), code="p2p")))
        return codes

    outcomes = hammer(shuffle)
    assert set(outcomes) <= {"OK", "LEDGER_INSUFFICIENT_FUNDS"} and outcomes["OK"] > 0
    balances = [posted(db, w) for w in hot]
    assert min(balances) >= 0
    assert sum(balances) + posted(db, chart.fees) == 8_000
    assert_ledger_ok(db)


def _all_or_raise(results: list[ledger.ItemResult]) -> None:
    for r in results:
        if r.error is not None and r.error.code != "LEDGER_LINKED_FAILED":
            raise r.error


def test_one_request_retried_from_many_threads_at_once_is_applied_once(db: Database, funded: Chart) -> None:
    def retry(_n: int) -> list[str]:
        result: list[str] = []
        with db.transaction() as s:
            t = ledger.create_transfer(s, key="same-key", debit=funded.alice, credit=funded.bob, amount=250,
                                       code="p2p")
            result.append(f"{t.id}:{t.replayed}")
        return result

    outcomes = list(hammer(retry).elements())
    assert len({o.split(":")[0] for o in outcomes}) == 1
    assert sorted(o.split(":")[1] for o in outcomes) == ["False"] + ["True"] * (THREADS - 1)
    assert posted(db, funded.bob) == 250


def test_a_hold_posted_and_voided_from_many_threads_ends_exactly_once(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        h = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5_000, code="pay",
                                   pending=True)

    def race(n: int) -> list[str]:
        verb = ledger.post_pending if n % 2 else ledger.void_pending
        return [attempt(db, lambda s: verb(s, key=key(), pending_id=h.id))]

    outcomes = hammer(race)
    assert outcomes["OK"] == 1
    assert outcomes["LEDGER_PENDING_ALREADY_POSTED"] + outcomes["LEDGER_PENDING_ALREADY_VOIDED"] == THREADS - 1
    assert_ledger_ok(db)


def test_a_transfer_reversed_from_many_threads_is_reversed_once(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        t = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5_000, code="p2p")

    outcomes = hammer(lambda _n: [attempt(db, lambda s: ledger.reverse(s, key=key(), transfer_id=t.id))])
    assert outcomes == Counter({"OK": 1, "LEDGER_ALREADY_REVERSED": THREADS - 1})
    assert posted(db, funded.bob) == 0


def test_crossing_batches_never_deadlock_and_balance(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        wallets = [ledger.open_account(s, "customer_wallet").id for _ in range(10)]
        ledger.create_transfers(s, [NewTransfer(key(), chart.bank, w, 5_000, "topup") for w in wallets])

    def batches(n: int) -> list[str]:
        rnd = random.Random(100 + n)
        codes = []
        for _ in range(6):
            items = []
            for _ in range(40):
                a, b = rnd.sample(wallets, 2)
                items.append(NewTransfer(key(), a, b, rnd.randint(1, 400), "p2p"))
            with db.transaction() as s:
                codes += [r.code for r in ledger.create_transfers(s, items)]
        return codes

    outcomes = hammer(batches)
    assert set(outcomes) <= {"OK", "LEDGER_INSUFFICIENT_FUNDS"}
    assert sum(posted(db, w) for w in wallets) == 50_000
    assert_ledger_ok(db)


def test_one_key_used_for_different_requests_at_once_applies_one_of_them(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        payees = [ledger.open_account(s, "merchant").id for _ in range(THREADS)]

    def misuse(n: int) -> list[str]:
        return [attempt(db, lambda s: ledger.create_transfer(s, key="shared", debit=funded.bob if n % 2 else
                                                             funded.alice, credit=payees[n], amount=1, code="pay"))]

    fund(db, funded, funded.bob, 10)
    outcomes = hammer(misuse)
    assert outcomes == Counter({"OK": 1, "IDEMPOTENCY_KEY_REUSED": THREADS - 1})
    assert sum(posted(db, p) for p in payees) == 1
    assert_ledger_ok(db)
