"""Opening at the counter (SPEC §3.2): application, supervisor approval, PIN-pad set-up, tier 1, receipt."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select
from wallet_helpers import (
    BRANCH,
    LI_MIN_WRONG_NAME,
    LI_MING,
    OTHER_BRANCH,
    PASSWORD,
    PIN,
    SUPERVISOR,
    TELLER,
    WANG_XIUYING,
    ZHOU_JIANGUO,
    DownVerifier,
    Harness,
    count,
    image_bytes,
)

from qianbao import credentials, ledger, wallets
from qianbao.adapters.idcard.sandbox import card_for_citizen, sandbox_card
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.credentials import Principal
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.wallets.models import CounterApplication, Customer, KycPhoto, Wallet


def _from_reader(h: Harness, person: tuple[str, str], phone: str, **overrides) -> CounterApplication:
    card = card_for_citizen(find_citizen(person[1]))
    return h.run(
        wallets.counter_application, TELLER, BRANCH, overrides.get("name", person[0]), person[1], phone,
        card, image_bytes("JPEG"), reader_device_id="BJ001-R1", verifier=h.verifier, settings=h.settings,
    )


def _pair(h: Harness, application_id: int) -> str:
    code = h.run(wallets.pinpad_pairing_code, application_id)
    return h.run(wallets.pair_pinpad, code.code, ip="10.1.1.1").token


def test_a_clean_application_needs_no_supervisor(h: Harness) -> None:
    application = _from_reader(h, LI_MING, "13800138000")
    assert application.status == "ready" and application.approval_reasons == []
    assert application.card_source == "reader" and application.physical_card_checked


def test_the_customer_sets_password_and_pin_on_the_pin_pad_and_a_tier1_wallet_opens(
    h: Harness, db: Database, settings
) -> None:
    application = _from_reader(h, LI_MING, "13800138000")
    customer, wallet = h.run(wallets.complete_counter_opening, _pair(h, application.id), PASSWORD, PIN,
                             settings=settings)
    assert wallet.tier == 1 and wallet.opened_channel == "counter"
    assert (wallet.opened_branch_id, wallet.opened_by_staff_id) == (BRANCH, TELLER)
    assert customer.real_name_status == "verified" and customer.real_name_channel == "counter"
    with credentials.transaction(db) as session:
        account = ledger.get_account(session, wallet.ledger_account_id)
        credentials.verify_login(session, Principal.customer(customer.id), PASSWORD, settings=settings)
        credentials.verify_pin(session, Principal.customer(customer.id), PIN, settings=settings)
    assert account.cap is None  # tier 1: no balance cap
    with db.read() as session:
        keys = {m.payload.get("key") or m.payload.get("title_key") for m in session.scalars(select(OutboxMessage))}
    assert {"sms.wallet.opened", "notice.wallet.opened.title"} <= keys


def test_a_verifier_mismatch_needs_a_supervisor(h: Harness) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    assert application.status == "awaiting_supervisor"
    assert application.approval_reasons == ["verifier_mismatch"]


def test_an_unsure_verifier_needs_a_supervisor(h: Harness) -> None:
    application = h.counter(ZHOU_JIANGUO, "13800138000", valid_until=None)
    assert application.approval_reasons == ["verifier_unsure"]


def test_an_unreachable_verifier_needs_a_supervisor(h: Harness) -> None:
    application = h.counter(LI_MING, "13800138000", verifier=DownVerifier())
    assert application.status == "awaiting_supervisor" and application.approval_reasons == ["verifier_unavailable"]


def test_the_teller_who_took_the_application_cannot_approve_it(h: Harness) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    assert h.refusal(wallets.approve_application, application.id, TELLER).code == "SELF_APPROVAL_FORBIDDEN"


def test_another_supervisor_approves_and_the_opening_proceeds(h: Harness, settings) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    approved = h.run(wallets.approve_application, application.id, SUPERVISOR)
    assert approved.status == "approved" and approved.supervisor_staff_id == SUPERVISOR
    _customer, wallet = h.run(wallets.complete_counter_opening, _pair(h, application.id), PASSWORD, PIN,
                              settings=settings)
    assert wallet.tier == 1


def test_the_pin_pad_cannot_be_paired_before_a_needed_approval(h: Harness) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    error = h.refusal(wallets.pinpad_pairing_code, application.id)
    assert error.code == "COUNTER_APPLICATION_STATE" and error.params["state"] == "awaiting_supervisor"


def test_a_rejected_application_opens_nothing(h: Harness, db: Database) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    h.run(wallets.reject_application, application.id, SUPERVISOR, "证件与本人不符")
    assert h.refusal(wallets.pinpad_pairing_code, application.id).code == "COUNTER_APPLICATION_STATE"
    assert count(db, Wallet) == 0


def test_keyed_in_data_that_differs_from_the_card_reader_is_refused(h: Harness, db: Database) -> None:
    with pytest.raises(QianbaoError) as caught:
        _from_reader(h, LI_MING, "13800138000", name="李敏")
    assert caught.value.code == "ID_CARD_DATA_MISMATCH"
    assert count(db, CounterApplication) == 0


def test_a_manual_entry_needs_the_physical_card_checked(h: Harness, db: Database) -> None:
    error = h.refusal(
        wallets.counter_application, TELLER, BRANCH, *LI_MING, "13800138000",
        wallets.ManualIdCard(valid_until=date(2039, 3, 1), physical_card_checked=False), image_bytes("JPEG"),
        verifier=h.verifier,
    )
    assert error.code == "PHYSICAL_CARD_NOT_CHECKED"
    assert count(db, CounterApplication) == 0


def test_an_expired_card_read_by_the_reader_is_refused(h: Harness) -> None:
    card = sandbox_card("陈静", "310115199506180023", issued_on=date(2015, 5, 1))
    error = h.refusal(wallets.counter_application, TELLER, BRANCH, "陈静", "310115199506180023", "13800138000",
                      card, image_bytes("JPEG"), verifier=h.verifier)
    assert error.code == "ID_CARD_EXPIRED"


def test_the_customer_photo_must_be_a_real_image(h: Harness) -> None:
    error = h.refusal(wallets.counter_application, TELLER, BRANCH, *LI_MING, "13800138000",
                      wallets.ManualIdCard(date(2039, 3, 1), True), b"not a photo", verifier=h.verifier)
    assert error.code == "PHOTO_NOT_IMAGE" and error.params["side"] == "customer"


def test_a_pairing_code_works_once(h: Harness) -> None:
    application = h.counter(LI_MING, "13800138000")
    code = h.run(wallets.pinpad_pairing_code, application.id)
    h.run(wallets.pair_pinpad, code.code, ip="10.1.1.1")
    assert h.refusal(wallets.pair_pinpad, code.code, ip="10.1.1.1").code == "PAIRING_CODE_INVALID"


def test_a_pairing_code_expires_after_three_minutes(h: Harness, clock: time_machine.Traveller) -> None:
    application = h.counter(LI_MING, "13800138000")
    code = h.run(wallets.pinpad_pairing_code, application.id)
    clock.shift(timedelta(minutes=3, seconds=1))
    assert h.refusal(wallets.pair_pinpad, code.code, ip="10.1.1.1").code == "PAIRING_CODE_INVALID"


def test_wrong_pairing_codes_are_rate_limited(h: Harness) -> None:
    h.counter(LI_MING, "13800138000")
    codes = [h.refusal(wallets.pair_pinpad, f"{n:06d}", ip="10.9.9.9").code for n in range(11)]
    assert codes == ["PAIRING_CODE_INVALID"] * 10 + ["RATE_LIMITED"]


def test_a_pin_pad_token_opens_one_wallet_only(h: Harness, settings) -> None:
    application = h.counter(LI_MING, "13800138000")
    token = _pair(h, application.id)
    h.run(wallets.complete_counter_opening, token, PASSWORD, PIN, settings=settings)
    assert h.refusal(wallets.complete_counter_opening, token, PASSWORD, PIN).code == "PAIRING_TOKEN_INVALID"


def test_a_weak_password_on_the_pin_pad_keeps_the_token_for_another_try(h: Harness, db: Database, settings) -> None:
    application = h.counter(LI_MING, "13800138000")
    token = _pair(h, application.id)
    assert h.refusal(wallets.complete_counter_opening, token, "12345678", PIN).code == "PASSWORD_TOO_COMMON"
    assert h.refusal(wallets.complete_counter_opening, token, PASSWORD, "921011").code == "PIN_IS_BIRTH_DATE"
    assert count(db, Customer) == count(db, Wallet) == 0
    _customer, wallet = h.run(wallets.complete_counter_opening, token, PASSWORD, PIN, settings=settings)
    assert wallet.tier == 1


def test_an_existing_app_wallet_needs_a_supervisor_and_is_upgraded_to_tier1(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    application = h.counter(LI_MING, "13800138000")
    assert application.approval_reasons == ["existing_wallet"]
    assert application.existing_customer_id == opened.customer_id
    h.run(wallets.approve_application, application.id, SUPERVISOR)
    assert h.refusal(wallets.pinpad_pairing_code, application.id).code == "COUNTER_APPLICATION_IS_UPGRADE"
    wallet = h.run(wallets.counter_upgrade_to_tier1, application.id, TELLER)
    assert wallet.id == opened.wallet_id and wallet.tier == 1
    with db.read() as session:
        history = wallets.tier_history(session, wallet.id)
        assert ledger.get_account(session, wallet.ledger_account_id).cap is None
    assert history[-1].cause == "counter" and history[-1].branch_id == BRANCH
    assert count(db, Wallet) == 1


def test_a_phone_only_wallet_is_upgraded_with_the_real_name_taken_in_person(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    application = h.counter(WANG_XIUYING, "13800138000", valid_until=None)
    assert application.approval_reasons == ["phone_registered"]
    h.run(wallets.approve_application, application.id, SUPERVISOR)
    h.run(wallets.counter_upgrade_to_tier1, application.id, TELLER)
    with db.read() as session:
        customer = wallets.get_customer(session, opened.customer_id)
    assert customer.real_name_status == "verified" and customer.legal_name == "王秀英"
    assert customer.id_valid_until is None  # long-term card


def test_a_phone_of_another_verified_holder_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    with pytest.raises(QianbaoError) as caught:
        h.counter(WANG_XIUYING, "13800138000", valid_until=None)
    assert caught.value.code == "PHONE_ALREADY_REGISTERED"


def test_an_id_number_with_a_wallet_under_another_phone_is_refused(h: Harness) -> None:
    h.real_name(h.register("13800138000"), LI_MING)
    with pytest.raises(QianbaoError) as caught:
        h.counter(LI_MING, "13900139000")
    assert caught.value.code == "PHONE_MISMATCH_EXISTING_WALLET"


def test_a_second_counter_opening_for_a_tier1_holder_is_refused(h: Harness) -> None:
    h.open_at_counter(LI_MING, "13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.counter(LI_MING, "13800138000")
    assert caught.value.code == "DUPLICATE_REAL_NAME_WALLET"


def test_a_teller_reaches_only_applications_of_their_branch(h: Harness) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    error = h.refusal(wallets.approve_application, application.id, SUPERVISOR, branch_id=OTHER_BRANCH)
    assert error.code == "NOT_FOUND"
    assert h.refusal(wallets.pinpad_pairing_code, application.id, branch_id=OTHER_BRANCH).code == "NOT_FOUND"


def test_the_receipt_has_the_wallet_number_tier_limits_branch_teller_and_time(h: Harness, db: Database) -> None:
    application = h.counter(LI_MIN_WRONG_NAME, "13800138000")
    h.run(wallets.approve_application, application.id, SUPERVISOR)
    _customer, wallet = h.run(wallets.complete_counter_opening, _pair(h, application.id), PASSWORD, PIN,
                              settings=h.settings)
    with db.read() as session:
        receipt = wallets.opening_receipt_data(session, wallet.id)
    assert receipt.wallet_number == wallets.format_wallet_number(wallet.number)
    assert receipt.tier == 1 and receipt.limits.balance_cap is None
    assert (receipt.branch_id, receipt.teller_staff_id, receipt.supervisor_staff_id) == (BRANCH, TELLER, SUPERVISOR)
    assert receipt.masked_name == "李*" and receipt.masked_phone == "138****8000"
    assert receipt.opened_at is not None and receipt.serial.startswith("KH")


def test_an_app_wallet_has_no_counter_receipt(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    with db.read() as session, pytest.raises(QianbaoError) as caught:
        wallets.opening_receipt_data(session, opened.wallet_id)
    assert caught.value.code == "NOT_FOUND"


def test_an_abandoned_application_expires_after_a_day_and_loses_its_photos(
    h: Harness, db: Database, settings, clock: time_machine.Traveller
) -> None:
    from qianbao.wallets.jobs import expire_applications_job

    application = h.counter(LI_MING, "13800138000")
    assert expire_applications_job(db, settings) == 0
    clock.shift(timedelta(hours=24, minutes=1))
    assert expire_applications_job(db, settings) == 1
    with db.read() as session:
        assert wallets.get_application(session, application.id).status == "expired"
        assert session.scalar(select(KycPhoto.id).where(KycPhoto.application_id == application.id)) is None
    assert count(db, Wallet) == 0


def test_a_counter_verification_settles_the_holders_submission_waiting_for_review(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, ZHOU_JIANGUO, valid_until=None)
    application = h.counter(ZHOU_JIANGUO, "13800138000", valid_until=None)
    assert "phone_registered" in application.approval_reasons
    h.run(wallets.approve_application, application.id, SUPERVISOR)
    h.run(wallets.counter_upgrade_to_tier1, application.id, TELLER)
    with db.read() as session:
        assert wallets.get_submission(session, submission.id).status == "approved"
        assert wallets.kyc_queue(session) == []
