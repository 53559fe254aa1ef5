"""Real-name in the app and the KYC review queue (SPEC §3.1 step 2, §3, §13)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select, text
from wallet_helpers import (
    LI_MIN_WRONG_NAME,
    LI_MING,
    OPERATOR,
    WANG_XIUYING,
    ZHAO_XIAOYU,
    ZHOU_JIANGUO,
    DownVerifier,
    Harness,
    audit_count,
    count,
    image_bytes,
)

from qianbao import ledger, wallets
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.wallets.models import KycPhoto, KycSubmission


def _wallet(db: Database, wallet_id: int) -> wallets.Wallet:
    with db.read() as session:
        return wallets.get_wallet(session, wallet_id)


def test_a_verifier_match_approves_the_real_name_and_moves_the_wallet_to_tier3(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, LI_MING)
    assert submission.status == "approved" and submission.verifier_decision == "match"
    with db.read() as session:
        customer = wallets.get_customer(session, opened.customer_id)
        wallet = wallets.get_wallet(session, opened.wallet_id)
        cap = ledger.get_account(session, wallet.ledger_account_id).cap
        history = wallets.tier_history(session, wallet.id)
    assert customer.real_name_status == "verified" and customer.legal_name == "李明"
    assert customer.id_number == "440305199210110058" and customer.id_valid_until == date(2039, 3, 1)
    assert wallet.tier == 3 and cap == 20_000_00
    assert [(c.from_tier, c.to_tier, c.cause) for c in history] == [(None, 4, "opened"), (4, 3, "real_name")]


def test_a_verifier_mismatch_rejects_with_the_reason_the_customer_sees_and_keeps_no_photo(
    h: Harness, db: Database
) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, LI_MIN_WRONG_NAME)
    assert submission.status == "rejected" and submission.rejection_code == "NAME_ID_MISMATCH"
    with db.read() as session:
        status = wallets.kyc_status(session, opened.customer_id)
    assert status.real_name_status == "none" and status.submission_status == "rejected"
    assert QianbaoError(status.rejection_code).message("zh-CN") == "姓名与身份证号码不一致，请核对后重新提交。"
    assert count(db, KycPhoto) == 0
    assert _wallet(db, opened.wallet_id).tier == 4


@pytest.mark.parametrize("case", ["unsure", "unavailable"])
def test_an_unsure_or_unavailable_verifier_puts_the_submission_in_the_review_queue(
    h: Harness, db: Database, case: str
) -> None:
    opened = h.register("13800138000")
    person, verifier = (ZHOU_JIANGUO, None) if case == "unsure" else (LI_MING, DownVerifier())
    submission = h.real_name(opened, person, verifier=verifier)
    assert submission.status == "pending" and submission.verifier_decision == case
    with db.read() as session:
        assert [s.id for s in wallets.kyc_queue(session)] == [submission.id]
        assert wallets.kyc_status(session, opened.customer_id).real_name_status == "pending"
        front = wallets.photo_of(session, "front", submission_id=submission.id)
    assert front.content_type == "image/jpeg" and front.data[:2] == b"\xff\xd8"
    assert _wallet(db, opened.wallet_id).tier == 4


def test_an_approved_review_moves_the_wallet_to_tier3_and_tells_the_customer(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, ZHOU_JIANGUO)
    h.run(wallets.approve_kyc, submission.id, OPERATOR)
    assert _wallet(db, opened.wallet_id).tier == 3
    with db.read() as session:
        assert wallets.kyc_status(session, opened.customer_id).real_name_status == "verified"
        assert wallets.kyc_queue(session) == []
        keys = {m.payload.get("key") for m in session.scalars(select(OutboxMessage))}
    assert "sms.wallet.real_name_approved" in keys
    assert audit_count(db, "success", "kyc.approve") == 1


def test_a_rejected_review_shows_the_customer_the_reviewers_reason(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, ZHOU_JIANGUO)
    h.run(wallets.reject_kyc, submission.id, "身份证照片模糊，请重新拍摄", OPERATOR)
    with db.read() as session:
        status = wallets.kyc_status(session, opened.customer_id)
    assert status.submission_status == "rejected" and status.rejection_reason == "身份证照片模糊，请重新拍摄"
    assert status.real_name_status == "none"
    assert audit_count(db, "success", "kyc.reject") == 1


def test_a_review_rejection_needs_a_reason(h: Harness) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, ZHOU_JIANGUO)
    assert h.refusal(wallets.reject_kyc, submission.id, "  ", OPERATOR).code == "REASON_REQUIRED"


def test_a_reviewer_cannot_decide_a_submission_twice(h: Harness) -> None:
    opened = h.register("13800138000")
    submission = h.real_name(opened, ZHOU_JIANGUO)
    h.run(wallets.approve_kyc, submission.id, OPERATOR)
    assert h.refusal(wallets.approve_kyc, submission.id, OPERATOR).code == "KYC_ALREADY_DECIDED"
    assert h.refusal(wallets.reject_kyc, submission.id, "late", OPERATOR).code == "KYC_ALREADY_DECIDED"


def test_a_second_submission_while_one_is_pending_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, ZHOU_JIANGUO)
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, ZHOU_JIANGUO)
    assert caught.value.code == "KYC_ALREADY_PENDING"


@pytest.mark.parametrize(("id_number", "code"), [
    ("110105194912310021", "ID_NUMBER_CHECKSUM"),
    ("110105194902301234", "ID_NUMBER_BIRTH_DATE"),
    ("990000194912310026", "ID_NUMBER_REGION"),
    ("11010519491231", "ID_NUMBER_FORMAT"),
])
def test_an_invalid_id_number_is_refused_and_keeps_nothing_but_the_audit_record(
    h: Harness, db: Database, id_number: str, code: str
) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, ("王秀英", id_number))
    assert caught.value.code == code
    assert count(db, KycSubmission) == count(db, KycPhoto) == 0
    assert audit_count(db, "refused") == 1


def test_an_under_age_person_is_refused_naming_the_minimum_age(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, ZHAO_XIAOYU, valid_until=date(2027, 7, 1))
    assert caught.value.code == "UNDER_AGE" and caught.value.params["minimum"] == 18
    assert count(db, KycSubmission) == 0


def test_an_expired_id_card_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, valid_until=date(2026, 11, 24))
    assert caught.value.code == "ID_CARD_EXPIRED"


def test_an_invalid_legal_name_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, ("Li Ming", "440305199210110058"))
    assert caught.value.code == "NAME_INVALID"


def test_a_second_wallet_for_the_same_id_number_is_refused(h: Harness, db: Database) -> None:
    h.real_name(h.register("13800138000"), LI_MING)
    second = h.register("13900139000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(second, LI_MING)
    assert caught.value.code == "DUPLICATE_REAL_NAME_WALLET"
    assert _wallet(db, second.wallet_id).tier == 4


def test_two_concurrent_real_names_with_one_id_number_verify_exactly_one_wallet(
    h: Harness, db: Database, settings
) -> None:
    first, second = h.register("13800138000"), h.register("13900139000")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(customer_id: int) -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                wallets.submit_real_name(session, customer_id, *LI_MING, date(2039, 3, 1), image_bytes("JPEG"),
                                         image_bytes("PNG"), verifier=h.verifier, settings=settings)
            outcomes.append("verified")
        except QianbaoError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(c.customer_id,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["DUPLICATE_REAL_NAME_WALLET", "verified"]
    tiers = sorted(_wallet(db, o.wallet_id).tier for o in (first, second))
    assert tiers == [3, 4]


def test_a_photo_over_5_mb_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    big = image_bytes("PNG") + b"\0" * (5 * 1024 * 1024)
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, front=big)
    assert caught.value.code == "PHOTO_TOO_LARGE" and caught.value.params == {"side": "front", "max_mb": 5}


@pytest.mark.parametrize("content", [b"%PDF-1.7 not a photo", b"\xff\xd8\xff\xe0 truncated jpeg"])
def test_a_file_that_is_not_an_image_is_refused(h: Harness, content: bytes) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, back=content)
    assert caught.value.code == "PHOTO_NOT_IMAGE" and caught.value.params["side"] == "back"


def test_a_truncated_jpeg_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    whole = image_bytes("JPEG", size=(800, 600))
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, front=whole[: len(whole) // 2])
    assert caught.value.code == "PHOTO_NOT_IMAGE"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP"])
def test_an_image_that_is_not_jpeg_or_png_is_refused(h: Harness, fmt: str) -> None:
    opened = h.register("13800138000")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, front=image_bytes(fmt))
    assert caught.value.code == "PHOTO_FORMAT" and caught.value.params["format"] == fmt


def test_id_photos_and_numbers_are_stored_encrypted(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, ZHOU_JIANGUO)
    with db.read() as session:
        raw_photo = session.execute(text("SELECT data FROM kyc_photo LIMIT 1")).scalar_one()
        raw_ids = session.execute(text("SELECT id_number FROM kyc_submission")).scalars().all()
        raw_phone = session.execute(text("SELECT phone FROM customer")).scalar_one()
    assert bytes(raw_photo).startswith(b"v1:") and b"JFIF" not in bytes(raw_photo)
    assert all("320102" not in value for value in raw_ids)
    assert "13800138000" not in raw_phone


def test_a_verified_holder_renewing_their_card_must_give_the_same_id_number(h: Harness) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, WANG_XIUYING, valid_until=None)
    assert caught.value.code == "REAL_NAME_ID_DIFFERS"


def test_a_truncated_jpeg_is_refused_even_after_weasyprint_allows_truncated_images(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    # Importing WeasyPrint (counter receipts) turns this on for the whole process.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    opened = h.register("13800138000")
    whole = image_bytes("JPEG", size=(800, 600))
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, LI_MING, front=whole[: len(whole) // 2])
    assert caught.value.code == "PHOTO_NOT_IMAGE"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
