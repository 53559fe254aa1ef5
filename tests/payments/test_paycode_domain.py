"""The customer-presented payment code: issue, single use, 60 s life, one live code, charges and confirmation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from qrpay_helpers import START, YUAN, make_qp
from sqlalchemy import select
from stdnum import luhn

from qianbao.errors import QianbaoError
from qianbao.payments import paycode
from qianbao.payments.paycode_models import PaymentCode


@pytest.fixture
def qp(db, settings, clock):
    return make_qp(db, settings)


def issue(qp, w):
    return qp.run(paycode.issue, w.customer_id, w.wallet_id)


def charge(qp, shop, code, amount, number="T-1"):
    return qp.run(paycode.charge, qp.merchant_row(shop), code, amount=amount, merchant_order_no=number,
                  description="午餐")


def refusal(qp, shop, code, amount, number="T-1") -> QianbaoError:
    return qp.refusal(paycode.charge, qp.merchant_row(shop), code, amount=amount, merchant_order_no=number,
                      description="午餐")


@pytest.fixture
def setup(qp):
    w = qp.open(pin=True)
    qp.fund(w, 500 * YUAN)
    shop = qp.merchant()
    return w, shop


def test_code_is_18_digits_with_prefix_and_luhn_digit(qp, setup):
    w, _ = setup
    code = issue(qp, w).code
    assert len(code) == 18 and code.startswith("88") and luhn.is_valid(code)


def test_only_the_hash_and_last_four_digits_are_stored(qp, setup):
    w, _ = setup
    code = issue(qp, w).code
    with qp.db.read() as session:
        row = session.scalars(select(PaymentCode)).one()
        assert row.code_tail == code[-4:] and code not in row.code_hash


def test_code_lives_60_seconds(qp, setup, clock):
    w, shop = setup
    issued = issue(qp, w)
    assert issued.expires_at == START + timedelta(seconds=60)
    clock.shift(timedelta(seconds=60))
    assert refusal(qp, shop, issued.code, 10 * YUAN).code == "PAYMENT_CODE_EXPIRED"
    assert qp.balance(w) == 500 * YUAN


def test_code_within_its_60_seconds_charges(qp, setup, clock):
    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    issued = issue(qp, w)
    clock.shift(timedelta(seconds=59))
    assert charge(qp, shop, issued.code, 10 * YUAN).status == "succeeded"


def test_a_new_code_supersedes_the_old_one(qp, setup):
    w, shop = setup
    old = issue(qp, w)
    issue(qp, w)
    assert refusal(qp, shop, old.code, 10 * YUAN).code == "PAYMENT_CODE_EXPIRED"


def test_small_payment_with_password_free_on_is_paid_at_once(qp, setup):
    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    result = charge(qp, shop, issue(qp, w).code, 88 * YUAN)
    assert (result.status, result.confirmation, result.amount) == ("succeeded", "password_free", 88 * YUAN)
    assert qp.balance(w) == 412 * YUAN
    assert qp.account_balance(shop.account_id) == 88 * YUAN
    assert qp.order_row(shop, "T-1").status == "paid"
    qp.check_ledger()


def test_code_is_single_use(qp, setup):
    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    code = issue(qp, w).code
    charge(qp, shop, code, 10 * YUAN)
    assert refusal(qp, shop, code, 10 * YUAN, number="T-2").code == "PAYMENT_CODE_REUSED"
    assert qp.balance(w) == 490 * YUAN


def test_the_same_charge_again_is_a_replay(qp, setup):
    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    code = issue(qp, w).code
    first = charge(qp, shop, code, 10 * YUAN)
    again = charge(qp, shop, code, 10 * YUAN)
    assert again.replayed and again.reference == first.reference
    assert qp.balance(w) == 490 * YUAN


def test_unknown_or_misread_code_is_invalid(qp, setup):
    w, shop = setup
    code = issue(qp, w).code
    wrong_digit = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    assert refusal(qp, shop, wrong_digit, 10 * YUAN).code == "PAYMENT_CODE_INVALID"
    unknown = paycode.new_code()
    assert refusal(qp, shop, unknown, 10 * YUAN).code == "PAYMENT_CODE_INVALID"
    assert refusal(qp, shop, "hello", 10 * YUAN).code == "PAYMENT_CODE_INVALID"


def test_spaces_in_a_typed_code_are_ignored(qp, setup):
    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    code = issue(qp, w).code
    assert charge(qp, shop, paycode.group(code), 10 * YUAN).status == "succeeded"


def test_above_threshold_waits_for_the_customer(qp, setup):
    w, shop = setup
    qp.password_free(w, 50 * YUAN)
    result = charge(qp, shop, issue(qp, w).code, 51 * YUAN)
    assert result.status == "awaiting" and result.confirmation is None
    assert qp.balance(w) == 500 * YUAN
    waiting = qp.run(paycode.awaiting_charge, w.customer_id)
    assert waiting is not None and waiting.reference == result.reference


def test_without_password_free_every_charge_waits(qp, setup):
    w, shop = setup
    assert charge(qp, shop, issue(qp, w).code, 1).status == "awaiting"


def test_customer_confirms_with_pin_and_it_is_paid(qp, setup):
    w, shop = setup
    waiting = charge(qp, shop, issue(qp, w).code, 200 * YUAN)
    done = qp.run(paycode.confirm_charge, w.customer_id, waiting.reference, "pin")
    assert (done.status, done.confirmation) == ("succeeded", "pin")
    assert qp.balance(w) == 300 * YUAN
    assert qp.run(paycode.get_charge, waiting.reference, merchant_id=shop.id).status == "succeeded"
    qp.check_ledger()


def test_customer_declines_and_the_order_is_closed(qp, setup):
    w, shop = setup
    waiting = charge(qp, shop, issue(qp, w).code, 200 * YUAN)
    declined = qp.run(paycode.decline_charge, w.customer_id, waiting.reference)
    assert declined.status == "declined" and declined.failure_code == "PAYMENT_CODE_DECLINED"
    assert qp.order_row(shop, "T-1").status == "closed"
    assert qp.refusal(paycode.confirm_charge, w.customer_id, waiting.reference, "pin").code == "PAYMENT_CODE_REUSED"
    assert qp.balance(w) == 500 * YUAN


def test_confirmation_after_120_seconds_is_refused_and_the_charge_expires(qp, setup, clock):
    w, shop = setup
    waiting = charge(qp, shop, issue(qp, w).code, 200 * YUAN)
    clock.shift(timedelta(seconds=paycode.CONFIRM_SECONDS))
    err = qp.refusal(paycode.confirm_charge, w.customer_id, waiting.reference, "pin")
    assert err.code == "PAYMENT_CODE_CONFIRMATION_EXPIRED"
    seen = qp.run(paycode.get_charge, waiting.reference, merchant_id=shop.id)
    assert (seen.status, seen.failure_code) == ("expired", "PAYMENT_CODE_CONFIRMATION_EXPIRED")
    assert qp.order_row(shop, "T-1").status == "closed"
    assert qp.balance(w) == 500 * YUAN


def test_another_customer_cannot_confirm_or_see_a_charge(qp, setup):
    w, shop = setup
    other = qp.open(pin=True)
    waiting = charge(qp, shop, issue(qp, w).code, 200 * YUAN)
    assert qp.refusal(paycode.confirm_charge, other.customer_id, waiting.reference, "pin").code == "NOT_FOUND"
    assert qp.refusal(paycode.get_charge, waiting.reference, customer_id=other.customer_id).code == "NOT_FOUND"
    other_shop = qp.merchant(name_zh="隔壁小卖部", name_en="Corner Shop")
    assert qp.refusal(paycode.get_charge, waiting.reference, merchant_id=other_shop.id).code == "NOT_FOUND"


def test_insufficient_balance_moves_nothing_and_leaves_the_code_usable(qp, setup):
    w, shop = setup
    qp.password_free(w, 1000 * YUAN)
    code = issue(qp, w).code
    err = refusal(qp, shop, code, 600 * YUAN)
    assert err.code == "INSUFFICIENT_BALANCE"
    assert qp.balance(w) == 500 * YUAN and qp.account_balance(shop.account_id) == 0
    assert charge(qp, shop, code, 5 * YUAN, number="T-2").status == "succeeded"


def test_password_free_daily_cap_spent_falls_back_to_customer_confirmation(qp, setup):
    w, shop = setup
    qp.fund(w, 2000 * YUAN)
    qp.password_free(w, 1000 * YUAN)
    assert charge(qp, shop, issue(qp, w).code, 900 * YUAN, number="T-1").status == "succeeded"
    # 900 of the 1,000 yuan password-free day is used: 200 more must be confirmed with the PIN.
    second = charge(qp, shop, issue(qp, w).code, 200 * YUAN, number="T-2")
    assert second.status == "awaiting"
    assert qp.balance(w) == 1600 * YUAN
    assert qp.order_row(shop, "T-2").status == "open"


def test_limit_refusal_at_confirmation_moves_nothing(qp, setup):
    w, shop = setup
    qp.fund(w, 5000 * YUAN)
    # Tier 4: single payment at most 2,000 yuan.
    waiting = charge(qp, shop, issue(qp, w).code, 2500 * YUAN)
    err = qp.refusal(paycode.confirm_charge, w.customer_id, waiting.reference, "pin")
    assert err.code == "LIMIT_EXCEEDED" and err.params["limit"] == "single"
    assert qp.balance(w) == 5500 * YUAN
    assert qp.run(paycode.awaiting_charge, w.customer_id) is not None


def test_worker_expires_unconfirmed_charges_and_closes_their_orders(qp, setup, clock):
    from qianbao import worker

    w, shop = setup
    waiting = charge(qp, shop, issue(qp, w).code, 200 * YUAN)
    assert qp.run(paycode.settle_overdue) == 0
    clock.shift(timedelta(seconds=paycode.CONFIRM_SECONDS))
    job = next(job for job in worker.jobs() if job.name == "paycode_settle")
    assert job.run(qp.db, qp.settings) == 1
    assert qp.run(paycode.get_charge, waiting.reference, merchant_id=shop.id).status == "expired"
    assert qp.order_row(shop, "T-1").status == "closed"
    assert qp.balance(w) == 500 * YUAN


def test_two_tills_scanning_one_code_at_once_charge_it_once(qp, setup):
    import threading

    w, shop = setup
    qp.password_free(w, 100 * YUAN)
    code = issue(qp, w).code
    other = qp.merchant(name_zh="隔壁小卖部", name_en="Corner Shop")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def till(s, number):
        barrier.wait()
        try:
            results.append(charge(qp, s, code, 10 * YUAN, number=number).status)
        except QianbaoError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=till, args=(shop, "A-1")), threading.Thread(target=till, args=(other, "B-1"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["PAYMENT_CODE_REUSED", "succeeded"]
    assert qp.balance(w) == 490 * YUAN
    qp.check_ledger()
