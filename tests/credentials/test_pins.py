"""Payment PIN (SPEC §3.1 step 4, §4): the rules, keyed argon2id storage, the daily lock and the counter reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from qianbao.credentials import (
    Principal,
    change_pin,
    check_pin_rules,
    issue_otp,
    otp,
    pin_locked_until,
    reset_pin,
    reset_pin_by_staff,
    reset_pin_lock,
    set_pin,
    verify_pin,
)
from qianbao.credentials.models import PaymentPin
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

BIRTH = date(1990, 3, 15)
ID_NUMBER = "11010519900315742X"
GOOD = "285714"


def rule_code(pin: str, **kwargs: object) -> str | None:
    try:
        check_pin_rules(pin, **kwargs)  # type: ignore[arg-type]
    except QianbaoError as exc:
        return exc.code
    return None


# ---- rules ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pin", ["28571", "2857144", "28571a", "", "28 571", "٢٨٥٧١٤"])
def test_pin_that_is_not_six_digits_is_refused(pin: str) -> None:
    assert rule_code(pin) == "PIN_FORMAT"


def test_full_width_digits_are_accepted_as_digits() -> None:
    assert rule_code("２８５７１４") is None


@pytest.mark.parametrize("pin", ["000000", "111111", "999999"])
def test_six_equal_digits_are_too_simple(pin: str) -> None:
    assert rule_code(pin) == "PIN_TOO_SIMPLE"


@pytest.mark.parametrize("pin", ["012345", "123456", "456789", "987654", "654321", "543210"])
def test_runs_up_or_down_are_too_simple(pin: str) -> None:
    assert rule_code(pin) == "PIN_TOO_SIMPLE"


@pytest.mark.parametrize("pin", ["121212", "909090", "123123", "520520"])
def test_repeated_pairs_and_triples_are_too_simple(pin: str) -> None:
    assert rule_code(pin) == "PIN_TOO_SIMPLE"


@pytest.mark.parametrize("pin", ["890123", "135790", "112358", GOOD])
def test_pins_that_are_no_run_or_repeat_pass(pin: str) -> None:
    assert rule_code(pin, birth_date=BIRTH, id_number=ID_NUMBER) is None


@pytest.mark.parametrize("pin", ["900315", "031590"])
def test_birth_date_as_yymmdd_or_mmddyy_is_refused(pin: str) -> None:
    assert rule_code(pin, birth_date=BIRTH) == "PIN_IS_BIRTH_DATE"


def test_last_six_digits_of_yyyymmdd_are_the_yymmdd_form() -> None:
    assert rule_code("19900315"[-6:], birth_date=BIRTH) == "PIN_IS_BIRTH_DATE"


def test_last_six_characters_of_the_id_number_are_refused() -> None:
    assert rule_code("157421", id_number="110105199003157421") == "PIN_IS_ID_NUMBER_TAIL"


# ---- storage ----------------------------------------------------------------------------------------

def test_pin_is_stored_as_argon2id_of_a_keyed_digest(db: Database, settings: Settings, run: Callable,
                                                     alice: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    with db.read() as session:
        stored = session.scalar(select(PaymentPin.hash))
    assert stored.startswith("$argon2id$")
    # The PIN alone does not verify: the hash is over an HMAC under the keyring's key.
    from argon2 import PasswordHasher
    from argon2.exceptions import VerifyMismatchError

    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(stored, GOOD)


def test_pin_hash_copied_to_another_principal_does_not_verify(db: Database, settings: Settings, run: Callable,
                                                              refusal: Callable, alice: Principal,
                                                              bob: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    run(set_pin, bob, "718293", settings=settings)
    with db.transaction() as session:
        alice_hash = session.scalar(select(PaymentPin.hash).where(PaymentPin.principal_id == alice.id))
        session.execute(update(PaymentPin).where(PaymentPin.principal_id == bob.id).values(hash=alice_hash))
    assert refusal(verify_pin, bob, GOOD, settings=settings).code == "PIN_WRONG"


def test_second_first_pin_is_refused(settings: Settings, run: Callable, refusal: Callable, alice: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    assert refusal(set_pin, alice, "718293", settings=settings).code == "PIN_ALREADY_SET"


def test_verify_without_a_pin_is_refused(settings: Settings, refusal: Callable, alice: Principal) -> None:
    assert refusal(verify_pin, alice, GOOD, settings=settings).code == "PIN_NOT_SET"


# ---- verification and the daily lock ------------------------------------------------------------------

def test_right_pin_confirms(settings: Settings, run: Callable, alice: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    assert run(verify_pin, alice, GOOD, settings=settings) is None


def test_wrong_pin_tells_the_tries_left_today(settings: Settings, run: Callable, refusal: Callable,
                                              alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    errors = [refusal(verify_pin, alice, "718293", settings=settings) for _ in range(4)]
    assert [e.code for e in errors] == ["PIN_WRONG"] * 4
    assert [e.params["tries_left"] for e in errors] == [4, 3, 2, 1]


def test_five_wrong_pins_in_a_day_lock_payments_until_shanghai_midnight(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal,
    clock: time_machine.Traveller,
) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    for _ in range(4):
        refusal(verify_pin, alice, "718293", settings=settings)
    fifth = refusal(verify_pin, alice, "718293", settings=settings)
    assert fifth.code == "PIN_LOCKED"
    assert fifth.params == {"until": "2026-11-26 00:00"}
    assert refusal(verify_pin, alice, GOOD, settings=settings).code == "PIN_LOCKED"
    with db.read() as session:
        assert pin_locked_until(session, alice) == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def test_pin_lock_ends_at_the_next_shanghai_midnight(settings: Settings, run: Callable, refusal: Callable,
                                                     alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    for _ in range(5):
        refusal(verify_pin, alice, "718293", settings=settings)
    clock.move_to(datetime(2026, 11, 25, 15, 59, 59, tzinfo=UTC))  # 23:59:59 in Shanghai
    assert refusal(verify_pin, alice, GOOD, settings=settings).code == "PIN_LOCKED"
    clock.move_to(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # 00:00 in Shanghai
    assert run(verify_pin, alice, GOOD, settings=settings) is None
    assert refusal(verify_pin, alice, "718293", settings=settings).params == {"tries_left": 4}


def test_wrong_pins_on_different_shanghai_days_do_not_add_up(settings: Settings, run: Callable,
                                                             refusal: Callable, alice: Principal,
                                                             clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    clock.move_to(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    for _ in range(4):
        refusal(verify_pin, alice, "718293", settings=settings)
    clock.move_to(datetime(2026, 11, 25, 16, 30, tzinfo=UTC))  # 00:30 the next day in Shanghai
    assert refusal(verify_pin, alice, "718293", settings=settings).params == {"tries_left": 4}


def test_a_right_pin_does_not_clear_the_days_wrong_tries(settings: Settings, run: Callable, refusal: Callable,
                                                         alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    for _ in range(4):
        refusal(verify_pin, alice, "718293", settings=settings)
    run(verify_pin, alice, GOOD, settings=settings)
    assert refusal(verify_pin, alice, "718293", settings=settings).code == "PIN_LOCKED"


def test_counter_reset_lifts_the_pin_lock_and_records_the_teller(
    db: Database, settings: Settings, run: Callable, refusal: Callable, alice: Principal,
    clock: time_machine.Traveller,
) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    for _ in range(5):
        refusal(verify_pin, alice, "718293", settings=settings)
    run(reset_pin_lock, alice, by_staff_id=7)
    assert run(verify_pin, alice, GOOD, settings=settings) is None
    assert refusal(verify_pin, alice, "718293", settings=settings).params == {"tries_left": 4}
    with db.read() as session:
        row = session.scalar(select(PaymentPin))
        assert (row.lock_reset_by_staff_id, row.lock_reset_at) == (7, datetime.now(UTC))


def test_wrong_pins_are_rate_limited_per_ip(settings: Settings, run: Callable, refusal: Callable,
                                           alice: Principal, bob: Principal,
                                           clock: time_machine.Traveller) -> None:
    limited = settings.model_copy(update={"pin_ip_limit": 2})
    run(set_pin, alice, GOOD, settings=limited)
    run(set_pin, bob, GOOD, settings=limited)
    assert refusal(verify_pin, alice, "718293", ip="203.0.113.9", settings=limited).code == "PIN_WRONG"
    assert refusal(verify_pin, bob, "718293", ip="203.0.113.9", settings=limited).code == "PIN_WRONG"
    # the address has used up its wrong PINs: even the right one is refused from there, and no try is counted
    assert refusal(verify_pin, alice, "718293", ip="203.0.113.9", settings=limited).code == "RATE_LIMITED"
    assert refusal(verify_pin, alice, "718293", settings=limited).params == {"tries_left": 3}
    assert run(verify_pin, alice, GOOD, ip="198.51.100.7", settings=limited) is None


def test_right_pins_from_one_address_are_never_rate_limited(settings: Settings, run: Callable, refusal: Callable,
                                                            alice: Principal, bob: Principal,
                                                            clock: time_machine.Traveller) -> None:
    # many customers paying behind one carrier NAT
    limited = settings.model_copy(update={"pin_ip_limit": 2})
    run(set_pin, alice, GOOD, settings=limited)
    run(set_pin, bob, GOOD, settings=limited)
    for principal in (alice, bob, alice, bob, alice):
        assert run(verify_pin, principal, GOOD, ip="203.0.113.9", settings=limited) is None


# ---- change and reset -------------------------------------------------------------------------------

def test_change_pin_needs_the_current_pin(settings: Settings, run: Callable, refusal: Callable,
                                          alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    assert refusal(change_pin, alice, "718293", "360721", settings=settings).code == "PIN_WRONG"
    run(change_pin, alice, GOOD, "360721", settings=settings)
    assert run(verify_pin, alice, "360721", settings=settings) is None
    # The wrong current PIN above still counts toward today's lock.
    assert refusal(verify_pin, alice, GOOD, settings=settings).params == {"tries_left": 4}


def test_change_to_the_same_pin_is_refused(settings: Settings, run: Callable, refusal: Callable,
                                           alice: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    assert refusal(change_pin, alice, GOOD, GOOD, settings=settings).code == "PIN_UNCHANGED"


def test_change_pin_applies_the_rules(settings: Settings, run: Callable, refusal: Callable,
                                      alice: Principal) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    assert refusal(change_pin, alice, GOOD, "900315", birth_date=BIRTH,
                   settings=settings).code == "PIN_IS_BIRTH_DATE"


def test_reset_pin_after_an_sms_code_lifts_the_lock(settings: Settings, run: Callable, refusal: Callable,
                                                    alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    for _ in range(5):
        refusal(verify_pin, alice, "718293", settings=settings)
    code = run(issue_otp, otp.PIN_RESET, "13812345678", settings=settings).code
    run(reset_pin, alice, "360721", phone="13812345678", otp_code=code, settings=settings)
    assert run(verify_pin, alice, "360721", settings=settings) is None


def test_counter_reset_of_a_forgotten_pin(settings: Settings, run: Callable, refusal: Callable,
                                          alice: Principal, clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    run(reset_pin_by_staff, alice, "360721", by_staff_id=7, settings=settings)
    assert run(verify_pin, alice, "360721", settings=settings) is None
    assert refusal(verify_pin, alice, GOOD, settings=settings).code == "PIN_WRONG"


def test_the_lock_reaches_midnight_even_from_just_after_midnight(settings: Settings, run: Callable,
                                                                 refusal: Callable, alice: Principal,
                                                                 clock: time_machine.Traveller) -> None:
    run(set_pin, alice, GOOD, settings=settings)
    clock.move_to(datetime(2026, 11, 25, 16, 5, tzinfo=UTC))  # 00:05 on the 26th in Shanghai
    for _ in range(4):
        refusal(verify_pin, alice, "718293", settings=settings)
    assert refusal(verify_pin, alice, "718293", settings=settings).params == {"until": "2026-11-27 00:00"}
    clock.shift(timedelta(hours=23, minutes=54))
    assert refusal(verify_pin, alice, GOOD, settings=settings).code == "PIN_LOCKED"
