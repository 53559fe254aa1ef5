"""Dynamic password (SPEC §4): TOTP enrolled by QR code, ±1 step, a used step never accepted twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import time_machine
from sqlalchemy import select, text

from qianbao.credentials import (
    Principal,
    begin_totp_enrolment,
    confirm_totp_enrolment,
    disable_totp,
    has_totp,
    qr_png,
    qr_svg,
    remove_totp,
    verify_totp,
)
from qianbao.credentials.models import TotpSecret
from qianbao.db import Database

STEP = timedelta(seconds=30)


def code_at(secret: str, offset_steps: int = 0) -> str:
    """What the authenticator app shows `offset_steps` steps from now."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + offset_steps)


@pytest.fixture
def enrolled(run: Callable, alice: Principal, clock: time_machine.Traveller) -> str:
    """Alice with a confirmed enrolment; returns the shared secret. The clock then moves to a later step."""
    enrolment = run(begin_totp_enrolment, alice, account_name="138****5678")
    run(confirm_totp_enrolment, alice, code_at(enrolment.secret))
    clock.shift(STEP)
    return enrolment.secret


# ---- enrolment --------------------------------------------------------------------------------------

def test_enrolment_gives_a_provisioning_uri_for_authenticator_apps(run: Callable, alice: Principal) -> None:
    enrolment = run(begin_totp_enrolment, alice, account_name="138****5678")
    uri = urlparse(enrolment.uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolment.secret]
    assert query["issuer"] == ["Qianbao 钱包"]
    assert len(enrolment.secret) == 32  # base32 of 160 bits
    assert enrolment.grouped_secret.replace(" ", "") == enrolment.secret


def test_enrolment_qr_code_comes_as_png_and_svg(run: Callable, alice: Principal) -> None:
    uri = run(begin_totp_enrolment, alice, account_name="138****5678").uri
    assert qr_png(uri).startswith(b"\x89PNG\r\n\x1a\n")
    svg = qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_enrolment_is_pending_until_a_first_code_confirms_it(db: Database, run: Callable, refusal: Callable,
                                                             alice: Principal, clock: time_machine.Traveller) -> None:
    secret = run(begin_totp_enrolment, alice, account_name="138****5678").secret
    with db.read() as session:
        assert not has_totp(session, alice)
    assert refusal(verify_totp, alice, code_at(secret)).code == "TOTP_NOT_ENROLLED"
    run(confirm_totp_enrolment, alice, code_at(secret))
    with db.read() as session:
        assert has_totp(session, alice)


def test_confirmation_with_a_wrong_code_is_refused(run: Callable, refusal: Callable, alice: Principal,
                                                  clock: time_machine.Traveller) -> None:
    secret = run(begin_totp_enrolment, alice, account_name="138****5678").secret
    wrong = f"{(int(code_at(secret)) + 1) % 1_000_000:06d}"
    assert refusal(confirm_totp_enrolment, alice, wrong).code == "TOTP_WRONG"


def test_restarting_a_pending_enrolment_replaces_the_secret(run: Callable, refusal: Callable, alice: Principal,
                                                            clock: time_machine.Traveller) -> None:
    first = run(begin_totp_enrolment, alice, account_name="138****5678").secret
    second = run(begin_totp_enrolment, alice, account_name="138****5678").secret
    assert first != second
    run(confirm_totp_enrolment, alice, code_at(second))


def test_enrolling_twice_is_refused(run: Callable, refusal: Callable, alice: Principal, enrolled: str) -> None:
    assert refusal(begin_totp_enrolment, alice, account_name="x").code == "TOTP_ALREADY_ENROLLED"


def test_secret_is_stored_encrypted(db: Database, alice: Principal, enrolled: str) -> None:
    with db.read() as session:
        raw = session.execute(text("SELECT secret FROM credential_totp")).scalar_one()
        decrypted = session.scalar(select(TotpSecret.secret))
    assert raw.startswith("v1:") and enrolled not in raw
    assert decrypted == enrolled


# ---- verification -----------------------------------------------------------------------------------

def test_current_code_is_accepted(run: Callable, alice: Principal, enrolled: str) -> None:
    assert run(verify_totp, alice, code_at(enrolled)) is None


