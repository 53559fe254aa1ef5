"""Login passwords (SPEC §3.1, §4): the rules, argon2id storage, the 5-try lockout, change and reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from qianbao.credentials import (
    CredentialFailure,
    Principal,
    change_password,
    check_password_rules,
    is_common_password,
    issue_otp,
    login_locked_until,
    otp,
    reset_password,
    reset_password_by_staff,
    set_password,
    start_session,
    transaction,
    verify_login,
)
from qianbao.credentials.models import LoginPassword
from qianbao.credentials.passwords import common_passwords
from qianbao.credentials.sessions import authenticate
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

PHONE = "13812345678"
BIRTH = date(1990, 3, 15)
GOOD = "Lantern-Harbour-42"


def rule_code(password: str, **kwargs: Any) -> str | None:
    try:
        check_password_rules(password, **kwargs)
    except QianbaoError as exc:
        return exc.code
    return None


# ---- rules ------------------------------------------------------------------------------------------

def test_password_shorter_than_8_characters_is_refused() -> None:
    with pytest.raises(QianbaoError) as caught:
        check_password_rules("Qz7#kLm")
    assert caught.value.code == "PASSWORD_TOO_SHORT"
    assert caught.value.params == {"min_length": 8}
    assert rule_code("Qz7#kLmP") is None


def test_password_longer_than_128_characters_is_refused() -> None:
    long_passphrase = "".join(f"{i:03d}{chr(97 + i % 26)}" for i in range(32))
    assert len(long_passphrase) == 128
    assert rule_code(long_passphrase) is None
    assert rule_code(long_passphrase + "x") == "PASSWORD_TOO_LONG"


def test_password_containing_the_phone_number_is_refused() -> None:
    assert rule_code(f"zq{PHONE}", phone=PHONE) == "PASSWORD_CONTAINS_PHONE"
    assert rule_code(PHONE, phone="+86 138 1234 5678") == "PASSWORD_CONTAINS_PHONE"
    assert rule_code(GOOD, phone=PHONE) is None


@pytest.mark.parametrize("password", ["19900315", "x900315yz!", "qq031590ab", "Tea-1990.03.15", "pw 90 03 15 ok"])
def test_password_containing_the_birth_date_is_refused(password: str) -> None:
    assert rule_code(password, birth_date=BIRTH) == "PASSWORD_CONTAINS_BIRTH_DATE"


def test_password_without_the_birth_date_passes_the_birth_date_rule() -> None:
    assert rule_code(GOOD, birth_date=BIRTH) is None


def test_shipped_common_password_list_holds_at_least_10000_passwords() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    assert {"123456", "password", "qwerty", "iloveyou", "dearbook", "5201314"} <= words


@pytest.mark.parametrize("password", ["password1", "PASSWORD1", "Password1", "iloveyou", "baseball1", "Sunshine1"])
def test_password_on_the_common_list_is_refused_whatever_its_case(password: str) -> None:
    assert rule_code(password) == "PASSWORD_TOO_COMMON"


@pytest.mark.parametrize(
    "password",
    ["woaini1314", "WoAiNi520", "qq123456", "QQ5201314", "a12345678", "abc123456", "1314woaini", "aini1314520",
     "zhang888888", "wang19880808", "woainiwoaini", "iloveyou1314"],
)
def test_common_chinese_patterns_are_refused(password: str) -> None:
    assert rule_code(password) == "PASSWORD_TOO_COMMON"


@pytest.mark.parametrize("password", ["88888888", "66666666", "12121212", "abcabcabc", "passpass"])
def test_repeated_characters_or_groups_are_refused(password: str) -> None:
    assert rule_code(password) == "PASSWORD_TOO_COMMON"


@pytest.mark.parametrize("password", ["23456789", "98765432", "abcdefgh", "qwertyui", "1qaz2wsx3e", "20011009"])
def test_runs_keyboard_walks_and_dates_are_refused(password: str) -> None:
    assert rule_code(password) == "PASSWORD_TOO_COMMON"


@pytest.mark.parametrize("password", [GOOD, "Mei-hua 2 bridges", "tu7Xq9wLp", "冬天的湖面结了冰"])
def test_uncommon_passwords_pass_every_rule(password: str) -> None:
    assert not is_common_password(password)
    assert rule_code(password, phone=PHONE, birth_date=BIRTH) is None


def test_full_width_characters_count_as_their_ascii_forms() -> None:
    assert rule_code("ｗｏａｉｎｉ１３１４") == "PASSWORD_TOO_COMMON"


# ---- storage ----------------------------------------------------------------------------------------

def test_password_is_stored_as_argon2id_only(db: Database, settings: Settings, run: Callable, alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    with db.read() as session:
        stored = session.scalar(select(LoginPassword.hash))
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert GOOD not in stored


def test_default_argon2_parameters_are_rfc9106_low_memory() -> None:
    defaults = Settings()
    assert (defaults.argon2_time_cost, defaults.argon2_memory_kib, defaults.argon2_parallelism) == (3, 65536, 4)


def test_hash_is_upgraded_at_sign_in_when_parameters_change(
    db: Database, settings: Settings, run: Callable, alice: Principal
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    stronger = settings.model_copy(update={"argon2_time_cost": 2, "argon2_memory_kib": 2048})
    run(verify_login, alice, GOOD, settings=stronger)
    with db.read() as session:
        stored = session.scalar(select(LoginPassword.hash))
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    run(verify_login, alice, GOOD, settings=stronger)


def test_setting_a_second_first_password_is_refused(settings: Settings, run: Callable, refusal: Callable,
                                                    alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    assert refusal(set_password, alice, "Another-Lantern-7", settings=settings).code == "PASSWORD_ALREADY_SET"


def test_set_password_applies_the_rules(settings: Settings, refusal: Callable, alice: Principal) -> None:
    assert refusal(set_password, alice, PHONE + "x", phone=PHONE, settings=settings).code == "PASSWORD_CONTAINS_PHONE"


# ---- sign-in and lockout ----------------------------------------------------------------------------

def test_right_password_signs_in(settings: Settings, run: Callable, alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    assert run(verify_login, alice, GOOD, settings=settings) is None


def test_wrong_password_is_refused_with_login_failed(settings: Settings, run: Callable, refusal: Callable,
                                                     alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    error = refusal(verify_login, alice, "wrong-password", settings=settings)
    assert error.code == "LOGIN_FAILED"
    assert isinstance(error, CredentialFailure)


def test_unknown_account_gets_the_same_login_failed(settings: Settings, refusal: Callable) -> None:
    assert refusal(verify_login, None, GOOD, settings=settings).code == "LOGIN_FAILED"


def test_five_wrong_passwords_lock_login_for_15_minutes(
    settings: Settings, run: Callable, refusal: Callable, alice: Principal, clock: time_machine.Traveller
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    codes = [refusal(verify_login, alice, f"wrong-{i}", settings=settings).code for i in range(5)]
    assert codes == ["LOGIN_FAILED"] * 4 + ["LOGIN_LOCKED"]
    locked = refusal(verify_login, alice, GOOD, settings=settings)
    assert locked.code == "LOGIN_LOCKED"
    assert locked.params == {"minutes": 15}


def test_login_locked_tells_the_minutes_remaining(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal,
    clock: time_machine.Traveller,
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(5):
        refusal(verify_login, alice, f"wrong-{i}", settings=settings)
    clock.shift(timedelta(minutes=10, seconds=30))
    assert refusal(verify_login, alice, GOOD, settings=settings).params == {"minutes": 5}
    with db.read() as session:
        assert login_locked_until(session, alice) is not None


def test_login_lock_ends_after_15_minutes(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal,
    clock: time_machine.Traveller,
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(5):
        refusal(verify_login, alice, f"wrong-{i}", settings=settings)
    clock.shift(timedelta(minutes=14, seconds=59))
    assert refusal(verify_login, alice, GOOD, settings=settings).code == "LOGIN_LOCKED"
    clock.shift(timedelta(seconds=1))
    with db.read() as session:
        assert login_locked_until(session, alice) is None
    assert run(verify_login, alice, GOOD, settings=settings) is None


def test_successful_sign_in_resets_the_failure_count(
    settings: Settings, run: Callable, refusal: Callable, alice: Principal, clock: time_machine.Traveller
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(4):
        refusal(verify_login, alice, f"wrong-{i}", settings=settings)
    run(verify_login, alice, GOOD, settings=settings)
    codes = [refusal(verify_login, alice, f"again-{i}", settings=settings).code for i in range(4)]
    assert codes == ["LOGIN_FAILED"] * 4


def test_failures_are_kept_although_the_refusal_is_raised(db: Database, settings: Settings, run: Callable,
                                                          alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    with pytest.raises(CredentialFailure), transaction(db) as session:
        verify_login(session, alice, "wrong-password", settings=settings)
    with db.read() as session:
        assert session.scalar(select(LoginPassword.failed_count)) == 1


def test_other_errors_in_a_credentials_transaction_roll_back(db: Database, settings: Settings,
                                                             alice: Principal) -> None:
    with pytest.raises(RuntimeError), transaction(db) as session:
        set_password(session, alice, GOOD, settings=settings)
        raise RuntimeError("boom")
    with db.read() as session:
        assert session.scalar(select(LoginPassword.id)) is None


def test_sign_in_attempts_are_rate_limited_per_ip(settings: Settings, run: Callable, refusal: Callable,
                                                  alice: Principal, bob: Principal,
                                                  clock: time_machine.Traveller) -> None:
    limited = settings.model_copy(update={"login_ip_limit": 3})
    run(set_password, alice, GOOD, settings=limited)
    run(verify_login, alice, GOOD, ip="203.0.113.9", settings=limited)
    refusal(verify_login, bob, GOOD, ip="203.0.113.9", settings=limited)
    refusal(verify_login, None, GOOD, ip="203.0.113.9", settings=limited)
    error = refusal(verify_login, alice, GOOD, ip="203.0.113.9", settings=limited)
    assert error.code == "RATE_LIMITED"
    assert error.params["retry_after"] > 0
    assert run(verify_login, alice, GOOD, ip="198.51.100.1", settings=limited) is None


# ---- change -----------------------------------------------------------------------------------------

def test_change_password_needs_the_old_one(settings: Settings, run: Callable, refusal: Callable,
                                           alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    error = refusal(change_password, alice, "not-the-password", "Fresh-Orchard-88", settings=settings)
    assert error.code == "PASSWORD_OLD_WRONG"
    assert error.params == {"tries_left": 4}
    run(change_password, alice, GOOD, "Fresh-Orchard-88", settings=settings)
    assert refusal(verify_login, alice, GOOD, settings=settings).code == "LOGIN_FAILED"
    assert run(verify_login, alice, "Fresh-Orchard-88", settings=settings) is None


def test_wrong_old_passwords_count_toward_the_login_lock(settings: Settings, run: Callable, refusal: Callable,
                                                         alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(4):
        refusal(change_password, alice, f"wrong-{i}", "Fresh-Orchard-88", settings=settings)
    assert refusal(verify_login, alice, "wrong-again", settings=settings).code == "LOGIN_LOCKED"


def test_change_to_the_same_password_is_refused(settings: Settings, run: Callable, refusal: Callable,
                                                alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    assert refusal(change_password, alice, GOOD, GOOD, settings=settings).code == "PASSWORD_UNCHANGED"


def test_change_to_a_weak_password_is_refused_without_counting_a_try(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    assert refusal(change_password, alice, "wrong", "woaini1314", settings=settings).code == "PASSWORD_TOO_COMMON"
    with db.read() as session:
        assert session.scalar(select(LoginPassword.failed_count)) == 0


def test_change_password_signs_out_the_other_sessions(db: Database, settings: Settings, run: Callable,
                                                      alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    here = run(start_session, alice, settings=settings)
    elsewhere = run(start_session, alice, settings=settings)
    run(change_password, alice, GOOD, "Fresh-Orchard-88", keep_session_id=here.public_id, settings=settings)
    assert run(authenticate, here.token, settings=settings) is not None
    assert run(authenticate, elsewhere.token, settings=settings) is None


# ---- reset ------------------------------------------------------------------------------------------

def test_reset_after_an_sms_code_replaces_the_password_and_lifts_the_lock(
    settings: Settings, run: Callable, refusal: Callable, alice: Principal, clock: time_machine.Traveller
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(5):
        refusal(verify_login, alice, f"wrong-{i}", settings=settings)
    session_before = run(start_session, alice, settings=settings)
    code = run(issue_otp, otp.PASSWORD_RESET, PHONE, settings=settings).code
    run(reset_password, alice, "Fresh-Orchard-88", phone=PHONE, otp_code=code, settings=settings)
    assert run(verify_login, alice, "Fresh-Orchard-88", settings=settings) is None
    assert run(authenticate, session_before.token, settings=settings) is None


def test_reset_with_a_wrong_code_keeps_the_old_password(settings: Settings, run: Callable, refusal: Callable,
                                                        alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    code = run(issue_otp, otp.PASSWORD_RESET, PHONE, settings=settings).code
    wrong = "000000" if code != "000000" else "111111"
    error = refusal(reset_password, alice, "Fresh-Orchard-88", phone=PHONE, otp_code=wrong, settings=settings)
    assert error.code == "OTP_WRONG"
    assert run(verify_login, alice, GOOD, settings=settings) is None


def test_reset_needs_a_code_for_the_reset_purpose(settings: Settings, run: Callable, refusal: Callable,
                                                  alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    code = run(issue_otp, otp.REGISTER, PHONE, settings=settings).code
    error = refusal(reset_password, alice, "Fresh-Orchard-88", phone=PHONE, otp_code=code, settings=settings)
    assert error.code == "OTP_NOT_REQUESTED"


def test_reset_to_a_weak_password_does_not_use_up_the_code(settings: Settings, run: Callable, refusal: Callable,
                                                           alice: Principal) -> None:
    run(set_password, alice, GOOD, settings=settings)
    code = run(issue_otp, otp.PASSWORD_RESET, PHONE, settings=settings).code
    assert refusal(reset_password, alice, "12345678", phone=PHONE, otp_code=code,
                   settings=settings).code == "PASSWORD_TOO_COMMON"
    run(reset_password, alice, "Fresh-Orchard-88", phone=PHONE, otp_code=code, settings=settings)


def test_counter_reset_by_staff_sets_a_new_password_and_records_the_teller(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal,
    clock: time_machine.Traveller,
) -> None:
    run(set_password, alice, GOOD, settings=settings)
    for i in range(5):
        refusal(verify_login, alice, f"wrong-{i}", settings=settings)
    run(reset_password_by_staff, alice, "Fresh-Orchard-88", by_staff_id=7, settings=settings)
    assert run(verify_login, alice, "Fresh-Orchard-88", settings=settings) is None
    with db.read() as session:
        assert session.scalar(select(LoginPassword.reset_by_staff_id)) == 7
