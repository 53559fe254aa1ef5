"""Withholding agreements (免密代扣, SPEC §6.2, §2): caps chosen by the customer within the policy, charges
refused above them or after cancellation, and the 小额免密 daily cap shared with password-free payments."""

from __future__ import annotations

from datetime import timedelta

from bills_helpers import YUAN, Kit

from qianbao import payments
from qianbao.audit.models import AuditEntry
from qianbao.payments import Party, withholding
from qianbao.payments.bills_models import WithholdingAgreement, WithholdingCharge


def _sign(kit: Kit, w, per_payment: int = 100 * YUAN, monthly: int = 300 * YUAN):  # type: ignore[no-untyped-def]
    return kit.run(withholding.sign, w.customer_id, per_payment_cap=per_payment, monthly_cap=monthly,
                   confirmed_with="pin")


def _charge(kit: Kit, w, amount: int, key: str | None = None):  # type: ignore[no-untyped-def]
    def run(session):  # type: ignore[no-untyped-def]
        from qianbao import merchants

        postal = merchants.postal_express(session)
        return withholding.charge(session, customer_id=w.customer_id, amount=amount, key=key or f"wh:{kit.key()}",
                                  order_reference="EA000000000CN",
                                  payee=Party.account(postal.ledger_account_id, postal.name_zh),
                                  counterparty_label=postal.name_zh)

    return kit.run(run)


