"""Withdrawal (SPEC §6.2, §6.3) against the real sandbox bank process: to a bound debit card only, the fee from
the schedule, a hold on the wallet, posted when the bank pays out, voided (money and limit usage back) when it
fails or never answers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))

import card_helpers
import pytest
from card_helpers import LI_MING, PSBC_CREDIT, YUAN, Flow

from qianbao import payments
from qianbao.cards import movements
from qianbao.cards.models import CardMovement
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.payments import withdrawal as withdrawals
from qianbao.settings import Settings
from qianbao.wallets import customers as wallet_customers


@pytest.fixture(scope="session")
def card_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return card_helpers.start_bank(tmp_path_factory)


@pytest.fixture
def bank_client(card_bank_process: Any) -> Iterator[Any]:
    yield from card_helpers.bank_client_of(card_bank_process)


@pytest.fixture
def flow(db: Database, settings: Settings, app: Any, bank_client: Any) -> Iterator[Flow]:
    yield from card_helpers.flow_over(db, settings, app, bank_client)


def _funded(flow: Flow, amount: int = 3_000 * YUAN) -> tuple[card_helpers.Holder, Any, str]:
    """A tier-2 holder with a bound debit card and `amount` in the wallet (a confirmed top-up)."""
    holder = flow.holder(LI_MING)
    number = flow.bank_card(holder, balance=10_000 * YUAN)
    started = flow.start(holder, number, phone=holder.phone)
    bound = flow.confirm(holder, started.id, flow.bank_client.latest_otp(holder.phone))
    flow.fund(holder, bound.id, amount)
    return holder, bound, number


def _daily_left(flow: Flow, holder: card_helpers.Holder) -> int | None:
    with flow.db.read() as session:
        wallet = wallet_customers.get_wallet(session, holder.wallet_id)
        return payments.remaining(session, wallet, now=datetime.now(UTC)).daily  # type: ignore[no-any-return]


def test_the_fee_is_quoted_from_the_schedule_before_confirming(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    free = withdrawals.quote_withdrawal(flow.db, holder.customer_id, bound.id, 500 * YUAN)
    assert (free.amount, free.fee, free.total) == (500 * YUAN, 0, 500 * YUAN)  # within 1,000 free a month
    charged = withdrawals.quote_withdrawal(flow.db, holder.customer_id, bound.id, 2_000 * YUAN)
    assert charged.fee == 1_00  # 0.1% of the 1,000 above the free part
    assert flow.count(CardMovement) == 1  # only the funding top-up: a quote moves nothing


def test_a_withdrawal_holds_amount_and_fee_then_posts_when_the_bank_pays_out(flow: Flow) -> None:
    holder, bound, number = _funded(flow)
    before_card = flow.card_balance(number)
    started = flow.withdraw(holder, bound.id, 2_000 * YUAN, fee=1_00)
    assert (started.status, started.amount, started.fee) == ("processing", 2_000 * YUAN, 1_00)
    balance = flow.balance(holder)
    assert (balance.posted, balance.available) == (3_000 * YUAN, 3_000 * YUAN - 2_000 * YUAN - 1_00)
    flow.settle(started.reference)
    assert flow.deliver() == [200]
    assert flow.movement(started.reference).status == "succeeded"
    assert flow.balance(holder).posted == 1_000 * YUAN - 1_00
    assert flow.card_balance(number) == before_card + 2_000 * YUAN
    flow.ledger_ok()


def test_a_failed_payout_returns_the_money_and_the_limit_usage(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    daily = _daily_left(flow, holder)
    started = flow.withdraw(holder, bound.id, 1_500 * YUAN)
    assert _daily_left(flow, holder) == (daily - 1_500 * YUAN - started.fee if daily is not None else None)
    flow.settle(started.reference, status="failed", reason="CARD_FROZEN")
    assert flow.deliver() == [200]
    movement = flow.movement(started.reference)
    assert (movement.status, movement.failure) == ("failed", "BANK_CARD_FROZEN")
    balance = flow.balance(holder)
    assert (balance.posted, balance.available) == (3_000 * YUAN, 3_000 * YUAN)
    assert _daily_left(flow, holder) == daily
    flow.ledger_ok()


def test_a_payout_the_bank_never_answers_is_voided_by_the_sweep_and_the_money_returns(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    started = flow.withdraw(holder, bound.id, 800 * YUAN)
    created = flow.movement(started.reference).created_at
    assert movements.sweep(flow.db, flow.bank, now=created + timedelta(minutes=2)) == 0
    assert flow.movement(started.reference).status == "processing"
    assert flow.balance(holder).available == 2_200 * YUAN
    assert movements.sweep(flow.db, flow.bank, now=created + movements.DEADLINE) == 1
    assert (flow.movement(started.reference).status, flow.balance(holder).available) == ("failed", 3_000 * YUAN)
    flow.ledger_ok()


def test_a_credit_card_cannot_receive_a_withdrawal(flow: Flow) -> None:
    holder, _debit, _ = _funded(flow)
    credit = flow.bind_at_bank(holder, PSBC_CREDIT)
    for attempt in (lambda: withdrawals.quote_withdrawal(flow.db, holder.customer_id, credit.id, 100 * YUAN),
                    lambda: flow.withdraw(holder, credit.id, 100 * YUAN)):
        with pytest.raises(QianbaoError) as caught:
            attempt()
        assert (caught.value.code, caught.value.params) == ("CARD_CREDIT_NOT_ALLOWED", {"last4": credit.last4})
    assert flow.count(CardMovement) == 1 and flow.balance(holder).available == 3_000 * YUAN


def test_a_withdrawal_whose_fee_changed_since_the_quote_is_refused(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    with pytest.raises(QianbaoError) as caught:
        flow.withdraw(holder, bound.id, 2_000 * YUAN, fee=0)  # the schedule says 1.00
    assert (caught.value.code, caught.value.params) == ("WITHDRAWAL_FEE_CHANGED", {"fee": 1_00})
    assert flow.count(CardMovement) == 1 and flow.balance(holder).available == 3_000 * YUAN


def test_a_retried_withdrawal_is_one_payout_with_its_own_fee(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    first = flow.withdraw(holder, bound.id, 900 * YUAN, fee=0, key="test:wd")
    flow.settle(first.reference)
    flow.deliver()
    # The month's free part is used up now; the retry still replays the first withdrawal, fee and all.
    again = flow.withdraw(holder, bound.id, 900 * YUAN, fee=0, key="test:wd")
    assert (again.reference, again.fee, again.status, again.replayed) == (first.reference, 0, "succeeded", True)
    assert len(flow.bank_client.operations(flow.bank_key(first.reference))) == 1
    assert flow.balance(holder).posted == 2_100 * YUAN


def test_a_withdrawal_above_the_balance_is_refused_and_nothing_reaches_the_bank(flow: Flow) -> None:
    holder, bound, _ = _funded(flow, 100 * YUAN)
    with pytest.raises(QianbaoError) as caught:
        flow.withdraw(holder, bound.id, 100 * YUAN + 1)
    assert caught.value.code == "INSUFFICIENT_BALANCE"
    assert flow.count(CardMovement) == 1 and flow.balance(holder).available == 100 * YUAN


def test_a_withdrawal_above_the_single_payment_limit_names_the_limit(flow: Flow) -> None:
    holder, bound, _ = _funded(flow, 9_000 * YUAN)
    assert flow.tier(holder) == 2
    with pytest.raises(QianbaoError) as caught:
        flow.withdraw(holder, bound.id, 50_000 * YUAN + 1)
    assert (caught.value.code, caught.value.params["limit"]) == ("LIMIT_EXCEEDED", "single")
    assert flow.count(CardMovement) == 1


def test_a_withdrawal_needs_a_pin_or_a_passkey(flow: Flow) -> None:
    holder, bound, _ = _funded(flow)
    with pytest.raises(QianbaoError) as caught:
        withdrawals.start_withdrawal(flow.db, flow.bank, customer_id=holder.customer_id, card_id=bound.id,
                                     amount=100 * YUAN, fee=None, key="test:nopin", confirmation="password_free")
    assert caught.value.code == "PAYMENT_CONFIRMATION_REQUIRED"
    assert flow.count(CardMovement) == 1
