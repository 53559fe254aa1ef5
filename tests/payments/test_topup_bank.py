"""Top-up (SPEC §6.2) against the real sandbox bank process: pending until the bank's signed callback, posted or
voided exactly once, the sweep for a bank that never answers, and the callback endpoint's refusals.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))

from collections.abc import Iterator
from typing import Any

import card_helpers
import pytest
from card_helpers import LI_MING, LIU_YANG, YUAN, Flow
from sqlalchemy import select

from qianbao.adapters.bank import signing
from qianbao.audit.models import AuditEntry
from qianbao.cards import binding as card_binding
from qianbao.cards import movements
from qianbao.cards.models import CardMovement
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings


@pytest.fixture(scope="session")
def card_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return card_helpers.start_bank(tmp_path_factory)


@pytest.fixture
def bank_client(card_bank_process: Any) -> Iterator[Any]:
    yield from card_helpers.bank_client_of(card_bank_process)


@pytest.fixture
def flow(db: Database, settings: Settings, app: Any, bank_client: Any) -> Iterator[Flow]:
    yield from card_helpers.flow_over(db, settings, app, bank_client)


def test_a_topup_is_processing_until_the_banks_callback_posts_it(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 500 * YUAN)
    assert (started.status, started.amount, started.fee) == ("processing", 500 * YUAN, 0)
    assert flow.balance(holder).posted == 0 and flow.operation(started.reference).status == "processing"
    flow.settle(started.reference)
    assert flow.deliver() == [200]
    assert flow.movement(started.reference).status == "succeeded"
    assert flow.operation(started.reference).status == "succeeded"
    assert flow.balance(holder).posted == 500 * YUAN
    flow.ledger_ok()


def test_the_card_is_debited_at_the_bank(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    number = flow.bank_card(holder, balance=1_000 * YUAN)
    started = flow.start(holder, number, phone=holder.phone)
    bound = flow.confirm(holder, started.id, flow.bank_client.latest_otp(holder.phone))
    flow.fund(holder, bound.id, 300 * YUAN)
    assert flow.card_balance(number) == 700 * YUAN


def test_a_bank_failure_voids_the_topup(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 200 * YUAN)
    flow.settle(started.reference, status="failed", reason="INSUFFICIENT_FUNDS")
    assert flow.deliver() == [200]
    movement = flow.movement(started.reference)
    assert (movement.status, movement.failure) == ("failed", "BANK_INSUFFICIENT_FUNDS")
    assert flow.operation(started.reference).status == "failed"
    assert flow.balance(holder).posted == 0
    flow.ledger_ok()


def test_a_bank_that_never_answers_leaves_it_pending_then_the_sweep_voids_it(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 100 * YUAN)
    created = flow.movement(started.reference).created_at
    # Asked a minute later, the bank still has no answer: it stays processing, asked again later.
    assert movements.sweep(flow.db, flow.bank, now=created + timedelta(minutes=1)) == 0
    movement = flow.movement(started.reference)
    assert (movement.status, movement.query_count) == ("processing", 1)
    assert movement.next_query_at > created + timedelta(minutes=1)
    # Past the deadline, still nothing: voided.
    assert movements.sweep(flow.db, flow.bank, now=created + movements.DEADLINE + timedelta(seconds=1)) == 1
    movement = flow.movement(started.reference)
    assert (movement.status, movement.failure) == ("failed", "bank_timeout")
    assert flow.operation(started.reference).status == "failed"
    assert flow.balance(holder).posted == 0
    flow.ledger_ok()


def test_the_sweep_posts_a_topup_the_bank_finished_but_whose_callback_was_lost(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 100 * YUAN)
    flow.settle(started.reference)  # the callback is never delivered
    created = flow.movement(started.reference).created_at
    assert movements.sweep(flow.db, flow.bank, now=created + movements.QUERY_AFTER) == 1
    assert flow.movement(started.reference).status == "succeeded"
    assert flow.balance(holder).posted == 100 * YUAN
    # The callback arriving afterwards changes nothing.
    assert flow.deliver() == [200]
    assert flow.balance(holder).posted == 100 * YUAN
    flow.ledger_ok()


def _redeliver(flow: Flow, key: str) -> int:
    """The bank sends the same event again, signed afresh (a new timestamp and nonce), as a real redelivery."""
    (event,) = [c for c in flow.bank_client.callbacks(key)]
    body = json.dumps(event["body"], separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.sign(flow.settings.bank_callback_secret, flow.settings.bank_merchant_id, "POST",
                           "/api/bank/callbacks", body)
    headers["content-type"] = "application/json"
    return int(flow.client.post("/api/bank/callbacks", content=body, headers=headers).status_code)


def test_a_callback_that_arrives_twice_changes_nothing_the_second_time(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 50 * YUAN)
    flow.settle(started.reference)
    assert flow.deliver() == [200]
    assert flow.balance(holder).posted == 50 * YUAN
    assert _redeliver(flow, flow.bank_key(started.reference)) == 200
    assert flow.balance(holder).posted == 50 * YUAN
    assert flow.movement(started.reference).status == "succeeded"
    flow.ledger_ok()


def test_a_success_callback_after_the_timeout_void_changes_nothing(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 80 * YUAN)
    created = flow.movement(started.reference).created_at
    movements.sweep(flow.db, flow.bank, now=created + movements.DEADLINE + timedelta(seconds=1))
    assert flow.movement(started.reference).status == "failed"
    flow.settle(started.reference)  # the bank finally says yes
    assert flow.deliver() == [200]
    assert flow.movement(started.reference).status == "failed"
    assert flow.balance(holder).posted == 0
    with flow.db.read() as session:
        late = session.scalar(select(AuditEntry).where(AuditEntry.action == "card.movement.late"))
    assert late is not None and late.details["bank_says"] == "succeeded"
    flow.ledger_ok()


@pytest.mark.parametrize("tamper", ["amount", "status", "signature", "stale"])
def test_a_tampered_callback_is_refused_with_401_and_changes_nothing(flow: Flow, tamper: str) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 60 * YUAN)
    flow.settle(started.reference, status="failed", reason="DECLINED")
    (pending,) = [c for c in flow.bank_client.pending_callbacks() if flow.bank_key(started.reference) in c["body"]]
    body, headers = pending["body"], dict(pending["headers"])
    if tamper == "amount":
        body = body.replace('"amount":6000', '"amount":6001')
    elif tamper == "status":
        body = body.replace('"status":"failed"', '"status":"succeeded"')
    elif tamper == "signature":
        headers[signing.SIGNATURE] = "0" * 64
    else:
        old = datetime.now(UTC).timestamp() - 3600
        headers = signing.sign(flow.settings.bank_callback_secret, flow.settings.bank_merchant_id, "POST",
                               "/api/bank/callbacks", body.encode(), now=old)
        headers["content-type"] = "application/json"
    response = flow.client.post("/api/bank/callbacks", content=body.encode(), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] in {"BANK_CALLBACK_SIGNATURE_INVALID", "BANK_CALLBACK_STALE"}
    assert flow.movement(started.reference).status == "processing"
    assert flow.balance(holder).posted == 0


def test_the_same_topup_key_is_one_topup_and_one_debit_at_the_bank(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    first = flow.topup(holder, bound.id, 70 * YUAN, key="test:same")
    again = flow.topup(holder, bound.id, 70 * YUAN, key="test:same")
    assert again.reference == first.reference and again.replayed
    assert len(flow.bank_client.operations(flow.bank_key(first.reference))) == 1
    with flow.db.read() as session:
        assert len(list(session.scalars(select(CardMovement)))) == 1


def test_a_topup_over_the_balance_cap_is_refused_before_the_bank_with_the_room_left(flow: Flow) -> None:
    holder = flow.holder(LI_MING)  # tier 3 until a debit card is bound; a credit card keeps it there
    bound = flow.bind_at_bank(holder, "622810")
    assert flow.tier(holder) == 3
    flow.fund(holder, bound.id, 15_000 * YUAN)
    with pytest.raises(QianbaoError) as caught:
        flow.topup(holder, bound.id, 5_000 * YUAN + 1)
    assert (caught.value.code, caught.value.params) == ("TOPUP_OVER_BALANCE_CAP",
                                                        {"cap": "¥20,000.00", "room": "¥5,000.00"})
    assert flow.count(CardMovement) == 1 and flow.balance(holder).posted == 15_000 * YUAN


def test_a_card_with_a_topup_in_flight_cannot_be_unbound_until_it_ends(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    started = flow.topup(holder, bound.id, 30 * YUAN)
    with pytest.raises(QianbaoError) as caught:
        card_binding.unbind_card(flow.db, flow.bank, holder.customer_id, bound.id)
    assert caught.value.code == "CARD_IN_FLIGHT"
    assert [c.id for c in flow.cards(holder)] == [bound.id]
    flow.settle(started.reference)
    flow.deliver()
    card_binding.unbind_card(flow.db, flow.bank, holder.customer_id, bound.id)
    assert flow.cards(holder) == []


def test_another_customers_card_cannot_fund_a_topup(flow: Flow) -> None:
    holder = flow.holder(LI_MING)
    other = flow.holder(LIU_YANG)
    bound = flow.bind_at_bank(holder)
    with pytest.raises(QianbaoError) as caught:
        flow.topup(other, bound.id, 10 * YUAN)
    assert caught.value.code == "NOT_FOUND"
    assert flow.count(CardMovement) == 0


def test_a_bank_that_cannot_be_reached_leaves_the_topup_processing_until_the_sweep_decides(flow: Flow) -> None:
    from qianbao.adapters.bank.http import HttpBankConnector
    from qianbao.payments import topup as topups
    from qianbao.sandbox_bank.process import free_port

    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    down = HttpBankConnector(f"http://127.0.0.1:{free_port()}", "QIANBAO-DEV", "x", retries=1, backoff=0.0,
                             timeout=1.0)
    started = topups.start_topup(flow.db, down, customer_id=holder.customer_id, card_id=bound.id, amount=40 * YUAN,
                                 key="test:down")
    assert started.status == "processing"  # the outcome is unknown: neither posted nor voided
    created = flow.movement(started.reference).created_at
    # The bank never received it (its query answers "no such operation"): voided at the deadline, not before.
    assert movements.sweep(flow.db, flow.bank, now=created + timedelta(minutes=5)) == 0
    assert movements.sweep(flow.db, flow.bank, now=created + movements.DEADLINE) == 1
    assert (flow.movement(started.reference).status, flow.balance(holder).posted) == ("failed", 0)
    flow.ledger_ok()


def test_the_sweep_is_a_registered_worker_job() -> None:
    from qianbao import worker

    assert "card_movements" in [job.name for job in worker.jobs()]


def test_a_topup_the_wallet_can_no_longer_receive_goes_back_to_the_card(flow: Flow) -> None:
    from qianbao import wallets

    holder = flow.holder(LI_MING)
    number = flow.bank_card(holder, balance=1_000 * YUAN)
    started_binding = flow.start(holder, number, phone=holder.phone)
    bound = flow.confirm(holder, started_binding.id, flow.bank_client.latest_otp(holder.phone))
    started = flow.topup(holder, bound.id, 100 * YUAN)
    flow.run(wallets.freeze_wallet, holder.wallet_id, "risk review", 1)  # frozen while the bank works
    flow.settle(started.reference)
    flow.deliver()
    assert flow.card_balance(number) == 900 * YUAN  # the bank took it
    movement = flow.movement(started.reference)
    assert (movement.status, movement.refund) == ("failed", "due")
    assert flow.balance(holder).posted == 0
    assert movements.sweep(flow.db, flow.bank) == 1
    assert flow.movement(started.reference).refund == "sent"
    (refund,) = flow.bank_client.operations(flow.bank_key(started.reference) + "-refund")
    assert (refund["kind"], refund["amount"]) == ("credit", 100 * YUAN)
    flow.bank_client.settle(refund["bank_ref"], status="succeeded")
    assert flow.card_balance(number) == 1_000 * YUAN
    assert movements.sweep(flow.db, flow.bank) == 0  # paid back once
    flow.ledger_ok()
