"""payments.execute: one linked ledger group, history entries, notices, idempotency, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from payments_helpers import YUAN, Pay
from sqlalchemy import select

from qianbao import ledger, payments, wallets
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.payments import Order, Party
from qianbao.payments.models import PaymentEntry, PaymentOperation


def test_a_transfer_moves_the_amount_and_the_fee_in_one_linked_group(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 1_000 * YUAN)
    op = pay.execute(pay.order(a, b, 100 * YUAN, fee=150))
    assert op.status == "succeeded" and not op.replayed
    assert pay.balance(a) == 1_000 * YUAN - 100 * YUAN - 150
    assert pay.balance(b) == 100 * YUAN
    with pay.db.read() as session:
        fee_income = payments.system_account(session, "fee_income")
        assert ledger.balance(session, fee_income).posted == 150
        group = ledger.transfer_group(session, op.ledger_transfer_ids[0])
    assert len(op.ledger_transfer_ids) == 2
    assert {t.id for t in group} == set(op.ledger_transfer_ids)
    pay.check_ledger()


def test_each_wallet_touched_gets_one_history_entry(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 500 * YUAN)
    op = pay.execute(pay.order(a, b, 20 * YUAN, note="午饭"))
    with pay.db.read() as session:
        rows = list(session.scalars(select(PaymentEntry).where(PaymentEntry.operation_id == op.id)
                                    .order_by(PaymentEntry.direction)))
    assert [(r.wallet_id, r.direction, r.amount, r.status) for r in rows] == [
        (b.wallet_id, "in", 20 * YUAN, "succeeded"), (a.wallet_id, "out", 20 * YUAN, "succeeded")]
    # each side sees the other, masked (no real name yet: the masked phone)
    assert rows[1].counterparty == f"{b.phone[3:6]}****{b.phone[-4:]}"
    assert rows[0].counterparty == f"{a.phone[3:6]}****{a.phone[-4:]}"


def test_debit_and_credit_notices_go_out_in_app_and_by_sms(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 500 * YUAN)
    op = pay.execute(pay.order(a, b, 12_34))
    messages = pay.outbox(OutboxMessage.dedupe_key.like(f"payments:{op.id}:%"))
    kinds = sorted((m.get("title_key") or m.get("key")) for m in messages)
    assert kinds == ["notice.payments.credit.title", "notice.payments.debit.title", "sms.payments.credit",
                     "sms.payments.debit"]
    sms = next(m for m in messages if m.get("key") == "sms.payments.debit")
    assert sms["phone"] == a.phone and sms["params"]["amount"] == "12.34"
    assert sms["params"]["tail"] == a.number[-4:]


def test_the_same_key_and_order_returns_the_original_and_moves_nothing(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 500 * YUAN)
    order = pay.order(a, b, 50 * YUAN)
    first = pay.execute(order)
    again = pay.execute(order)
    assert again.replayed and again.id == first.id and again.reference == first.reference
    assert pay.balance(a) == 450 * YUAN and pay.balance(b) == 50 * YUAN
    assert pay.count(PaymentOperation, PaymentOperation.kind == "transfer") == 1


def test_the_same_key_with_another_order_is_refused(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 500 * YUAN)
    order = pay.order(a, b, 50 * YUAN)
    pay.execute(order)
    error = pay.refusal(payments.execute, Order(**{**order.__dict__, "amount": 51 * YUAN}))
    assert error.code == "IDEMPOTENCY_KEY_REUSED"
    assert pay.balance(a) == 450 * YUAN


def test_insufficient_balance_is_refused_and_nothing_is_written(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 10 * YUAN)
    before = (pay.operations(), pay.entries())
    error = pay.refusal(payments.execute, pay.order(a, b, 11 * YUAN))
    assert error.code == "INSUFFICIENT_BALANCE"
    assert (pay.operations(), pay.entries()) == before
    assert pay.balance(a) == 10 * YUAN and pay.balance(b) == 0
    assert pay.run(payments.remaining, wallets_row(pay, a), now=pay_now()).daily == 5_000 * YUAN


def test_a_refusal_leaves_nothing_even_when_the_caller_commits(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    with pay.db.transaction() as session, pytest.raises(QianbaoError) as caught:
        payments.execute(session, pay.order(a, b, 1 * YUAN))
    assert caught.value.code == "INSUFFICIENT_BALANCE"
    assert pay.operations() == 0 and pay.entries() == 0


def test_a_refused_key_may_be_retried_after_a_top_up(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    order = pay.order(a, b, 5 * YUAN)
    assert pay.refusal(payments.execute, order).code == "INSUFFICIENT_BALANCE"
    pay.fund(a, 5 * YUAN)
    assert pay.execute(order).status == "succeeded"


def test_a_frozen_recipient_cannot_receive(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 50 * YUAN)
    pay.run(wallets.report_loss, b.wallet_id, customer_id=b.customer_id)
    error = pay.refusal(payments.execute, pay.order(a, b, 5 * YUAN))
    assert error.code == "RECIPIENT_CANNOT_RECEIVE"
    assert pay.balance(a) == 50 * YUAN and pay.operations() == 1


def test_a_recipient_over_its_cap_is_refused_without_showing_its_balance(pay: Pay) -> None:
    a, b = pay.open(tier=1), pay.open()  # b: tier 4, cap 10,000 yuan
    pay.fund(a, 20_000 * YUAN)
    pay.fund(b, 9_990 * YUAN)
    error = pay.refusal(payments.execute, pay.order(a, b, 11 * YUAN))
    assert error.code == "RECIPIENT_CANNOT_RECEIVE"
    assert "9" not in error.message("zh-CN") and error.params == {}
    assert pay.balance(b) == 9_990 * YUAN


def test_a_frozen_payer_is_refused(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 50 * YUAN)
    pay.run(wallets.report_loss, a.wallet_id, customer_id=a.customer_id)
    assert pay.refusal(payments.execute, pay.order(a, b, 5 * YUAN)).code == "WALLET_FROZEN"
    assert pay.balance(a) == 50 * YUAN


def test_a_closed_payer_is_refused(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    with pay.db.transaction() as session:
        wallets.get_wallet(session, a.wallet_id).status = "closed"
    assert pay.refusal(payments.execute, pay.order(a, b, 5 * YUAN)).code == "WALLET_CLOSED"


def test_an_expired_id_card_restricts_outflow(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 50 * YUAN)
    with pay.db.transaction() as session:
        row = wallets.get_wallet(session, a.wallet_id)
        row.outflow_restricted = True
        row.outflow_restriction_reason = "id_card_expired"
    assert pay.refusal(payments.execute, pay.order(a, b, 5 * YUAN)).code == "WALLET_OUTFLOW_RESTRICTED"
    # money still comes in
    pay.fund(b, 10)
    assert pay.execute(pay.order(b, a, 10)).status == "succeeded"


def test_paying_yourself_is_refused(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 50 * YUAN)
    assert pay.refusal(payments.execute, pay.order(a, a, 5 * YUAN)).code == "PAYMENT_SAME_PARTY"


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100"])
def test_an_amount_must_be_positive_integer_fen(pay: Pay, amount: object) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 50 * YUAN)
    error = pay.refusal(payments.execute, pay.order(a, b, amount))  # type: ignore[arg-type]
    assert error.code == "AMOUNT_NOT_POSITIVE"
    assert pay.balance(a) == 50 * YUAN


def test_an_operation_is_found_by_its_public_reference(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 50 * YUAN)
    op = pay.execute(pay.order(a, b, 5 * YUAN, note="书"))
    found = pay.run(payments.get_operation, op.reference)
    assert found.id == op.id and found.note == "书" and len(op.reference) == 20
    assert pay.refusal(payments.get_operation, "NOPE").code == "PAYMENT_NOT_FOUND"


def test_system_accounts_are_opened_once(pay: Pay) -> None:
    first = pay.run(payments.system_account, "bank_clearing:icbc")
    again = pay.run(payments.system_account, "bank_clearing:ICBC")
    assert first == again
    with pay.db.read() as session:
        assert ledger.get_account(session, first).code == "BC-ICBC"
    assert pay.refusal(payments.system_account, "vault").code == "PAYMENT_SYSTEM_ACCOUNT_UNKNOWN"


# ------------------------------------------------------------------------------------------ pending


def _withdrawal(pay: Pay, a, fen: int, fee: int = 0, timeout: int | None = 3600) -> payments.Operation:  # type: ignore[no-untyped-def]
    clearing = pay.clearing()
    return pay.execute(Order(key=pay.key(), kind="withdrawal", payer=Party.wallet(a.wallet_id),
                             payee=Party.account(clearing, "测试银行"), amount=fen, fee=fee, pending=True,
                             timeout=timeout, counterparty_label="张*三 · 6222 **** 1234"))


def test_a_pending_operation_holds_the_money_until_completed(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    op = _withdrawal(pay, a, 40 * YUAN, fee=10)
    assert op.status == "processing"
    assert pay.available(a) == 60 * YUAN - 10 and pay.balance(a) == 100 * YUAN
    done = pay.run(payments.complete, op.id, key="cb-1")
    assert done.status == "succeeded" and pay.balance(a) == 60 * YUAN - 10
    again = pay.run(payments.complete, op.id, key="cb-2")
    assert again.replayed and pay.balance(a) == 60 * YUAN - 10
    late = pay.refusal(payments.fail, op.id, key="cb-3", reason="late")
    assert (late.code, late.status, late.params) == ("PAYMENT_ALREADY_FINISHED", 409, {"state": "succeeded"})
    assert "已成功" in late.message("zh-CN")
    pay.check_ledger()


def test_failing_a_pending_operation_returns_the_money_and_the_limit(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 3_000 * YUAN)
    op = _withdrawal(pay, a, 2_000 * YUAN)
    wallet = wallets_row(pay, a)
    assert pay.run(payments.remaining, wallet, now=pay_now()).daily == 3_000 * YUAN
    failed = pay.run(payments.fail, op.id, key="cb-1", reason="bank refused")
    assert failed.status == "failed" and pay.available(a) == 3_000 * YUAN
    assert pay.run(payments.remaining, wallet, now=pay_now()).daily == 5_000 * YUAN
    again = pay.run(payments.fail, op.id, key="cb-2", reason="twice")
    assert again.replayed and pay.run(payments.remaining, wallet, now=pay_now()).daily == 5_000 * YUAN
    assert pay.refusal(payments.complete, op.id, key="cb-3").code == "PAYMENT_ALREADY_FINISHED"
    with pay.db.read() as session:
        statuses = set(session.scalars(select(PaymentEntry.status).where(PaymentEntry.operation_id == op.id)))
    assert statuses == {"failed"}
    pay.check_ledger()


def test_a_callback_after_the_timeout_changes_nothing_but_marks_it_failed(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    op = _withdrawal(pay, a, 40 * YUAN, timeout=60)
    clock.shift(timedelta(seconds=61))
    late = pay.run(payments.complete, op.id, key="cb-late")
    assert late.status == "failed" and late.failure_reason == "expired"
    pay.run(ledger.sweep_expired)
    assert pay.balance(a) == 100 * YUAN and pay.available(a) == 100 * YUAN
    pay.check_ledger()


def test_overdue_pending_operations_are_marked_failed_by_the_worker(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    op = _withdrawal(pay, a, 40 * YUAN, timeout=60)
    assert pay.run(payments.expire_overdue) == 0
    clock.shift(timedelta(seconds=61))
    assert pay.run(payments.expire_overdue) == 1
    assert pay.run(payments.get_operation, op.id).status == "failed"
    assert pay.run(payments.expire_overdue) == 0


def wallets_row(pay: Pay, w):  # type: ignore[no-untyped-def]
    with pay.db.read() as session:
        return wallets.get_wallet(session, w.wallet_id)


def pay_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
