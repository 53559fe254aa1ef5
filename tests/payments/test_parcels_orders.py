"""Parcel payment (寄件支付, SPEC §6.2): the postal express merchant's orders, paid in one tap or under a
withholding agreement."""

from __future__ import annotations

from datetime import timedelta

from bills_helpers import PIN, YUAN, Kit, confirm_with

from qianbao import ledger, merchants
from qianbao.notices.models import OutboxMessage
from qianbao.payments import parcels, withholding
from qianbao.payments.bills_models import WithholdingCharge


def _order(kit: Kit, w, **options):  # type: ignore[no-untyped-def]
    options.setdefault("receiver_city", "北京")
    options.setdefault("weight_grams", 1_200)
    return kit.run(parcels.create_shipping_order, customer_id=w.customer_id, **options)


def _pay(kit: Kit, w, order_no: str, *, key: str | None = None, pin: str | None = PIN):  # type: ignore[no-untyped-def]
    return kit.run(parcels.pay_order, customer_id=w.customer_id, order_no=order_no, key=key or f"app:{kit.key()}",
                   confirm=confirm_with(w.customer_id, pin=pin, settings=kit.settings))


def _postal_posted(kit: Kit) -> int:
    with kit.db.transaction() as session:
        account = merchants.postal_express(session).ledger_account_id
        return ledger.balance(session, account).posted


def test_the_tariff_charges_the_first_kilogram_then_each_kilogram_started() -> None:
    assert parcels.quote("上海", 800) == 10 * YUAN
    assert parcels.quote("上海市", 2_100) == 14 * YUAN
    assert parcels.quote("杭州", 1_000) == 12 * YUAN
    assert parcels.quote("北京", 1_200) == 24 * YUAN


def test_a_waybill_number_is_a_upu_s10_number_with_its_check_digit() -> None:
    number = parcels.new_order_no()
    assert len(number) == 13 and number.startswith("EA") and number.endswith("CN")
    assert parcels.s10_check_digit(number[2:10]) == number[10]
    assert parcels.s10_check_digit("47312482") == "9"  # the UPU's own example, RR473124829GB


