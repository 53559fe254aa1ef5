"""Demo customers: holders at tiers 4, 3 (and one pending review) and 1, created idempotently."""

from __future__ import annotations

from wallet_helpers import BRANCH, TELLER, Harness, count

from qianbao import credentials, wallets
from qianbao.credentials import Principal
from qianbao.db import Database
from qianbao.settings import Settings
from qianbao.wallets.demo import DEMO_CUSTOMERS, seed_demo_customers
from qianbao.wallets.models import Customer


def test_the_demo_has_customers_at_tiers_4_3_and_1_and_one_in_review(h: Harness, db: Database,
                                                                     settings: Settings) -> None:
    with db.transaction() as session:
        lines = seed_demo_customers(session, settings, teller=(TELLER, BRANCH))
    tiers = {}
    with db.read() as session:
        for demo in DEMO_CUSTOMERS:
            customer = wallets.customer_by_phone(session, "+86" + demo.phone)
            tiers[demo.phone] = (wallets.wallet_of_customer(session, customer.id).tier, customer.real_name_status)
        queue = wallets.kyc_queue(session)
    assert tiers == {"13800000004": (4, "none"), "13800000003": (3, "verified"),
                     "13800000005": (4, "pending"), "13800000001": (1, "verified")}
    assert len(queue) == 1
    assert all(any(demo.phone in line and demo.password in line for line in lines) for demo in DEMO_CUSTOMERS)


def test_the_demo_passwords_sign_in(h: Harness, db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        seed_demo_customers(session, settings, teller=(TELLER, BRANCH))
    with credentials.transaction(db) as session:
        for demo in DEMO_CUSTOMERS:
            customer = wallets.customer_by_phone(session, "+86" + demo.phone)
            credentials.verify_login(session, Principal.customer(customer.id), demo.password, settings=settings)


def test_seeding_the_demo_twice_creates_nothing_more(h: Harness, db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        first = seed_demo_customers(session, settings, teller=(TELLER, BRANCH))
    with db.transaction() as session:
        second = seed_demo_customers(session, settings, teller=(TELLER, BRANCH))
    assert first == second and count(db, Customer) == len(DEMO_CUSTOMERS)
