"""Concurrent transfers among four wallets over HTTP, with retries under the same Idempotency-Key and keys
reused for another request; then the ledger check, the sum of balances, each key moving money once, and
every balance against the client's own bookkeeping."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acceptance_helpers import PIN, YUAN, Customer, Live

from qianbao import payments

THREADS = 8


@dataclass(frozen=True)
class Intent:
    key: str
    payer: Customer
    payee: Customer
    amount: int  # fen


def transfer(live: Live, intent: Intent, amount: int | None = None, payee: Customer | None = None) -> Any:
    fen = intent.amount if amount is None else amount
    body = {"recipient": (payee or intent.payee).number, "amount": f"{fen // 100}.{fen % 100:02d}", "pin": PIN}
    answer = live.http.post("/api/v1/transfers", json=body,
                            headers={**intent.payer.auth, "idempotency-key": intent.key})
    return answer.status_code, answer.json()


def set_transfer_fee(live: Live, make_staff: Any) -> None:
    """0.1 % with a minimum of 0.10 yuan, so that fees are part of the bookkeeping."""
    operator = make_staff("operator")
    with live.db.transaction() as session:
        payments.update_fee_rule(session, "transfer", {"rate_ppm": 1_000, "min_fee": 10}, operator.id,
                                 "验收测试：转账手续费")


def test_concurrent_transfers_with_retries_and_reused_keys_move_each_key_once(
        live: Live, make_staff: Any, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    set_transfer_fee(live, make_staff)
    people = [live.open() for _ in range(4)]
    for person in people:
        live.fund(person, 2_000 * YUAN)
        live.sign_in(person)
    intents = []
    for _ in range(48):
        payer, payee = rng.sample(people, 2)
        intents.append(Intent(uuid.uuid4().hex, payer, payee, rng.randint(1, 5_000)))
    # Every intent is sent 1-3 times; the attempts are shuffled, so some retries race the first attempt and
    # some come after its answer.
    attempts = [intent for intent in intents for _ in range(rng.randint(1, 3))]
    rng.shuffle(attempts)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda intent: (intent, *transfer(live, intent)), attempts))

    by_key: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for intent, status, body in answers:
        by_key[intent.key].append((status, body))
    for intent in intents:
        got = by_key[intent.key]
        assert {status for status, _ in got} == {201}, (intent, got)
        assert len({body["reference"] for _, body in got}) == 1, got
        assert [body["replayed"] for _, body in got].count(False) == 1, got
        assert all(body["amount"]["fen"] == intent.amount for _, body in got)

    # Phase two: the same keys again, some with another amount or recipient (409, nothing moves), some
    # unchanged (the first answer again), all at once.
    reused = rng.sample(intents, 12)
    again = rng.sample(intents, 12)
    jobs: list[tuple[str, Intent]] = [("reuse", intent) for intent in reused] + [("retry", i) for i in again]
    rng.shuffle(jobs)

    def run(job: tuple[str, Intent]) -> tuple[str, Intent, int, dict[str, Any]]:
        kind, intent = job
        if kind == "retry":
            return (kind, intent, *transfer(live, intent))
        if rng.random() < 0.5:
            return (kind, intent, *transfer(live, intent, amount=intent.amount + 1))
        other = next(p for p in people if p not in (intent.payer, intent.payee))
        return (kind, intent, *transfer(live, intent, payee=other))

    with ThreadPoolExecutor(THREADS) as pool:
        second = list(pool.map(run, jobs))
    for kind, intent, status, body in second:
        if kind == "reuse":
            assert (status, body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED"), body
        else:
            assert status == 201 and body["replayed"] is True, body
            assert body["reference"] == by_key[intent.key][0][1]["reference"]

    # The client's own bookkeeping, from its 201 answers.
    first_answer = {intent.key: by_key[intent.key][0][1] for intent in intents}
    expected = {p.wallet_id: 2_000 * YUAN for p in people}
    fees = 0
    for intent in intents:
        body = first_answer[intent.key]
        expected[intent.payer.wallet_id] -= body["amount"]["fen"] + body["fee"]["fen"]
        expected[intent.payee.wallet_id] += body["amount"]["fen"]
        fees += body["fee"]["fen"]
    assert fees > 0
    for person in people:
        assert live.balance(person) == expected[person.wallet_id]
        assert live.api_balance(person) == expected[person.wallet_id]
    assert sum(live.balance(p) for p in people) + fees == live.funded

    # Each key moved money exactly once: one operation per key, and each wallet's history holds each of its
    # transfers once, on the right side, with the amounts answered.
    references = {first_answer[i.key]["reference"]: i for i in intents}
    assert live.operation_count(kind="transfer") == len(intents)
    for person in people:
        rows = [row for row in live.records(person) if row["type"] == "transfer"]
        seen = Counter((row["reference"], row["direction"]) for row in rows)
        assert all(count == 1 for count in seen.values()), seen
        mine = {(ref, "out" if i.payer == person else "in") for ref, i in references.items()
                if person in (i.payer, i.payee)}
        assert set(seen) == mine
        for row in rows:
            answer = first_answer[references[row["reference"]].key]
            assert row["amount"]["fen"] == answer["amount"]["fen"] and row["status"] == "succeeded"
            assert row["fee"]["fen"] == (answer["fee"]["fen"] if row["direction"] == "out" else 0)
    live.ledger_ok()
    live.ledger_cli_ok(tmp_path)