def test_an_order_waits_for_payment_and_the_sender_is_told(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    assert (order.status, order.price, order.receiver_city) == ("awaiting_payment", 24 * YUAN, "北京")
    assert kit.count(OutboxMessage) >= 1
    [listed] = kit.read(parcels.customer_orders, w.customer_id)
    assert listed.order_no == order.order_no


def test_paying_in_one_tap_moves_the_price_to_the_postal_express_merchant(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    paid = _pay(kit, w, order.order_no)
    assert (paid.status, paid.paid_via) == ("paid", "app")
    assert kit.posted(w) == 76 * YUAN
    assert _postal_posted(kit) == 24 * YUAN
    kit.check_ledger()


def test_an_order_is_paid_once(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    _pay(kit, w, order.order_no)
    assert kit.refusal(_pay, kit, w, order.order_no).code == "ORDER_ALREADY_PAID"
    assert kit.posted(w) == 76 * YUAN


def test_the_same_key_replays_the_payment(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    first = _pay(kit, w, order.order_no, key="app:tap")
    again = _pay(kit, w, order.order_no, key="app:tap")
    assert again.replayed and again.operation_reference == first.operation_reference
    assert kit.posted(w) == 76 * YUAN


def test_an_expired_order_cannot_be_paid(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    bills_clock.shift(timedelta(hours=parcels.ORDER_HOURS))
    assert kit.refusal(_pay, kit, w, order.order_no).code == "ORDER_EXPIRED"
    assert kit.posted(w) == 100 * YUAN


def test_a_cancelled_order_cannot_be_paid(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    kit.run(parcels.cancel_order, order.order_no)
    assert kit.refusal(_pay, kit, w, order.order_no).code == "ORDER_CLOSED"


def test_someone_elses_order_is_not_found(kit: Kit) -> None:
    w, other = kit.open(fund=100 * YUAN), kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    assert kit.refusal(_pay, kit, other, order.order_no).code == "NOT_FOUND"
    assert kit.refusal(kit.read, parcels.get_order, other.customer_id, order.order_no).code == "NOT_FOUND"
    assert kit.posted(other) == 100 * YUAN


def test_a_wrong_pin_leaves_the_order_waiting(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    assert kit.refusal(_pay, kit, w, order.order_no, pin="135792").code == "PIN_WRONG"
    assert kit.read(parcels.get_order, w.customer_id, order.order_no).status == "awaiting_payment"


def test_a_small_parcel_can_be_paid_password_free(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    kit.password_free(w, 50 * YUAN)
    order = _order(kit, w)
    assert _pay(kit, w, order.order_no, pin=None).status == "paid"


def test_an_order_is_charged_at_once_under_an_active_agreement(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    kit.run(withholding.sign, w.customer_id, per_payment_cap=50 * YUAN, monthly_cap=200 * YUAN, confirmed_with="pin")
    order = _order(kit, w)
    assert (order.status, order.paid_via) == ("paid", "withholding")
    assert kit.posted(w) == 76 * YUAN
    assert kit.count(WithholdingCharge) == 1


def test_a_charge_refused_under_the_agreement_leaves_the_order_for_the_app(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    kit.run(withholding.sign, w.customer_id, per_payment_cap=20 * YUAN, monthly_cap=200 * YUAN, confirmed_with="pin")
    order = _order(kit, w)  # 24 yuan, above the 20-yuan per-payment cap
    assert (order.status, order.charge_refused_code) == ("awaiting_payment", "WITHHOLDING_PER_PAYMENT_CAP")
    assert kit.posted(w) == 100 * YUAN and kit.count(WithholdingCharge) == 0
    assert _pay(kit, w, order.order_no).status == "paid"


def test_after_cancelling_the_agreement_orders_wait_for_the_app(kit: Kit) -> None:
    w = kit.open(fund=100 * YUAN)
    signed = kit.run(withholding.sign, w.customer_id, per_payment_cap=50 * YUAN, monthly_cap=200 * YUAN,
                     confirmed_with="pin")
    kit.run(withholding.cancel, w.customer_id, signed.public_id)
    order = _order(kit, w)
    assert order.status == "awaiting_payment"
    assert kit.refusal(kit.run, parcels.charge_order, order.order_no).code == "WITHHOLDING_AGREEMENT_INACTIVE"
    assert kit.posted(w) == 100 * YUAN


def test_bad_shipping_details_are_refused(kit: Kit) -> None:
    w = kit.open()
    assert kit.refusal(_order, kit, w, receiver_city=" ").code == "PARCEL_CITY_INVALID"
    assert kit.refusal(_order, kit, w, weight_grams=0).code == "PARCEL_WEIGHT_INVALID"
    assert kit.refusal(_order, kit, w, weight_grams=50_001).code == "PARCEL_WEIGHT_INVALID"
    assert kit.refusal(_order, kit, w, price=0).code == "AMOUNT_NOT_POSITIVE"


def test_the_sender_is_shown_masked(kit: Kit) -> None:
    w = kit.open()
    order = _order(kit, w)
    assert order.sender == w.phone[3:6] + "****" + w.phone[-4:]


def test_the_postal_express_merchant_sees_the_order_paid_and_can_refund_it(kit: Kit) -> None:
    from qianbao import audit

    w = kit.open(fund=100 * YUAN)
    order = _order(kit, w)
    with kit.db.read() as session:
        postal = merchants.postal_express(session)
        assert merchants.get_order(session, postal.id, order.order_no).status == "open"
    _pay(kit, w, order.order_no)
    with kit.db.transaction() as session:
        assert merchants.get_order(session, postal.id, order.order_no).status == "paid"
        merchants.refund(session, postal.id, order.order_no, refund_no="R1", amount=24 * YUAN,
                         actor=audit.Actor.system("postal_express"), channel="system")
    assert kit.posted(w) == 100 * YUAN
    kit.check_ledger()


def test_a_withholding_charge_is_paid_with_the_withholding_confirmation(kit: Kit) -> None:
    from qianbao import payments

    w = kit.open(fund=100 * YUAN)
    kit.run(withholding.sign, w.customer_id, per_payment_cap=50 * YUAN, monthly_cap=200 * YUAN, confirmed_with="pin")
    order = _order(kit, w)
    with kit.db.read() as session:
        op = payments.get_operation(session, order.operation_reference)
    assert (op.kind, op.confirmation, op.channel, op.amount) == ("parcel", "withholding", "merchant", 24 * YUAN)


def test_a_parcel_paid_in_the_app_is_a_parcel_in_the_history(kit: Kit) -> None:
    from qianbao import payments

    w = kit.open(fund=100 * YUAN)
    paid = _pay(kit, w, _order(kit, w).order_no)
    with kit.db.read() as session:
        op = payments.get_operation(session, paid.operation_reference)
    assert (op.kind, op.confirmation) == ("parcel", "pin")


def test_a_cancelled_order_is_closed_for_the_merchant_too(kit: Kit) -> None:
    w = kit.open()
    order = _order(kit, w)
    kit.run(parcels.cancel_order, order.order_no)
    with kit.db.read() as session:
        assert merchants.get_order(session, merchants.postal_express(session).id, order.order_no).status == "closed"
