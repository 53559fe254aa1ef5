"""Limit races over HTTP: many payments at once against a limit close to used up; exactly as many pass as the
limit allows, the others are LIMIT_EXCEEDED naming the limit, and nothing of theirs moves. The same for one
wallet's balance (never negative)."""

from __future__ import annotations

import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from acceptance_helpers import PIN, YUAN, Customer, Live

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import customer_pay_helpers

from qianbao import payments

THREADS = 10

LIMIT_NAMES = {"daily": "当日累计支出限额", "static_qr": "静态收款码当日累计限额",
               "password_free": "小额免密当日累计限额"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def transfer(live: Live, payer: Customer, payee: Customer, fen: int, *, pin: bool = True) -> tuple[int, Any]:
    body: dict[str, Any] = {"recipient": payee.number, "amount": yuan(fen)}
    if pin:
        body["pin"] = PIN
    answer = live.http.post("/api/v1/transfers", json=body,
                            headers={**payer.auth, "idempotency-key": uuid.uuid4().hex})
    return answer.status_code, answer.json()


def pay_static(live: Live, payer: Customer, payload: str, fen: int) -> tuple[int, Any]:
    answer = live.http.post("/api/v1/qr-payments", json={"payload": payload, "amount": yuan(fen), "pin": PIN},
                            headers={**payer.auth, "idempotency-key": uuid.uuid4().hex})
    return answer.status_code, answer.json()


def static_payload(live: Live) -> tuple[str, int]:
    shop = customer_pay_helpers.shop(live.db, live.settings)
    return customer_pay_helpers.static_code(live.db, shop), shop.account_id


def assert_refusals(results: list[tuple[int, Any]], *, passed: int, limit: str, remaining: int) -> None:
    assert [status for status, _ in results].count(201) == passed, results
    refused = [body for status, body in results if status != 201]
    for body in refused:
        assert body["code"] == "LIMIT_EXCEEDED", body
        assert body["params"]["limit"] == limit and body["params"]["remaining_fen"] == remaining, body
        assert LIMIT_NAMES[limit] in body["detail"], body


def test_the_daily_outflow_limit_lets_through_exactly_what_is_left(live: Live) -> None:
    payer = live.sign_in(live.open())
    first, second, third = (live.open(pin=False) for _ in range(3))
    live.fund(payer, 10_000 * YUAN)
    payload, shop_account = static_payload(live)
    # 4,700 of the tier-4 daily 5,000 yuan used (single payments are at most 2,000)
    for fen in (2_000 * YUAN, 2_000 * YUAN, 700 * YUAN):
        assert transfer(live, payer, first, fen)[0] == 201
    jobs = [("transfer", second if n % 2 else third) for n in range(5)] + [("qr", None)] * 5

    def run(job: tuple[str, Customer | None]) -> tuple[int, Any]:
        kind, payee = job
        if kind == "qr":
            return pay_static(live, payer, payload, 50 * YUAN)
        assert payee is not None
        return transfer(live, payer, payee, 50 * YUAN)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, jobs))
    assert_refusals(results, passed=6, limit="daily", remaining=0)
    assert live.balance(payer) == 10_000 * YUAN - 5_000 * YUAN
    moved = live.balance(second) + live.balance(third) + customer_pay_helpers.balance(live.db, shop_account)
    assert moved == 300 * YUAN
    live.ledger_ok()


def test_the_static_qr_daily_cap_lets_through_exactly_what_is_left(live: Live) -> None:
    payer = live.sign_in(live.open())
    live.fund(payer, 2_000 * YUAN)
    payload, shop_account = static_payload(live)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda _: pay_static(live, payer, payload, 80 * YUAN), range(10)))
    assert_refusals(results, passed=6, limit="static_qr", remaining=20 * YUAN)
    assert live.balance(payer) == 2_000 * YUAN - 480 * YUAN
    assert customer_pay_helpers.balance(live.db, shop_account) == 480 * YUAN
    live.ledger_ok()


def test_the_password_free_daily_cap_lets_through_exactly_what_is_left(live: Live) -> None:
    payer = live.sign_in(live.open())
    payees = [live.open(pin=False) for _ in range(2)]
    live.fund(payer, 3_000 * YUAN)
    with live.db.transaction() as session:
        payments.set_password_free(session, payer.customer_id, enabled=True, threshold=200 * YUAN)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda n: transfer(live, payer, payees[n % 2], 150 * YUAN, pin=False), range(10)))
    assert all(body["confirmation"] == "password_free" for status, body in results if status == 201)
    assert_refusals(results, passed=6, limit="password_free", remaining=100 * YUAN)
    assert live.balance(payer) == 3_000 * YUAN - 900 * YUAN
    assert sum(live.balance(p) for p in payees) == 900 * YUAN
    live.ledger_ok()


def test_concurrent_transfers_above_the_balance_never_make_it_negative(live: Live) -> None:
    payer = live.sign_in(live.open())
    payees = [live.open(pin=False) for _ in range(3)]
    live.fund(payer, 500 * YUAN)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda n: transfer(live, payer, payees[n % 3], 70 * YUAN), range(10)))
    passed = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(passed) == 7, results  # 7 × 70 = 490 of 500 yuan
    assert all(body["code"] == "INSUFFICIENT_BALANCE" for body in refused), refused
    assert live.balance(payer) == 10 * YUAN
    assert sum(live.balance(p) for p in payees) == 490 * YUAN
    assert live.operation_count(kind="transfer") == 7
    live.ledger_ok()


def test_a_qr_payment_retried_at_once_under_one_key_pays_once_and_another_amount_is_refused(live: Live) -> None:
    payer = live.sign_in(live.open())
    live.fund(payer, 500 * YUAN)
    payload, shop_account = static_payload(live)
    key = uuid.uuid4().hex

    def send(fen: int) -> tuple[int, Any]:
        answer = live.http.post("/api/v1/qr-payments", json={"payload": payload, "amount": yuan(fen), "pin": PIN},
                                headers={**payer.auth, "idempotency-key": key})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, [30 * YUAN] * 4))
    assert sorted(status for status, _ in results) == [200, 200, 200, 201], results
    assert len({body["reference"] for _, body in results}) == 1
    status, body = send(31 * YUAN)
    assert (status, body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert live.balance(payer) == 470 * YUAN
    assert customer_pay_helpers.balance(live.db, shop_account) == 30 * YUAN
    live.ledger_ok()
