"""Billers as a policy table (SPEC §11) and the customer's saved billers ("my billers")."""

from __future__ import annotations

from bills_helpers import GAS_DUE, PIN, TELECOM_DUE, WATER_DUE, WATER_DUE_2, YUAN, Kit, confirm_with

from qianbao import ledger
from qianbao.audit.models import AuditEntry
from qianbao.payments import bills
from qianbao.payments.bills_models import SavedBiller


def test_the_four_seeded_billers_cover_water_electricity_gas_and_telecom(kit: Kit) -> None:
    listed = kit.read(bills.list_billers)
    assert [(b.code, b.category) for b in listed] == [
        ("SH-WATER", "water"), ("SH-POWER", "electricity"), ("SH-GAS", "gas"), ("CT-MOBILE", "telecom")]
    assert [b.name_zh for b in listed] == ["上海市自来水", "国网上海市电力公司", "上海燃气", "中国电信"]


def test_each_biller_has_a_ledger_account_of_kind_biller(kit: Kit) -> None:
    account_id = kit.run(bills.biller_account, "SH-GAS")
    with kit.db.read() as session:
        account = ledger.get_account(session, account_id)
    assert (account.kind, account.code, account.no_negative) == ("biller", "BILLER-SH-GAS", True)
    assert kit.run(bills.biller_account, "SH-GAS") == account_id


def test_a_disabled_biller_is_not_offered_and_refused(kit: Kit, make_staff) -> None:  # type: ignore[no-untyped-def]
    operator = make_staff("operator")
    kit.run(bills.set_biller_enabled, "SH-GAS", False, by_staff_id=operator.id, reason="系统维护")
    assert "SH-GAS" not in [b.code for b in kit.read(bills.list_billers)]
    assert kit.refusal(bills.lookup_bill, kit.db, kit.billers, "SH-GAS", GAS_DUE).code == "BILLER_UNKNOWN"
    assert kit.count(AuditEntry, AuditEntry.action == "biller.disable") == 1
    kit.run(bills.set_biller_enabled, "SH-GAS", True, by_staff_id=operator.id, reason="恢复")
    assert not bills.lookup_bill(kit.db, kit.billers, "SH-GAS", GAS_DUE).nothing_due


def test_changing_a_biller_needs_a_reason(kit: Kit, make_staff) -> None:  # type: ignore[no-untyped-def]
    operator = make_staff("operator")
    error = kit.refusal(kit.run, bills.set_biller_enabled, "SH-GAS", False, by_staff_id=operator.id, reason=" ")
    assert error.code == "REASON_REQUIRED"


def test_operators_add_a_biller_with_its_ledger_account(kit: Kit, make_staff) -> None:  # type: ignore[no-untyped-def]
    operator = make_staff("operator")
    added = kit.run(bills.create_biller, code="sz-water", category="water", name_zh="深圳水务",
                    name_en="Shenzhen Water", region="深圳", reference_format="luhn10", by_staff_id=operator.id,
                    reason="新增缴费单位")
    assert added.code == "SZ-WATER"
    with kit.db.read() as session:
        assert ledger.account_by_code(session, "BILLER-SZ-WATER") is not None
    error = kit.refusal(kit.run, bills.create_biller, code="SZ-WATER", category="water", name_zh="x", name_en="x",
                        region="x", reference_format="luhn10", by_staff_id=operator.id, reason="again")
    assert error.code == "BILLER_CODE_TAKEN"
    error = kit.refusal(kit.run, bills.create_biller, code="NEW", category="heating", name_zh="x", name_en="x",
                        region="x", reference_format="luhn10", by_staff_id=operator.id, reason="x")
    assert (error.code, error.params["field"]) == ("BILLER_FIELD_INVALID", "category")