@pytest.mark.parametrize("offset", [-1, 1])
def test_code_one_step_either_side_is_accepted(run: Callable, alice: Principal, enrolled: str,
                                               clock: time_machine.Traveller, offset: int) -> None:
    clock.shift(STEP * 2)
    assert run(verify_totp, alice, code_at(enrolled, offset)) is None


@pytest.mark.parametrize("offset", [-2, 2])
def test_code_two_steps_away_is_refused(refusal: Callable, alice: Principal, enrolled: str,
                                        clock: time_machine.Traveller, offset: int) -> None:
    clock.shift(STEP * 3)
    assert refusal(verify_totp, alice, code_at(enrolled, offset)).code == "TOTP_WRONG"


def test_a_used_code_is_never_accepted_twice(run: Callable, refusal: Callable, alice: Principal,
                                             enrolled: str, clock: time_machine.Traveller) -> None:
    code = code_at(enrolled)
    run(verify_totp, alice, code)
    assert refusal(verify_totp, alice, code).code == "TOTP_CODE_USED"
    clock.shift(timedelta(seconds=29))  # still within the ±1 window of the used step
    assert refusal(verify_totp, alice, code).code == "TOTP_CODE_USED"


def test_a_code_older_than_the_last_used_one_is_refused(run: Callable, refusal: Callable, alice: Principal,
                                                        enrolled: str, clock: time_machine.Traveller) -> None:
    clock.shift(STEP * 2)
    earlier = code_at(enrolled, -1)
    run(verify_totp, alice, code_at(enrolled))
    assert refusal(verify_totp, alice, earlier).code == "TOTP_CODE_USED"


def test_the_enrolment_code_cannot_be_used_again(refusal: Callable, run: Callable, alice: Principal,
                                                 clock: time_machine.Traveller) -> None:
    secret = run(begin_totp_enrolment, alice, account_name="138****5678").secret
    code = code_at(secret)
    run(confirm_totp_enrolment, alice, code)
    assert refusal(verify_totp, alice, code).code == "TOTP_CODE_USED"


def test_wrong_code_tells_the_tries_left(refusal: Callable, alice: Principal, enrolled: str) -> None:
    wrong = f"{(int(code_at(enrolled)) + 1) % 1_000_000:06d}"
    error = refusal(verify_totp, alice, wrong)
    assert (error.code, error.params) == ("TOTP_WRONG", {"tries_left": 4})


def test_five_wrong_codes_lock_the_dynamic_password_for_15_minutes(
    run: Callable, refusal: Callable, alice: Principal, enrolled: str, clock: time_machine.Traveller
) -> None:
    wrong = f"{(int(code_at(enrolled)) + 1) % 1_000_000:06d}"
    codes = [refusal(verify_totp, alice, wrong).code for _ in range(5)]
    assert codes == ["TOTP_WRONG"] * 4 + ["TOTP_LOCKED"]
    assert refusal(verify_totp, alice, code_at(enrolled)).params == {"minutes": 15}
    clock.shift(timedelta(minutes=15))
    assert run(verify_totp, alice, code_at(enrolled)) is None


def test_verify_without_enrolment_is_refused(refusal: Callable, bob: Principal) -> None:
    assert refusal(verify_totp, bob, "123456").code == "TOTP_NOT_ENROLLED"


# ---- turning it off ---------------------------------------------------------------------------------

def test_disabling_needs_a_current_code(db: Database, run: Callable, refusal: Callable, alice: Principal,
                                        enrolled: str) -> None:
    wrong = f"{(int(code_at(enrolled)) + 1) % 1_000_000:06d}"
    assert refusal(disable_totp, alice, wrong).code == "TOTP_WRONG"
    run(disable_totp, alice, code_at(enrolled))
    with db.read() as session:
        assert not has_totp(session, alice)


def test_an_operator_can_remove_an_enrolment_without_a_code(db: Database, run: Callable, alice: Principal,
                                                            enrolled: str) -> None:
    assert run(remove_totp, alice) is True
    with db.read() as session:
        assert not has_totp(session, alice)
    assert run(remove_totp, alice) is False
