"""SMS one-time codes (SPEC §3.1, §4, §10): 6 digits, 5 minutes, 5 tries, single use, resend after 60 s,
rate limits per number and per IP, sent through the transactional outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from qianbao.credentials import issue_otp, otp, resend_wait_seconds, transaction, verify_otp
from qianbao.credentials.models import OneTimeCode
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.settings import Settings

PHONE = "13812345678"
OTHER_PHONE = "13987654321"


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def sms_payloads(db: Database) -> list[dict]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "sms")
                                    .order_by(OutboxMessage.id)))


@pytest.fixture
def issue(run: Callable, settings: Settings) -> Callable[..., otp.IssuedOtp]:
    def call(purpose: str = otp.REGISTER, phone: str = PHONE, **kwargs: object) -> otp.IssuedOtp:
        return run(issue_otp, purpose, phone, settings=settings, **kwargs)

    return call


# ---- the code and its message -------------------------------------------------------------------------

def test_code_is_six_random_digits(issue: Callable, clock: time_machine.Traveller) -> None:
    codes = set()
    for phone in ("13800000001", "13800000002", "13800000003", "13800000004", "13800000005"):
        code = issue(phone=phone).code
        assert re.fullmatch(r"\d{6}", code)
        codes.add(code)
    assert len(codes) > 1


def test_code_is_texted_through_the_outbox_in_chinese(db: Database, issue: Callable) -> None:
    code = issue().code
    assert sms_payloads(db) == [
        {"phone": "+8613812345678", "text": f"【钱包】您的验证码为 {code}，5 分钟内有效。请勿告诉他人。"}
    ]


def test_code_is_texted_in_english_for_an_english_speaking_customer(db: Database, issue: Callable) -> None:
    code = issue(lang="en").code
    assert sms_payloads(db)[0]["text"] == (
        f"[Qianbao] Your verification code is {code}, valid for 5 minutes. Do not share it with anyone."
    )


def test_no_text_is_queued_when_the_issuing_transaction_rolls_back(db: Database, settings: Settings) -> None:
    with pytest.raises(RuntimeError), transaction(db) as session:
        issue_otp(session, otp.REGISTER, PHONE, settings=settings)
        raise RuntimeError("the registration failed after the code was made")
    assert sms_payloads(db) == []


def test_code_and_phone_are_stored_only_as_keyed_hashes(db: Database, issue: Callable) -> None:
    code = issue().code
    with db.read() as session:
        row = session.scalar(select(OneTimeCode))
    assert code not in row.code_hash
    assert PHONE not in row.phone_hash
    assert len(row.code_hash) == len(row.phone_hash) == 64


def test_invalid_phone_number_is_refused(refusal: Callable, settings: Settings) -> None:
    assert refusal(issue_otp, otp.REGISTER, "12345", settings=settings).code == "PHONE_INVALID"


def test_unknown_purpose_is_a_programming_error(run: Callable, settings: Settings) -> None:
    with pytest.raises(ValueError):
        run(issue_otp, "lottery", PHONE, settings=settings)


# ---- verification -----------------------------------------------------------------------------------

def test_right_code_is_accepted_once(run: Callable, refusal: Callable, issue: Callable) -> None:
    code = issue().code
    assert run(verify_otp, otp.REGISTER, PHONE, code) is None
    assert refusal(verify_otp, otp.REGISTER, PHONE, code).code == "OTP_USED"


def test_any_spelling_of_the_phone_number_finds_the_code(run: Callable, issue: Callable) -> None:
    code = issue(phone="+86 138 1234 5678").code
    assert run(verify_otp, otp.REGISTER, "13812345678", code) is None


def test_wrong_code_tells_the_tries_left(refusal: Callable, issue: Callable) -> None:
    code = issue().code
    errors = [refusal(verify_otp, otp.REGISTER, PHONE, other_code(code)) for _ in range(4)]
    assert [e.code for e in errors] == ["OTP_WRONG"] * 4
    assert [e.params["tries_left"] for e in errors] == [4, 3, 2, 1]


def test_fifth_wrong_try_kills_the_code(refusal: Callable, issue: Callable) -> None:
    code = issue().code
    for _ in range(4):
        refusal(verify_otp, otp.REGISTER, PHONE, other_code(code))
    assert refusal(verify_otp, otp.REGISTER, PHONE, other_code(code)).code == "OTP_TOO_MANY_TRIES"
    assert refusal(verify_otp, otp.REGISTER, PHONE, code).code == "OTP_TOO_MANY_TRIES"


def test_code_expires_after_5_minutes(run: Callable, refusal: Callable, issue: Callable,
                                      clock: time_machine.Traveller) -> None:
    first = issue(phone=PHONE).code
    second = issue(phone=OTHER_PHONE).code
    clock.shift(timedelta(minutes=4, seconds=59))
    assert run(verify_otp, otp.REGISTER, PHONE, first) is None
    clock.shift(timedelta(seconds=1))
    assert refusal(verify_otp, otp.REGISTER, OTHER_PHONE, second).code == "OTP_EXPIRED"


def test_code_for_one_purpose_does_not_serve_another(refusal: Callable, issue: Callable) -> None:
    code = issue(purpose=otp.REGISTER).code
    assert refusal(verify_otp, otp.BIND_CARD, PHONE, code).code == "OTP_NOT_REQUESTED"


def test_code_for_one_phone_does_not_serve_another(refusal: Callable, issue: Callable) -> None:
    code = issue(phone=PHONE).code
    assert refusal(verify_otp, otp.REGISTER, OTHER_PHONE, code).code == "OTP_NOT_REQUESTED"


def test_verifying_with_no_code_sent_is_refused(refusal: Callable) -> None:
    assert refusal(verify_otp, otp.REGISTER, PHONE, "123456").code == "OTP_NOT_REQUESTED"


# ---- resending --------------------------------------------------------------------------------------

def test_resend_within_60_seconds_is_refused_with_the_seconds_left(
    refusal: Callable, issue: Callable, settings: Settings, clock: time_machine.Traveller
) -> None:
    issue()
    clock.shift(timedelta(seconds=45))
    error = refusal(issue_otp, otp.REGISTER, PHONE, settings=settings)
    assert error.code == "OTP_RESEND_TOO_SOON"
    assert error.params == {"seconds": 15}


def test_resend_after_60_seconds_is_allowed(db: Database, issue: Callable, clock: time_machine.Traveller) -> None:
    issue()
    clock.shift(timedelta(seconds=60))
    with db.read() as session:
        assert resend_wait_seconds(session, otp.REGISTER, PHONE) == 0
    issue()
    assert len(sms_payloads(db)) == 2


def test_a_new_code_makes_the_old_one_stop_working(run: Callable, refusal: Callable, issue: Callable,
                                                  clock: time_machine.Traveller) -> None:
    old = issue().code
    clock.shift(timedelta(seconds=61))
    new = issue().code
    if old != new:  # one chance in a million that the new code repeats the old
        assert refusal(verify_otp, otp.REGISTER, PHONE, old).code == "OTP_WRONG"
    assert run(verify_otp, otp.REGISTER, PHONE, new) is None


def test_a_new_code_brings_fresh_tries(run: Callable, refusal: Callable, issue: Callable,
                                       clock: time_machine.Traveller) -> None:
    old = issue().code
    for _ in range(5):
        refusal(verify_otp, otp.REGISTER, PHONE, other_code(old))
    clock.shift(timedelta(seconds=61))
    new = issue().code
    assert refusal(verify_otp, otp.REGISTER, PHONE, other_code(new)).params == {"tries_left": 4}


def test_resend_gap_is_per_purpose(issue: Callable, clock: time_machine.Traveller) -> None:
    issue(purpose=otp.REGISTER)
    issue(purpose=otp.BIND_CARD)


# ---- rate limits ------------------------------------------------------------------------------------

def test_more_than_5_codes_an_hour_to_one_number_is_rate_limited(
    refusal: Callable, issue: Callable, settings: Settings, clock: time_machine.Traveller
) -> None:
    for _ in range(5):
        issue()
        clock.shift(timedelta(seconds=61))
    error = refusal(issue_otp, otp.REGISTER, PHONE, settings=settings)
    assert error.code == "RATE_LIMITED"
    # The first code leaves the hour at 02:00 (+ at most a tenth of the window for the limiter's slices).
    assert 3600 - 305 <= error.params["retry_after"] <= 3600 + 360


def test_per_number_limit_counts_every_purpose(refusal: Callable, issue: Callable, settings: Settings,
                                               clock: time_machine.Traveller) -> None:
    purposes = [otp.REGISTER, otp.LOGIN_NEW_DEVICE, otp.PASSWORD_RESET, otp.BIND_CARD, otp.CHANGE_PHONE]
    for purpose in purposes:
        issue(purpose=purpose)
    assert refusal(issue_otp, otp.PIN_RESET, PHONE, settings=settings).code == "RATE_LIMITED"


def test_more_than_20_codes_an_hour_from_one_ip_is_rate_limited(
    refusal: Callable, issue: Callable, settings: Settings, clock: time_machine.Traveller
) -> None:
    for n in range(20):
        issue(phone=f"1390000{n:04d}", ip="203.0.113.9")
    error = refusal(issue_otp, otp.REGISTER, "13911110000", ip="203.0.113.9", settings=settings)
    assert error.code == "RATE_LIMITED"
    issue(phone="13911110000", ip="198.51.100.1")


def test_rate_limits_come_from_settings(refusal: Callable, run: Callable, settings: Settings,
                                        clock: time_machine.Traveller) -> None:
    strict = settings.model_copy(update={"otp_phone_limit": 1, "otp_phone_window_seconds": 600})
    run(issue_otp, otp.REGISTER, PHONE, settings=strict)
    clock.shift(timedelta(seconds=61))
    error = refusal(issue_otp, otp.REGISTER, PHONE, settings=strict)
    assert error.code == "RATE_LIMITED"
    assert 600 - 61 <= error.params["retry_after"] <= 600 + 60


def test_a_refused_resend_does_not_use_up_the_hourly_allowance(
    refusal: Callable, issue: Callable, settings: Settings, clock: time_machine.Traveller
) -> None:
    issue()
    for _ in range(10):
        refusal(issue_otp, otp.REGISTER, PHONE, settings=settings)
    for _ in range(4):
        clock.shift(timedelta(seconds=61))
        issue()


def test_wrong_tries_are_kept_although_the_refusal_is_raised(db: Database, issue: Callable) -> None:
    code = issue().code
    with pytest.raises(QianbaoError), transaction(db) as session:
        verify_otp(session, otp.REGISTER, PHONE, other_code(code))
    with db.read() as session:
        assert session.scalar(select(OneTimeCode.tries)) == 1
        assert session.scalar(select(func.count()).select_from(OneTimeCode)) == 1