def test_a_saved_biller_is_listed_masked_and_saving_it_again_keeps_one(kit: Kit) -> None:
    w = kit.open()
    first = kit.run(bills.save_biller, w.customer_id, "SH-WATER", WATER_DUE, label="家里")
    again = kit.run(bills.save_biller, w.customer_id, "sh-water", WATER_DUE)
    assert again.id == first.id
    [saved] = kit.read(bills.saved_billers, w.customer_id)
    assert (saved.biller.code, saved.reference_masked, saved.label) == ("SH-WATER", "3100**" + WATER_DUE[-4:], "家里")


def test_saving_a_mistyped_reference_is_refused(kit: Kit) -> None:
    w = kit.open()
    error = kit.refusal(kit.run, bills.save_biller, w.customer_id, "SH-WATER", WATER_DUE[:-1] + "0"
                        if WATER_DUE[-1] != "0" else WATER_DUE[:-1] + "1")
    assert error.code == "BILL_REFERENCE_INVALID"
    assert kit.count(SavedBiller) == 0


def test_the_reference_is_stored_encrypted(kit: Kit) -> None:
    w = kit.open()
    kit.run(bills.save_biller, w.customer_id, "CT-MOBILE", TELECOM_DUE)
    with kit.db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT reference FROM biller_saved").scalar()
    assert TELECOM_DUE not in stored


def test_saved_billers_are_limited_per_customer(kit: Kit) -> None:
    from qianbao.adapters.billers.references import with_check_digit

    w = kit.open()
    for n in range(bills.MAX_SAVED_BILLERS):
        kit.run(bills.save_biller, w.customer_id, "SH-WATER", with_check_digit(f"3{n:08d}"))
    error = kit.refusal(kit.run, bills.save_biller, w.customer_id, "SH-POWER", WATER_DUE)
    assert (error.code, error.params["max"]) == ("SAVED_BILLERS_LIMIT", bills.MAX_SAVED_BILLERS)


def test_removing_someone_elses_saved_biller_is_not_found(kit: Kit) -> None:
    w, other = kit.open(), kit.open()
    saved = kit.run(bills.save_biller, w.customer_id, "SH-WATER", WATER_DUE)
    assert kit.refusal(kit.run, bills.remove_saved_biller, other.customer_id, saved.id).code == "NOT_FOUND"
    kit.run(bills.remove_saved_biller, w.customer_id, saved.id)
    assert kit.read(bills.saved_billers, w.customer_id) == []


def test_paying_with_save_keeps_the_biller_and_when_it_was_last_paid(kit: Kit) -> None:
    w = kit.open(fund=500 * YUAN)
    kit.run(bills.save_biller, w.customer_id, "SH-WATER", WATER_DUE_2)
    due = bills.lookup_bill(kit.db, kit.billers, "SH-WATER", WATER_DUE)
    bills.pay_bill(kit.db, kit.billers, key="k1", customer_id=w.customer_id, code="SH-WATER", reference=WATER_DUE,
                   bill_id=due.bill_id or "", amount=due.amount, confirm=confirm_with(w.customer_id, pin=PIN),
                   save=True)
    saved = kit.read(bills.saved_billers, w.customer_id)
    assert saved[0].reference == WATER_DUE and saved[0].last_paid_at is not None  # last paid comes first
    assert saved[1].reference == WATER_DUE_2 and saved[1].last_paid_at is None


def test_recent_payments_are_the_customers_own(kit: Kit) -> None:
    w, other = kit.open(fund=500 * YUAN), kit.open()
    due = bills.lookup_bill(kit.db, kit.billers, "SH-WATER", WATER_DUE)
    paid = bills.pay_bill(kit.db, kit.billers, key="k1", customer_id=w.customer_id, code="SH-WATER",
                          reference=WATER_DUE, bill_id=due.bill_id or "", amount=due.amount,
                          confirm=confirm_with(w.customer_id, pin=PIN))
    assert [p.operation_reference for p in kit.read(bills.recent_payments, w.customer_id)] == [
        paid.operation_reference]
    assert kit.read(bills.recent_payments, other.customer_id) == []
    assert kit.refusal(kit.read, bills.get_payment, other.customer_id, paid.operation_reference).code == "NOT_FOUND"
