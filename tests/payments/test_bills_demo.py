"""The demo seed of bills and parcels: bills due for the demo holders' saved billers, a parcel waiting."""

from __future__ import annotations

from bills_helpers import Kit

from qianbao.payments import bills, parcels
from qianbao.payments.bills_demo import seed_demo_bills
from qianbao.payments.bills_models import ParcelOrder, SavedBiller
from qianbao.wallets.customers import customer_by_phone
from qianbao.wallets.demo import seed_demo_customers


def test_the_demo_holders_find_bills_due_in_their_name_and_a_parcel_waiting(kit: Kit) -> None:
    with kit.db.transaction() as session:
        seed_demo_customers(session, kit.settings)
    lines = seed_demo_bills(kit.db, kit.settings)
    assert any("SH-WATER" in line for line in lines)
    with kit.db.read() as session:
        li_ming = customer_by_phone(session, "+8613800000003")
        four = customer_by_phone(session, "+8613800000004")
        assert li_ming is not None and four is not None
        saved = bills.saved_billers(session, li_ming.id)
        [order] = parcels.customer_orders(session, four.id)
    assert {item.biller.code for item in saved} == {"SH-WATER", "SH-POWER"}
    water = next(item for item in saved if item.biller.code == "SH-WATER")
    due = bills.lookup_bill(kit.db, kit.billers, "SH-WATER", water.reference)
    assert (due.holder, due.amount) == ("李*", 8_640)
    assert (order.status, order.receiver_city) == ("awaiting_payment", "北京")


def test_seeding_twice_adds_nothing(kit: Kit) -> None:
    with kit.db.transaction() as session:
        seed_demo_customers(session, kit.settings)
    seed_demo_bills(kit.db, kit.settings)
    saved, orders = kit.count(SavedBiller), kit.count(ParcelOrder)
    seed_demo_bills(kit.db, kit.settings)
    assert (kit.count(SavedBiller), kit.count(ParcelOrder)) == (saved, orders)
