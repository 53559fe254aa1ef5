"""The fee schedule (SPEC §6.3) and the confirmation helper (PIN, passkey, password-free)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from payments_helpers import PIN, YUAN, Pay
from sqlalchemy import select

from qianbao import credentials, payments
from qianbao.audit.models import AuditEntry
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.payments import Order, Party


def withdraw(pay: Pay, w, fen: int) -> payments.Operation:  # type: ignore[no-untyped-def]
    fee = pay.run(payments.quote_fee, "withdrawal", fen, wallet_id=w.wallet_id)
    op = pay.execute(Order(key=pay.key(), kind="withdrawal", payer=Party.wallet(w.wallet_id),
                           payee=Party.account(pay.clearing(), "测试银行"), amount=fen, fee=fee, pending=True))
    return pay.run(payments.complete, op.id, key=f"done:{op.id}")


def test_withdrawals_are_free_up_to_1000_a_month(pay: Pay) -> None:
    a = pay.open(tier=1)
    assert pay.run(payments.quote_fee, "withdrawal", 1_000 * YUAN, wallet_id=a.wallet_id) == 0


def test_beyond_the_free_1000_withdrawals_cost_a_tenth_of_a_percent(pay: Pay) -> None:
    a = pay.open(tier=1)
    assert pay.run(payments.quote_fee, "withdrawal", 1_500 * YUAN, wallet_id=a.wallet_id) == 50  # 0.1% of 500


def test_the_withdrawal_fee_is_at_least_ten_fen(pay: Pay) -> None:
    a = pay.open(tier=1)
    assert pay.run(payments.quote_fee, "withdrawal", 1_000 * YUAN + 1, wallet_id=a.wallet_id) == 10


def test_the_free_allowance_is_used_up_by_the_month_s_withdrawals(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open(tier=1)
    pay.fund(a, 5_000 * YUAN)
    op = withdraw(pay, a, 800 * YUAN)
    assert op.fee == 0
    assert pay.run(payments.quote_fee, "withdrawal", 300 * YUAN, wallet_id=a.wallet_id) == 10  # 100 charged
    second = withdraw(pay, a, 300 * YUAN)
    assert second.fee == 10 and pay.balance(a) == 5_000 * YUAN - 1_100 * YUAN - 10
    clock.move_to(datetime(2026, 11, 30, 16, 0, 1, tzinfo=UTC))  # 1 December in Shanghai
    assert pay.run(payments.quote_fee, "withdrawal", 1_000 * YUAN, wallet_id=a.wallet_id) == 0


def test_a_failed_withdrawal_gives_its_free_allowance_back(pay: Pay) -> None:
    a = pay.open(tier=1)
    pay.fund(a, 5_000 * YUAN)
    op = pay.execute(Order(key=pay.key(), kind="withdrawal", payer=Party.wallet(a.wallet_id),
                           payee=Party.account(pay.clearing(), "测试银行"), amount=1_000 * YUAN, pending=True))
    pay.run(payments.fail, op.id, key="no", reason="bank")
    assert pay.run(payments.quote_fee, "withdrawal", 1_000 * YUAN, wallet_id=a.wallet_id) == 0


def test_transfers_are_free(pay: Pay) -> None:
    a = pay.open()
    assert pay.run(payments.quote_fee, "transfer", 2_000 * YUAN, wallet_id=a.wallet_id) == 0


def test_an_operator_changes_the_fee_schedule_with_an_audit_record(pay: Pay) -> None:
    a = pay.open(tier=1)
    rule = pay.run(payments.update_fee_rule, "withdrawal", {"rate_ppm": 2_000, "min_fee": 20}, 7, "新收费标准")
    assert rule.rate_ppm == 2_000
    assert pay.run(payments.quote_fee, "withdrawal", 1_500 * YUAN, wallet_id=a.wallet_id) == 100
    with pay.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "policy.fee.update"))
    assert entry is not None and entry.details["after"]["rate_ppm"] == 2_000 and entry.actor_id == "7"


@pytest.mark.parametrize(("changes", "code"), [
    ({"rate_ppm": -1}, "POLICY_VALUE_INVALID"),
    ({"rate_ppm": 1_000_001}, "POLICY_VALUE_INVALID"),
    ({"colour": 1}, "POLICY_VALUE_INVALID"),
    ({"min_fee": 50, "max_fee": 10}, "FEE_MIN_ABOVE_MAX"),
    ({"rate_ppm": 1_000}, "POLICY_UNCHANGED"),
])
def test_a_bad_fee_rule_change_is_refused(pay: Pay, changes: dict, code: str) -> None:  # type: ignore[type-arg]
    assert pay.refusal(payments.update_fee_rule, "withdrawal", changes, 7, "why").code == code
    assert pay.run(payments.fee_rule, "withdrawal").rate_ppm == 1_000


def test_a_fee_rule_change_needs_a_reason(pay: Pay) -> None:
    assert pay.refusal(payments.update_fee_rule, "withdrawal", {"rate_ppm": 5}, 7, " ").code == "REASON_REQUIRED"


# ---------------------------------------------------------------------------------------- confirmation


def test_the_right_pin_confirms_a_payment(pay: Pay) -> None:
    a = pay.open(pin=True)
    assert pay.run(payments.confirm, a.customer_id, amount=100, pin=PIN, settings=pay.settings) == "pin"


def test_a_wrong_pin_is_refused_and_counted(pay: Pay) -> None:
    a = pay.open(pin=True)
    with pytest.raises(QianbaoError) as caught, credentials.transaction(pay.db) as session:
        payments.confirm(session, a.customer_id, amount=100, pin="000000", settings=pay.settings)
    assert caught.value.code == "PIN_WRONG"


def test_a_locked_pin_refuses_with_pin_locked(pay: Pay) -> None:
    a = pay.open(pin=True)
    for _ in range(5):
        with pytest.raises(QianbaoError), credentials.transaction(pay.db) as session:
            payments.confirm(session, a.customer_id, amount=100, pin="000001", settings=pay.settings)
    error = pay.refusal(payments.confirm, a.customer_id, amount=100, pin=PIN, settings=pay.settings)
    assert error.code == "PIN_LOCKED"


def test_without_pin_or_passkey_a_confirmation_is_required(pay: Pay) -> None:
    a = pay.open(pin=True)
    assert pay.refusal(payments.confirm, a.customer_id, amount=100).code == "CONFIRMATION_REQUIRED"


def test_password_free_within_the_customer_s_threshold(pay: Pay) -> None:
    a = pay.open(pin=True)
    pay.run(payments.set_password_free, a.customer_id, enabled=True, threshold=300 * YUAN)
    assert pay.run(payments.confirm, a.customer_id, amount=300 * YUAN) == "password_free"
    assert pay.refusal(payments.confirm, a.customer_id, amount=300 * YUAN + 1).code == "CONFIRMATION_REQUIRED"
    with pay.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "payments.password_free.update"))
    assert entry is not None


def test_password_free_off_needs_the_pin_again(pay: Pay) -> None:
    a = pay.open(pin=True)
    pay.run(payments.set_password_free, a.customer_id, enabled=True, threshold=300 * YUAN)
    pay.run(payments.set_password_free, a.customer_id, enabled=False, threshold=300 * YUAN)
    assert pay.refusal(payments.confirm, a.customer_id, amount=1).code == "CONFIRMATION_REQUIRED"


@pytest.mark.parametrize("threshold", [0, 1_000 * YUAN + 1])
def test_the_password_free_threshold_is_at_most_1000(pay: Pay, threshold: int) -> None:
    a = pay.open()
    error = pay.refusal(payments.set_password_free, a.customer_id, enabled=True, threshold=threshold)
    assert error.code == "PASSWORD_FREE_THRESHOLD_INVALID"
    assert not pay.run(payments.payment_settings, a.customer_id).password_free_enabled


def test_pin_principal_is_the_customer(pay: Pay) -> None:
    a = pay.open(pin=True)
    assert pay.run(credentials.has_pin, Principal.customer(a.customer_id))
