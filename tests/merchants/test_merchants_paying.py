"""Paying merchant orders and refunding them (docs/merchants.md, "Money"): who bears the discount, what each
refusal leaves behind, idempotency, races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from merchant_helpers import YUAN
from sqlalchemy import select

from qianbao import merchants, payments
from qianbao.errors import QianbaoError
from qianbao.merchants.models import MerchantNotification, MerchantRefund
from qianbao.payments.models import PaymentEntry, PaymentOperation


def test_payer_pays_the_amount_and_the_merchant_bears_the_discount(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(mdr_bp=60)
    w = shop.wallet(500 * YUAN)
    order = shop.order(m, 100 * YUAN)
    before = shop.fee_income()
    paid = shop.pay(order, w)
    assert paid.order.status == "paid" and paid.order.fee == 60
    assert shop.balance(w.account_id) == 400 * YUAN
    assert shop.balance(m.account_id) == 100 * YUAN - 60
    assert shop.fee_income() - before == 60
    assert paid.operation.kind == "merchant_payment" and paid.operation.amount == 100 * YUAN
    assert paid.operation.fee == 0, "the customer pays no fee: the discount is the merchant's"
    shop.ledger_ok()


def test_discount_is_rounded_half_up_to_the_fen() -> None:
    assert merchants.fee_for(8333, 60) == 50  # 49.998 fen
    assert merchants.fee_for(25, 60) == 0  # 0.15 fen
    assert merchants.fee_for(84, 60) == 1  # 0.504 fen
    assert merchants.fee_for(10_000, 0) == 0


def test_paying_a_paid_order_again_is_refused_and_moves_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    a, b = shop.wallet(100 * YUAN), shop.wallet(100 * YUAN)
    order = shop.order(m, 30 * YUAN)
    shop.pay(order, a)
    refused = shop.refusal(merchants.pay_order, order.token, b.wallet_id, "pin", shop.key())
    assert refused.code == "ORDER_ALREADY_PAID"
    assert shop.balance(b.account_id) == 100 * YUAN
    assert shop.balance(m.account_id) == 30 * YUAN - merchants.fee_for(30 * YUAN, 60)


def test_the_same_key_again_answers_with_the_same_payment(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 30 * YUAN)
    first = shop.pay(order, w, key="k-1")
    again = shop.pay(order, w, key="k-1")
    assert again.replayed and again.operation.id == first.operation.id
    assert shop.balance(w.account_id) == 70 * YUAN
    assert shop.count(PaymentOperation, PaymentOperation.kind == "merchant_payment") == 1


def test_an_expired_order_cannot_be_paid(shop, clock) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 10 * YUAN, expires_in=60)
    clock.shift(timedelta(seconds=61))
    assert shop.refusal(merchants.pay_order, order.token, w.wallet_id, "pin", shop.key()).code == "ORDER_EXPIRED"
    assert shop.balance(w.account_id) == 100 * YUAN
    assert merchants.order_state(shop.get(m, order.merchant_order_no)) == "expired"


def test_a_closed_order_cannot_be_paid(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 10 * YUAN)
    shop.run(merchants.close_order, m.id, order.merchant_order_no, actor=merchants.registry.audit.Actor.merchant(m.id))
    assert shop.refusal(merchants.pay_order, order.token, w.wallet_id, "pin", shop.key()).code == "ORDER_CLOSED"
    assert shop.balance(w.account_id) == 100 * YUAN


def test_a_suspended_merchants_order_cannot_be_paid(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 10 * YUAN)
    shop.run(merchants.suspend, m.id, "风险排查", by=merchants.registry.audit.Actor.staff(1))
    assert shop.refusal(merchants.pay_order, order.token, w.wallet_id, "pin", shop.key()).code == "MERCHANT_SUSPENDED"
    assert shop.balance(w.account_id) == 100 * YUAN


def test_a_payment_the_core_refuses_leaves_the_order_open_and_nothing_moved(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(5 * YUAN)
    order = shop.order(m, 10 * YUAN)
    refused = shop.refusal(merchants.pay_order, order.token, w.wallet_id, "pin", shop.key())
    assert refused.code == "INSUFFICIENT_BALANCE"
    assert shop.get(m, order.merchant_order_no).status == "open"
    assert shop.balance(w.account_id) == 5 * YUAN and shop.balance(m.account_id) == 0
    assert shop.count(MerchantNotification) == 0


def test_a_paid_order_queues_one_notification_to_its_notify_url(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(notify_url="https://shop.example/notify")
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 10 * YUAN, notify_url="https://shop.example/orders/notify")
    shop.pay(order, w)
    with shop.db.read() as session:
        rows = list(session.scalars(select(MerchantNotification)))
    assert [(n.event, n.url, n.status) for n in rows] == [
        ("order.paid", "https://shop.example/orders/notify", "pending")]
    assert rows[0].payload["order"]["status"] == "paid" and rows[0].payload["order"]["amount"] == 10 * YUAN


def test_a_static_code_payment_makes_a_paid_order_and_counts_as_static(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(mdr_bp=100)
    w = shop.wallet(100 * YUAN)
    paid = shop.run(merchants.pay_static, m.merchant_no, w.wallet_id, 20 * YUAN, "pin", "static-1")
    assert paid.order.source == "static" and paid.order.status == "paid" and paid.order.fee == 20
    with shop.db.read() as session:
        op = session.get(PaymentOperation, paid.operation.id)
        assert op is not None and op.static_qr
    again = shop.run(merchants.pay_static, m.merchant_no, w.wallet_id, 20 * YUAN, "pin", "static-1")
    assert again.replayed and shop.balance(w.account_id) == 80 * YUAN


def test_a_static_code_payment_key_used_again_for_another_amount_is_refused_as_reused(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    shop.run(merchants.pay_static, m.merchant_no, w.wallet_id, 20 * YUAN, "pin", "static-2")
    with pytest.raises(QianbaoError) as caught:
        shop.run(merchants.pay_static, m.merchant_no, w.wallet_id, 21 * YUAN, "pin", "static-2")
    assert caught.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert shop.balance(w.account_id) == 80 * YUAN


def test_static_code_payments_stop_at_the_static_daily_cap(shop, clock) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(2000 * YUAN)
    shop.run(merchants.pay_static, m.merchant_no, w.wallet_id, 400 * YUAN, "pin", "s-1")
    refused = shop.refusal(merchants.pay_static, m.merchant_no, w.wallet_id, 200 * YUAN, "pin", "s-2")
    assert refused.code == "LIMIT_EXCEEDED" and refused.params["limit"] == "static_qr"
    assert shop.balance(w.account_id) == 1600 * YUAN


def test_partial_refunds_return_the_discount_pro_rata_and_all_of_it_at_the_end(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(mdr_bp=60)
    w = shop.wallet(500 * YUAN)
    order = shop.order(m, 99 * YUAN)  # discount 59.4 → 59 fen
    shop.pay(order, w)
    fee = merchants.fee_for(99 * YUAN, 60)
    income_before = shop.fee_income()
    first = shop.refund(m, order.merchant_order_no, "R1", 33 * YUAN)
    assert first.refund.fee_returned == fee * 33 // 99
    second = shop.refund(m, order.merchant_order_no, "R2", 66 * YUAN)
    assert first.refund.fee_returned + second.refund.fee_returned == fee
    assert shop.fee_income() == income_before - fee
    assert shop.balance(m.account_id) == 0 and shop.balance(w.account_id) == 500 * YUAN
    assert merchants.order_state(shop.get(m, order.merchant_order_no)) == "refunded"
    shop.ledger_ok()


def test_a_refund_above_what_is_left_is_refused_and_moves_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 50 * YUAN)
    shop.pay(order, w)
    shop.refund(m, order.merchant_order_no, "R1", 30 * YUAN)
    merchant_before, wallet_before = shop.balance(m.account_id), shop.balance(w.account_id)
    refused = shop.refusal(merchants.refund, m.id, order.merchant_order_no, refund_no="R2", amount=20 * YUAN + 1,
                           actor=merchants.registry.audit.Actor.merchant(m.id))
    assert refused.code == "REFUND_ABOVE_REMAINING" and refused.params["remaining"] == 20 * YUAN
    assert (shop.balance(m.account_id), shop.balance(w.account_id)) == (merchant_before, wallet_before)
    assert shop.count(MerchantRefund) == 1


def test_a_refund_number_is_idempotent_and_cannot_be_reused_for_another_refund(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 50 * YUAN)
    shop.pay(order, w)
    first = shop.refund(m, order.merchant_order_no, "R1", 10 * YUAN)
    again = shop.refund(m, order.merchant_order_no, "R1", 10 * YUAN)
    assert again.replayed and again.refund.id == first.refund.id
    assert shop.balance(w.account_id) == 60 * YUAN
    refused = shop.refusal(merchants.refund, m.id, order.merchant_order_no, refund_no="R1", amount=11 * YUAN,
                           actor=merchants.registry.audit.Actor.merchant(m.id))
    assert refused.code == "REFUND_NO_REUSED"
    assert shop.balance(w.account_id) == 60 * YUAN


def test_an_unpaid_order_cannot_be_refunded(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    order = shop.order(m, 50 * YUAN)
    refused = shop.refusal(merchants.refund, m.id, order.merchant_order_no, refund_no="R1", amount=1,
                           actor=merchants.registry.audit.Actor.merchant(m.id))
    assert refused.code == "ORDER_NOT_PAID" and shop.count(MerchantRefund) == 0


def test_a_refund_shows_in_the_payers_history_linked_to_the_payment(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 50 * YUAN)
    paid = shop.pay(order, w)
    done = shop.refund(m, order.merchant_order_no, "R1", 20 * YUAN)
    with shop.db.read() as session:
        entries = list(session.scalars(select(PaymentEntry).where(PaymentEntry.wallet_id == w.wallet_id)
                                       .order_by(PaymentEntry.id)))
        refund_op = payments.get_operation(session, done.operation.id)
    assert [(e.kind, e.direction, e.amount) for e in entries][-2:] == [
        ("merchant_payment", "out", 50 * YUAN), ("refund", "in", 20 * YUAN)]
    assert refund_op.order_reference == paid.operation.reference
    assert refund_op.details["original_reference"] == paid.operation.reference


def test_another_merchants_order_is_not_found(shop) -> None:  # type: ignore[no-untyped-def]
    mine, other = shop.merchant(), shop.merchant(name="别家商店")
    w = shop.wallet(100 * YUAN)
    order = shop.order(mine, 50 * YUAN)
    shop.pay(order, w)
    refused = shop.refusal(merchants.refund, other.id, order.merchant_order_no, refund_no="R1", amount=1,
                           actor=merchants.registry.audit.Actor.merchant(other.id))
    assert refused.code == "ORDER_NOT_FOUND"


def _race(*calls) -> list[BaseException | object]:  # type: ignore[no-untyped-def]
    results: list[BaseException | object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_concurrent_partial_refunds_never_exceed_the_original(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(200 * YUAN)
    order = shop.order(m, 100 * YUAN)
    shop.pay(order, w)
    results = _race(lambda: shop.refund(m, order.merchant_order_no, "RA", 60 * YUAN),
                    lambda: shop.refund(m, order.merchant_order_no, "RB", 60 * YUAN))
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(refusals) == 1 and isinstance(refusals[0], QianbaoError)
    assert refusals[0].code == "REFUND_ABOVE_REMAINING"
    assert shop.get(m, order.merchant_order_no).refunded_amount == 60 * YUAN
    assert shop.balance(w.account_id) == 160 * YUAN
    shop.ledger_ok()


def test_two_wallets_paying_one_order_at_once_pay_it_once(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    a, b = shop.wallet(100 * YUAN), shop.wallet(100 * YUAN)
    order = shop.order(m, 40 * YUAN)
    results = _race(lambda: shop.pay(order, a), lambda: shop.pay(order, b))
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(refusals) == 1 and getattr(refusals[0], "code", None) == "ORDER_ALREADY_PAID"
    assert shop.balance(a.account_id) + shop.balance(b.account_id) == 160 * YUAN
    assert shop.count(PaymentOperation, PaymentOperation.kind == "merchant_payment") == 1
    shop.ledger_ok()


@pytest.mark.parametrize("amount", [0, -5, 10**12])
def test_bad_refund_amounts_are_refused(shop, amount: int) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 50 * YUAN)
    shop.pay(order, w)
    refused = shop.refusal(merchants.refund, m.id, order.merchant_order_no, refund_no="R1", amount=amount,
                           actor=merchants.registry.audit.Actor.merchant(m.id))
    assert refused.code in {"AMOUNT_NOT_POSITIVE", "AMOUNT_TOO_LARGE"}
    assert shop.balance(w.account_id) == 50 * YUAN


def test_a_postal_express_order_can_be_paid_as_a_parcel_in_the_history(shop) -> None:  # type: ignore[no-untyped-def]
    w = shop.wallet(100 * YUAN)
    with shop.db.transaction() as session:
        postal = merchants.postal_express(session)
        order = merchants.create_order(session, postal, merchant_order_no="EMS0001", amount=18 * YUAN,
                                       description="寄件 北京→上海", source="system").order
        paid = merchants.pay_order(session, order, w.wallet_id, "withholding", "parcel-1", kind="parcel")
        assert paid.operation.kind == "parcel" and paid.order.fee == 0
    assert shop.balance(w.account_id) == 82 * YUAN
