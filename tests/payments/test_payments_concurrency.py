"""Concurrent transfers among a few wallets, with retries and reused keys: money is conserved, each key moves
money once, and the ledger check passes (both databases)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from payments_helpers import YUAN, Pay
from sqlalchemy import func, select

from qianbao import ledger, payments
from qianbao.errors import QianbaoError
from qianbao.payments.models import PaymentEntry, PaymentOperation

THREADS = 8
ROUNDS = 15


def test_concurrent_transfers_with_retries_and_reused_keys_conserve_money(pay: Pay) -> None:
    people = [pay.open(tier=1) for _ in range(4)]
    for w in people:
        pay.fund(w, 10 * YUAN)
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()
    moved: dict[str, int] = {}

    def attempt(order: payments.Order) -> str:
        try:
            with pay.db.transaction() as session:
                op = payments.execute(session, order)
        except QianbaoError as error:
            return error.code
        if op.replayed:
            with lock:
                assert moved[order.key] == order.amount  # a replay answers the request that moved money
            return "REPLAYED"
        with lock:
            assert order.key not in moved  # a key moves money once
            moved[order.key] = order.amount
        return "OK"

    def run(n: int) -> list[str]:
        rng = random.Random(n)
        barrier.wait()
        codes = []
        for i in range(ROUNDS):
            a, b = rng.sample(people, 2)
            order = pay.order(a, b, rng.randint(1, 300), key=f"c:{n}:{i}")
            codes.append(attempt(order))
            codes.append(attempt(order))  # the client's retry (a refused one is judged afresh)
            if i % 5 == 0:  # the same key for another request
                codes.append(attempt(pay.order(a, b, order.amount + 1, key=order.key)))
        return codes

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(code for codes in pool.map(run, range(THREADS)) for code in codes)

    ok = outcomes["OK"]
    assert ok == len(moved) and outcomes["REPLAYED"] >= ok - THREADS * ROUNDS // 5
    assert set(outcomes) <= {"OK", "REPLAYED", "INSUFFICIENT_BALANCE", "IDEMPOTENCY_KEY_REUSED"}
    assert outcomes["IDEMPOTENCY_KEY_REUSED"] + outcomes["INSUFFICIENT_BALANCE"] >= THREADS * 3
    assert sum(pay.balance(w) for w in people) == 40 * YUAN
    with pay.db.read() as session:
        transfers = session.scalar(select(func.count()).select_from(PaymentOperation)
                                   .where(PaymentOperation.kind == "transfer"))
        entries = session.scalar(select(func.count()).select_from(PaymentEntry)
                                 .where(PaymentEntry.kind == "transfer"))
        report = ledger.check_invariants(session)
    assert transfers == ok and entries == 2 * ok
    assert report.ok, report