def test_a_signed_agreement_is_listed_with_its_caps_and_audited(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    signed = _sign(kit, w)
    [listed] = kit.read(withholding.list_agreements, w.customer_id)
    assert (listed.public_id, listed.per_payment_cap, listed.monthly_cap, listed.status) == (
        signed.public_id, 100 * YUAN, 300 * YUAN, "active")
    assert kit.count(AuditEntry, AuditEntry.action == "withholding.sign") == 1


def test_caps_above_the_policy_are_refused(kit: Kit) -> None:
    w = kit.open()
    limits = kit.read(withholding.policy)
    error = kit.refusal(_sign, kit, w, per_payment=limits.max_per_payment + 1)
    assert (error.code, error.params["field"]) == ("WITHHOLDING_CAP_INVALID", "per_payment_cap")
    error = kit.refusal(_sign, kit, w, monthly=limits.max_monthly + 1)
    assert (error.code, error.params["field"]) == ("WITHHOLDING_CAP_INVALID", "monthly_cap")
    assert kit.count(WithholdingAgreement) == 0


def test_a_monthly_cap_below_the_per_payment_cap_is_refused(kit: Kit) -> None:
    w = kit.open()
    assert kit.refusal(_sign, kit, w, per_payment=200 * YUAN, monthly=100 * YUAN).code == "WITHHOLDING_CAP_INVALID"


def test_one_active_agreement_per_merchant(kit: Kit) -> None:
    w = kit.open()
    _sign(kit, w)
    assert kit.refusal(_sign, kit, w).code == "WITHHOLDING_AGREEMENT_EXISTS"


def test_signing_needs_the_pin_or_a_passkey(kit: Kit) -> None:
    w = kit.open()
    error = kit.refusal(kit.run, withholding.sign, w.customer_id, per_payment_cap=100, monthly_cap=100,
                        confirmed_with="password_free")
    assert error.code == "CONFIRMATION_REQUIRED"


def test_a_charge_within_the_caps_pays_the_merchant_as_a_withholding(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    _sign(kit, w)
    op = _charge(kit, w, 30 * YUAN)
    assert (op.kind, op.confirmation, op.status) == ("parcel", "withholding", "succeeded")
    assert kit.posted(w) == 470 * YUAN
    [agreement] = kit.read(withholding.list_agreements, w.customer_id)
    assert agreement.month_used == 30 * YUAN and agreement.month_remaining == 270 * YUAN
    kit.check_ledger()


def test_a_charge_above_the_per_payment_cap_is_refused_and_nothing_moves(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    _sign(kit, w)
    operations = kit.operations()
    error = kit.refusal(_charge, kit, w, 100 * YUAN + 1)
    assert (error.code, error.params["cap"]) == ("WITHHOLDING_PER_PAYMENT_CAP", "100.00")
    assert kit.posted(w) == 500 * YUAN and kit.operations() == operations


def test_charges_past_the_monthly_cap_are_refused_with_what_is_left(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    _sign(kit, w)
    for _ in range(2):
        _charge(kit, w, 100 * YUAN)
    _charge(kit, w, 50 * YUAN)
    error = kit.refusal(_charge, kit, w, 60 * YUAN)
    assert (error.code, error.params["remaining"]) == ("WITHHOLDING_MONTHLY_CAP", "50.00")
    assert kit.posted(w) == 250 * YUAN
    assert kit.count(WithholdingCharge) == 3


def test_the_monthly_cap_starts_again_in_a_new_shanghai_month(kit: Kit, bills_clock) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=800 * YUAN)
    _sign(kit, w)
    for _ in range(3):
        _charge(kit, w, 100 * YUAN)
    assert kit.refusal(_charge, kit, w, 1).code == "WITHHOLDING_MONTHLY_CAP"
    bills_clock.shift(timedelta(days=21))  # 1 December, Shanghai
    assert _charge(kit, w, 100 * YUAN).status == "succeeded"


def test_a_cancelled_agreement_refuses_every_later_charge(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    signed = _sign(kit, w)
    cancelled = kit.run(withholding.cancel, w.customer_id, signed.public_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    error = kit.refusal(_charge, kit, w, 10 * YUAN)
    assert error.code == "WITHHOLDING_AGREEMENT_INACTIVE"
    assert kit.posted(w) == 500 * YUAN
    assert kit.count(AuditEntry, AuditEntry.action == "withholding.cancel") == 1


def test_cancelling_twice_or_someone_elses_agreement_is_refused(kit: Kit) -> None:
    w, other = kit.open(), kit.open()
    signed = _sign(kit, w)
    assert kit.refusal(kit.run, withholding.cancel, other.customer_id, signed.public_id).code == "NOT_FOUND"
    kit.run(withholding.cancel, w.customer_id, signed.public_id)
    assert kit.refusal(kit.run, withholding.cancel, w.customer_id, signed.public_id).code == \
        "WITHHOLDING_AGREEMENT_INACTIVE"


def test_a_new_agreement_can_be_signed_after_cancelling(kit: Kit) -> None:
    w = kit.open()
    kit.run(withholding.cancel, w.customer_id, _sign(kit, w).public_id)
    assert _sign(kit, w, per_payment=50 * YUAN).per_payment_cap == 50 * YUAN


def test_without_an_agreement_nothing_can_be_charged(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    assert kit.refusal(_charge, kit, w, 10 * YUAN).code == "WITHHOLDING_AGREEMENT_INACTIVE"


def test_withholding_counts_against_the_password_free_daily_cap(kit: Kit) -> None:
    w = kit.open(fund=2_000 * YUAN)
    limits = kit.read(withholding.policy)
    _sign(kit, w, per_payment=limits.max_per_payment, monthly=limits.max_monthly)
    _charge(kit, w, 500 * YUAN)
    _charge(kit, w, 500 * YUAN)  # 1,000 yuan without PIN today: the 小额免密 daily cap
    error = kit.refusal(_charge, kit, w, 1 * YUAN)
    assert (error.code, error.params["limit"]) == ("LIMIT_EXCEEDED", "password_free")
    assert kit.posted(w) == 1_000 * YUAN


def test_withholding_counts_against_the_tiers_outflow_limits(kit: Kit) -> None:
    w = kit.open(tier=4, fund=5_000 * YUAN)
    kit.run(payments.execute, payments.Order(
        key="spend", kind="transfer", payer=Party.wallet(w.wallet_id), payee=Party.wallet(kit.open().wallet_id),
        amount=1_950 * YUAN, confirmation="pin"))
    kit.run(payments.execute, payments.Order(
        key="spend2", kind="transfer", payer=Party.wallet(w.wallet_id), payee=Party.wallet(kit.open().wallet_id),
        amount=1_950 * YUAN, confirmation="pin"))
    kit.run(payments.execute, payments.Order(
        key="spend3", kind="transfer", payer=Party.wallet(w.wallet_id), payee=Party.wallet(kit.open().wallet_id),
        amount=1_050 * YUAN, confirmation="pin"))
    _sign(kit, w)
    error = kit.refusal(_charge, kit, w, 60 * YUAN)  # 4,950 + 60 > the tier-4 daily 5,000
    assert (error.code, error.params["limit"]) == ("LIMIT_EXCEEDED", "daily")
    assert kit.count(WithholdingCharge) == 0


def test_the_same_key_replays_a_charge_without_charging_twice(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    _sign(kit, w)
    first = _charge(kit, w, 20 * YUAN, key="wh:same")
    again = _charge(kit, w, 20 * YUAN, key="wh:same")
    assert again.replayed and again.id == first.id
    assert kit.posted(w) == 480 * YUAN and kit.count(WithholdingCharge) == 1


def test_operators_change_the_policy_with_an_audit_record(kit: Kit, make_staff) -> None:  # type: ignore[no-untyped-def]
    operator = make_staff("operator")
    kit.run(withholding.update_policy, max_per_payment=300 * YUAN, max_monthly=900 * YUAN, by_staff_id=operator.id,
            reason="风控调整")
    assert kit.read(withholding.policy) == withholding.PolicyView(300 * YUAN, 900 * YUAN)
    assert kit.count(AuditEntry, AuditEntry.action == "withholding.policy.update") == 1
    error = kit.refusal(kit.run, withholding.update_policy, max_per_payment=300 * YUAN, max_monthly=100 * YUAN,
                        by_staff_id=operator.id, reason="x")
    assert error.code == "POLICY_LIMITS_ORDER"



def test_two_charges_at_once_cannot_together_pass_the_monthly_cap(kit: Kit) -> None:
    import threading

    from qianbao.errors import QianbaoError

    w = kit.open(fund=1_000 * YUAN)
    _sign(kit, w, per_payment=200 * YUAN, monthly=300 * YUAN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def charge(n: int) -> None:
        barrier.wait()
        try:
            _charge(kit, w, 200 * YUAN, key=f"wh:race:{n}")
            outcomes.append("ok")
        except QianbaoError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=charge, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["WITHHOLDING_MONTHLY_CAP", "ok"]
    assert kit.posted(w) == 800 * YUAN and kit.count(WithholdingCharge) == 1
