"""Bill payment (SPEC §6.2 生活缴费): look up what is due, pay it through a hold the biller's answer posts or voids."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from bills_helpers import (
    GAS_DUE,
    PIN,
    TELECOM_DUE,
    WATER_DUE,
    WATER_LOST_ANSWER,
    WATER_PAID_UP,
    WATER_REFUSING,
    WATER_UNKNOWN,
    YUAN,
    Kit,
    confirm_with,
)

from qianbao import credentials, ledger, payments
from qianbao.adapters.billers import BillerUnavailable
from qianbao.adapters.billers.sandbox import SandboxBillers
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.payments import bills
from qianbao.payments.bills_models import BillPayment

WATER = "SH-WATER"


def _pay(kit: Kit, w, reference: str = WATER_DUE, *, key: str | None = None, pin: str | None = PIN,
         adapter=None, amount: int | None = None, code: str = WATER, save: bool = False) -> bills.BillPaymentView:
    due = bills.lookup_bill(kit.db, kit.billers, code, reference)
    return bills.pay_bill(kit.db, adapter or kit.billers, key=key or kit.key(), customer_id=w.customer_id,
                          code=code, reference=reference, bill_id=due.bill_id or "",
                          amount=due.amount if amount is None else amount,
                          confirm=confirm_with(w.customer_id, pin=pin, settings=kit.settings), save=save)


class Counting:
    """Wraps the sandbox and counts the calls that reach it."""

    def __init__(self, inner: SandboxBillers) -> None:
        self.inner = inner
        self.calls = 0

    def lookup(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.lookup(*args, **kwargs)

    def pay(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.pay(*args, **kwargs)


class DownAtPay(Counting):
    """Answers look-ups, then cannot be reached for the payment (the request never leaves)."""

    def pay(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise BillerUnavailable("unavailable")


def test_a_lookup_while_the_biller_is_down_is_refused_as_unavailable(kit: Kit, db) -> None:  # type: ignore[no-untyped-def]
    down = SandboxBillers(db, failure_rate=1.0, sleep=lambda seconds: None)
    assert kit.refusal(bills.lookup_bill, kit.db, down, WATER, WATER_DUE).code == "BILLER_UNAVAILABLE"


def test_lookup_shows_the_masked_holder_the_amount_the_period_and_the_due_date(kit: Kit) -> None:
    due = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    assert due.biller.name_zh == "上海市自来水"
    assert "*" in due.holder
    assert 1_850 <= due.amount <= 16_800
    assert due.period == "2026-10"
    assert due.due_date == date(2026, 11, 25)
    assert due.reference_masked == WATER_DUE[:4] + "**" + WATER_DUE[-4:]


def test_paying_a_bill_moves_the_amount_from_the_wallet_to_the_billers_account(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w)
    assert paid.status == "succeeded"
    assert paid.biller_confirmation
    assert kit.posted(w) == 500 * YUAN - paid.amount
    assert kit.account_posted("BILLER-SH-WATER") == paid.amount
    with kit.db.read() as session:
        op = payments.get_operation(session, paid.operation_reference)
    assert (op.kind, op.status, op.confirmation) == ("bill", "succeeded", "pin")
    kit.check_ledger()


def test_a_paid_bill_shows_nothing_due_at_the_next_lookup(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    _pay(kit, w)
    again = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    assert again.nothing_due and again.bill_id is None


def test_every_category_can_be_paid(kit: Kit) -> None:
    w = kit.open(fund=2_000 * YUAN)
    for code, reference in (("SH-POWER", WATER_DUE), ("SH-GAS", GAS_DUE), ("CT-MOBILE", TELECOM_DUE)):
        assert _pay(kit, w, reference, code=code).status == "succeeded"
    kit.check_ledger()


def test_a_mistyped_reference_is_refused_before_any_lookup(kit: Kit) -> None:
    counting = Counting(kit.billers)
    wrong = WATER_DUE[:-1] + str((int(WATER_DUE[-1]) + 1) % 10)
    error = kit.refusal(bills.lookup_bill, kit.db, counting, WATER, wrong)
    assert (error.code, error.params["digits"]) == ("BILL_REFERENCE_INVALID", 10)
    assert kit.refusal(bills.lookup_bill, kit.db, counting, "CT-MOBILE", "13812345678").code == "BILL_REFERENCE_INVALID"
    assert counting.calls == 0


def test_an_unknown_account_is_refused(kit: Kit) -> None:
    assert kit.refusal(bills.lookup_bill, kit.db, kit.billers, WATER, WATER_UNKNOWN).code == "BILL_REFERENCE_UNKNOWN"


def test_an_unknown_biller_is_refused(kit: Kit) -> None:
    assert kit.refusal(bills.lookup_bill, kit.db, kit.billers, "XX-NONE", WATER_DUE).code == "BILLER_UNKNOWN"


def test_nothing_due_is_an_answer_and_cannot_be_paid(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    due = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_PAID_UP)
    assert due.nothing_due and due.holder
    error = kit.refusal(_pay, kit, w, WATER_PAID_UP)
    assert error.code == "BILL_NOTHING_DUE"
    assert kit.posted(w) == 100 * YUAN and kit.operations() == 1


def test_a_biller_refusal_voids_the_hold_and_nothing_moves(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, WATER_REFUSING)
    assert (paid.status, paid.failure_code) == ("failed", "BILLER_REFUSED")
    assert kit.posted(w) == kit.available(w) == 500 * YUAN
    assert kit.account_posted("BILLER-SH-WATER") == 0
    with kit.db.read() as session:
        assert payments.get_operation(session, paid.operation_reference).status == "failed"
    kit.check_ledger()


def test_an_unreachable_biller_voids_the_hold(kit: Kit, db) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, adapter=DownAtPay(kit.billers))
    assert (paid.status, paid.failure_code) == ("failed", "BILLER_UNAVAILABLE")
    assert kit.available(w) == 500 * YUAN
    assert not bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE).nothing_due


def test_a_lost_answer_leaves_the_payment_processing_with_the_money_held(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, WATER_LOST_ANSWER)
    assert paid.status == "processing"
    assert kit.posted(w) == 500 * YUAN and kit.available(w) == 500 * YUAN - paid.amount
    with kit.db.read() as session:
        assert payments.get_operation(session, paid.operation_reference).status == "processing"


def test_the_worker_settles_a_lost_answer_with_the_billers_confirmation(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, WATER_LOST_ANSWER)
    assert bills.settle_processing(kit.db, kit.billers) == 0  # too soon: the request may still be in flight
    bills_clock.shift(timedelta(minutes=1))
    assert bills.settle_processing(kit.db, kit.billers) == 1
    with kit.db.read() as session:
        done = bills.get_payment(session, w.customer_id, paid.operation_reference)
    assert done.status == "succeeded" and done.biller_confirmation
    assert kit.posted(w) == 500 * YUAN - paid.amount
    assert kit.account_posted("BILLER-SH-WATER") == paid.amount
    kit.check_ledger()


def test_a_hold_that_expired_fails_without_crediting_the_biller(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, WATER_LOST_ANSWER)
    bills_clock.shift(timedelta(seconds=bills.HOLD_SECONDS + 1))
    with kit.db.transaction() as session:
        ledger.sweep_expired(session)
        payments.expire_overdue(session)
    counting = Counting(kit.billers)
    bills.settle_processing(kit.db, counting)
    with kit.db.read() as session:
        done = bills.get_payment(session, w.customer_id, paid.operation_reference)
    assert (done.status, done.failure_code) == ("failed", "BILL_HOLD_EXPIRED")
    assert counting.calls == 0
    assert kit.posted(w) == kit.available(w) == 500 * YUAN


def test_an_amount_other_than_the_bill_is_refused_before_anything_is_held(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    due = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    error = kit.refusal(_pay, kit, w, amount=due.amount - 1)
    assert error.code == "BILL_AMOUNT_MISMATCH"
    assert kit.available(w) == 500 * YUAN and kit.count(BillPayment) == 0 and kit.operations() == 1


def test_a_bill_that_changed_since_the_customer_saw_it_is_refused(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    seen = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    kit.billers.issue_bill(WATER, WATER_DUE, amount=9_999, period="2026-09", due_date=date(2026, 10, 25))
    error = kit.refusal(bills.pay_bill, kit.db, kit.billers, key="k", customer_id=w.customer_id, code=WATER,
                        reference=WATER_DUE, bill_id=seen.bill_id, amount=seen.amount,
                        confirm=confirm_with(w.customer_id, settings=kit.settings))
    assert (error.code, error.params["amount"]) == ("BILL_AMOUNT_MISMATCH", "99.99")
    assert kit.available(w) == 500 * YUAN


def test_a_wrong_pin_refuses_the_payment_counts_a_try_and_moves_nothing(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    error = kit.refusal(_pay, kit, w, pin="135792")
    assert error.code == "PIN_WRONG" and error.params["tries_left"] == 4
    assert kit.available(w) == 500 * YUAN
    assert kit.count(BillPayment) == 0 and kit.operations() == 1


def test_without_pin_or_password_free_the_payment_needs_a_confirmation(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    assert kit.refusal(_pay, kit, w, pin=None).code == "CONFIRMATION_REQUIRED"
    assert kit.count(BillPayment) == 0


def test_a_small_bill_can_be_paid_password_free_within_the_customers_threshold(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    kit.password_free(w, 200 * YUAN)
    paid = _pay(kit, w, pin=None)
    assert (paid.status, paid.confirmation_method) == ("succeeded", "password_free")


def test_the_same_key_replays_the_payment_without_paying_twice(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    first = _pay(kit, w, key="same")
    again = bills.pay_bill(kit.db, kit.billers, key="same", customer_id=w.customer_id, code=WATER,
                           reference=WATER_DUE, bill_id="", amount=1, confirm=confirm_with(w.customer_id))
    assert again.replayed and again.operation_reference == first.operation_reference
    assert kit.posted(w) == 500 * YUAN - first.amount
    assert kit.count(BillPayment) == 1


def test_a_bill_above_the_tiers_single_payment_limit_is_refused_and_nothing_moves(kit: Kit) -> None:
    w = kit.open(tier=4, fund=3_000 * YUAN)
    kit.billers.issue_bill(WATER, WATER_DUE, amount=2_500 * YUAN, period="2026-09", due_date=date(2026, 10, 25))
    error = kit.refusal(_pay, kit, w)
    assert (error.code, error.params["limit"]) == ("LIMIT_EXCEEDED", "single")
    assert kit.available(w) == 3_000 * YUAN and kit.count(BillPayment) == 0


def test_a_bill_above_the_balance_is_refused(kit: Kit) -> None:
    w = kit.open(fund=10 * YUAN)
    assert kit.refusal(_pay, kit, w).code == "INSUFFICIENT_BALANCE"
    assert kit.posted(w) == 10 * YUAN and kit.count(BillPayment) == 0


def test_the_oldest_unpaid_bill_is_due_first(kit: Kit) -> None:
    kit.billers.issue_bill(WATER, WATER_DUE, amount=4_321, period="2026-09", due_date=date(2026, 10, 25))
    due = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    assert (due.period, due.amount) == ("2026-09", 4_321)


def test_a_locked_pin_refuses_bill_payments(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    for _ in range(5):
        with pytest.raises(QianbaoError):
            _pay(kit, w, pin="135792")
    assert kit.refusal(_pay, kit, w).code == "PIN_LOCKED"
    with kit.db.read() as session:
        assert credentials.pin_locked_until(session, Principal.customer(w.customer_id)) is not None
    assert kit.available(w) == 500 * YUAN


def test_the_same_bill_paid_twice_at_once_is_credited_once_and_the_other_released(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    due = bills.lookup_bill(kit.db, kit.billers, WATER, WATER_DUE)
    started = []
    for key in ("first", "second"):
        with kit.db.transaction() as session:
            started.append(bills.start_payment(
                session, key=key, customer_id=w.customer_id, code=WATER, reference=WATER_DUE,
                bill_id=due.bill_id or "", amount=due.amount, holder=due.holder, period=due.period,
                due_date=due.due_date, confirm=confirm_with(w.customer_id, settings=kit.settings)))
    assert kit.available(w) == 500 * YUAN - 2 * due.amount
    first, second = (bills.settle(kit.db, kit.billers, view.id) for view in started)
    assert first.status == "succeeded"
    assert (second.status, second.failure_code) == ("failed", "BILL_ALREADY_PAID")
    assert kit.posted(w) == kit.available(w) == 500 * YUAN - due.amount
    kit.check_ledger()


def test_a_frozen_wallet_cannot_pay_a_bill(kit: Kit) -> None:
    from qianbao import wallets

    w = kit.open(fund=500 * YUAN)
    kit.run(wallets.report_loss, w.wallet_id, customer_id=w.customer_id)
    assert kit.refusal(_pay, kit, w).code == "WALLET_FROZEN"
    assert kit.posted(w) == 500 * YUAN and kit.count(BillPayment) == 0


def test_the_worker_runs_bills_settle_with_the_adapter_the_settings_name(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    from qianbao import worker

    assert "bills_settle" in [job.name for job in worker.jobs()]
    w = kit.open(fund=500 * YUAN)
    paid = _pay(kit, w, WATER_LOST_ANSWER)
    assert bills.settle_job(kit.db, kit.settings) == 0  # not yet due
    bills_clock.shift(timedelta(minutes=1))
    settings = kit.settings.model_copy(update={"biller_latency_ms": 0})
    assert bills.settle_job(kit.db, settings) == 1
    with kit.db.read() as session:
        assert bills.get_payment(session, w.customer_id, paid.operation_reference).status == "succeeded"


def test_a_payment_whose_biller_keeps_silent_is_asked_again_later_and_later(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    silent = DownAtPay(kit.billers)

    def timeout(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise BillerUnavailable("timeout")

    silent.pay = timeout  # type: ignore[method-assign]
    paid = _pay(kit, w, adapter=silent)
    assert paid.status == "processing"
    waits = []
    for _ in range(3):
        with kit.db.read() as session:
            row = session.get(BillPayment, paid.id)
            assert row is not None and row.next_attempt_at is not None
            waits.append((row.next_attempt_at - row.created_at).total_seconds())
        bills_clock.move_to(row.next_attempt_at)
        bills.settle_processing(kit.db, silent)
    assert waits[1] - waits[0] < waits[2] - waits[1]  # backing off
