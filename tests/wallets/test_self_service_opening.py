"""Self-service opening in the app (SPEC §3.1 step 1 and step 4): phone → SMS code → password → terms → tier 4."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select
from wallet_helpers import PASSWORD, Harness, audit_count, count

from qianbao import credentials, ledger, wallets
from qianbao.credentials import Principal
from qianbao.credentials.models import LoginPassword
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger.models import LedgerAccount
from qianbao.notices.models import OutboxMessage
from qianbao.wallets.models import Customer, Wallet


def test_registration_opens_a_tier4_wallet_with_its_capped_ledger_account(h: Harness, db: Database) -> None:
    opened = h.register("138 0013 8000")
    with db.read() as session:
        wallet = wallets.get_wallet(session, opened.wallet_id)
        customer = wallets.get_customer(session, opened.customer_id)
        account = ledger.get_account(session, wallet.ledger_account_id)
    assert wallet.tier == 4 and wallet.status == "active" and wallet.opened_channel == "app"
    assert customer.phone == "+8613800138000" and customer.real_name_status == "none"
    assert customer.terms_version == wallets.TERMS_VERSION and customer.terms_accepted_at is not None
    assert account.kind == "customer_wallet" and account.no_negative
    assert account.cap == 10_000_00  # tier 4's balance cap, 10,000 yuan
    assert account.code == "W" + wallet.number


def test_registration_sets_the_login_password(h: Harness, db: Database, settings) -> None:
    opened = h.register("13800138000")
    with credentials.transaction(db) as session:
        credentials.verify_login(session, Principal.customer(opened.customer_id), PASSWORD, settings=settings)


def test_registration_sends_the_opening_notice_in_app_and_by_sms(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    with db.read() as session:
        payloads = [m.payload for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    keys = [p.get("key") or p.get("title_key") for p in payloads]
    assert "notice.wallet.opened.title" in keys and "sms.wallet.opened" in keys
    sms = next(p for p in payloads if p.get("key") == "sms.wallet.opened")
    assert sms["phone"] == "+8613800138000" and sms["params"]["wallet_tail"] == opened.number[-4:]


def test_registration_is_audited(h: Harness, db: Database) -> None:
    h.register("13800138000")
    assert audit_count(db, "success", "wallet.open") == 1


def test_a_phone_that_has_a_wallet_cannot_start_registration_again(h: Harness) -> None:
    h.register("13800138000")
    error = h.refusal(wallets.start_registration, "+86 138 0013 8000", "10.0.0.1", "zh-CN")
    assert error.code == "PHONE_ALREADY_REGISTERED"


def test_an_invalid_phone_number_is_refused(h: Harness) -> None:
    assert h.refusal(wallets.start_registration, "12345", "10.0.0.1", "zh-CN").code == "PHONE_INVALID"
    assert h.refusal(wallets.start_registration, "010 6552 9988", "10.0.0.1", "zh-CN").code == "PHONE_INVALID"


def test_terms_not_accepted_is_refused_and_keeps_nothing_but_the_audit_record(h: Harness, db: Database) -> None:
    issued = h.run(wallets.start_registration, "13800138000", "10.0.0.1", "zh-CN")
    before = audit_count(db)
    error = h.refusal(wallets.complete_registration, "13800138000", issued.code, PASSWORD, False)
    assert error.code == "TERMS_NOT_ACCEPTED"
    assert count(db, Customer) == count(db, Wallet) == count(db, LedgerAccount) == count(db, LoginPassword) == 0
    assert audit_count(db) == before + 1 and audit_count(db, "refused") == 1


@pytest.mark.parametrize(("password", "code"), [
    ("short1!", "PASSWORD_TOO_SHORT"),
    ("password123", "PASSWORD_TOO_COMMON"),
    ("x13800138000y", "PASSWORD_CONTAINS_PHONE"),
])
def test_a_weak_password_is_refused_and_the_sms_code_is_not_spent(
    h: Harness, db: Database, settings, password: str, code: str
) -> None:
    issued = h.run(wallets.start_registration, "13800138000", "10.0.0.1", "zh-CN")
    assert h.refusal(wallets.complete_registration, "13800138000", issued.code, password, True).code == code
    assert count(db, Customer) == count(db, Wallet) == 0
    # The same code still works with a good password.
    customer, _wallet = h.run(wallets.complete_registration, "13800138000", issued.code, PASSWORD, True,
                              settings=settings)
    assert customer.id


def test_a_wrong_sms_code_is_refused_counts_a_try_and_opens_nothing(h: Harness, db: Database) -> None:
    issued = h.run(wallets.start_registration, "13800138000", "10.0.0.1", "zh-CN")
    wrong = "000000" if issued.code != "000000" else "111111"
    error = h.refusal(wallets.complete_registration, "13800138000", wrong, PASSWORD, True)
    assert error.code == "OTP_WRONG" and error.params["tries_left"] == 4
    assert count(db, Customer) == count(db, Wallet) == count(db, LedgerAccount) == 0
    assert audit_count(db, "refused") == 1


def test_a_used_sms_code_cannot_open_a_second_wallet(h: Harness, settings) -> None:
    issued = h.run(wallets.start_registration, "13800138000", "10.0.0.1", "zh-CN")
    h.run(wallets.complete_registration, "13800138000", issued.code, PASSWORD, True, settings=settings)
    error = h.refusal(wallets.complete_registration, "13800138000", issued.code, PASSWORD, True)
    assert error.code == "PHONE_ALREADY_REGISTERED"


def test_two_concurrent_registrations_of_one_phone_open_exactly_one_wallet(h: Harness, db: Database, settings) -> None:
    issued = h.run(wallets.start_registration, "13800138000", "10.0.0.1", "zh-CN")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                wallets.complete_registration(session, "13800138000", issued.code, PASSWORD, True, settings=settings)
            outcomes.append("opened")
        except QianbaoError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("opened") == 1
    # The loser finds the phone taken or the code spent, depending on where it waited.
    assert set(outcomes) - {"opened"} <= {"PHONE_ALREADY_REGISTERED", "OTP_USED"}
    assert count(db, Customer) == count(db, Wallet) == 1


def test_payment_pin_follows_the_pin_rules(h: Harness) -> None:
    opened = h.register("13800138000")
    assert h.refusal(wallets.set_payment_pin, opened.customer_id, "12345").code == "PIN_FORMAT"
    assert h.refusal(wallets.set_payment_pin, opened.customer_id, "888888").code == "PIN_TOO_SIMPLE"
    assert h.refusal(wallets.set_payment_pin, opened.customer_id, "123456").code == "PIN_TOO_SIMPLE"
    h.run(wallets.set_payment_pin, opened.customer_id, "258036")
    assert h.refusal(wallets.set_payment_pin, opened.customer_id, "147036").code == "PIN_ALREADY_SET"


def test_payment_pin_cannot_be_the_birth_date_once_the_real_name_gives_it(h: Harness, db: Database) -> None:
    from wallet_helpers import LI_MING

    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)  # 李明, born 1992-10-11
    with db.read() as session:
        assert wallets.get_customer(session, opened.customer_id).birth_date == date(1992, 10, 11)
    assert h.refusal(wallets.set_payment_pin, opened.customer_id, "921011").code == "PIN_IS_BIRTH_DATE"
