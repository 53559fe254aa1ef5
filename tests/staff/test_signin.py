"""Staff sign-in steps (qianbao.staff.signin): password, second factor, one-time password, and reading a
staff session back with its role and branch."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from qianbao import audit, credentials
from qianbao.credentials import Principal
from qianbao.staff import create_branch, create_staff, disable_staff, signin
from qianbao.staff.models import StaffMember

OPERATOR = audit.Actor.staff(900, None)


@pytest.fixture
def teller(run, settings):  # type: ignore[no-untyped-def]
    run(create_branch, code="0101", name_zh="西城支行", name_en="Xicheng", address="路", by=OPERATOR, channel="system")
    return run(create_staff, employee_no="T0101", name="王柜员", role="teller", branch_code="0101", by=OPERATOR,
               channel="system", settings=settings)


def _member(db, staff_id: int) -> StaffMember:  # type: ignore[no-untyped-def]
    with db.read() as session:
        member = session.get(StaffMember, staff_id)
        assert member is not None
        return member


def test_the_right_password_of_an_active_account_passes(run, teller) -> None:  # type: ignore[no-untyped-def]
    assert run(signin.check_password, "t0101", teller.initial_password).id == teller.member.id


def test_a_wrong_password_and_an_unknown_number_get_the_same_staff_refusal(refusal, teller) -> None:  # type: ignore[no-untyped-def]
    assert refusal(signin.check_password, "T0101", "not-the-password").code == "STAFF_LOGIN_FAILED"
    assert refusal(signin.check_password, "T9999", "not-the-password").code == "STAFF_LOGIN_FAILED"


def test_five_wrong_passwords_lock_sign_in_for_fifteen_minutes(refusal, run, teller, clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert refusal(signin.check_password, "T0101", "wrong-one").code == "STAFF_LOGIN_FAILED"
    locked = refusal(signin.check_password, "T0101", "wrong-one")
    assert (locked.code, locked.params) == ("LOGIN_LOCKED", {"minutes": 15})
    assert refusal(signin.check_password, "T0101", teller.initial_password).code == "LOGIN_LOCKED"
    clock.shift(timedelta(minutes=15))
    assert run(signin.check_password, "T0101", teller.initial_password).id == teller.member.id


def test_a_disabled_account_is_told_so_only_with_the_right_password(run, refusal, teller) -> None:  # type: ignore[no-untyped-def]
    run(disable_staff, teller.member.id, reason="离职", by=OPERATOR, channel="ops")
    assert refusal(signin.check_password, "T0101", "wrong-one").code == "STAFF_LOGIN_FAILED"
    assert refusal(signin.check_password, "T0101", teller.initial_password).code == "STAFF_DISABLED"


def test_the_first_code_confirms_the_pending_enrolment_and_later_codes_verify(run, refusal, db, teller, clock) -> None:  # type: ignore[no-untyped-def]
    member = _member(db, teller.member.id)
    totp = pyotp.TOTP(teller.totp.secret)
    assert run(signin.totp_enrolment_pending, member) is True
    run(signin.check_second_factor, member, totp.now())
    assert run(signin.totp_enrolled, member) is True
    assert run(signin.totp_enrolment_pending, member) is False
    assert refusal(signin.check_second_factor, member, totp.now()).code == "TOTP_CODE_USED"
    clock.shift(timedelta(seconds=30))
    run(signin.check_second_factor, member, totp.now())


def test_a_wrong_code_is_counted(refusal, db, teller) -> None:  # type: ignore[no-untyped-def]
    error = refusal(signin.check_second_factor, _member(db, teller.member.id), "000000")
    assert (error.code, error.params) == ("TOTP_WRONG", {"tries_left": 4})


def test_changing_the_one_time_password_clears_the_obligation(run, db, teller) -> None:  # type: ignore[no-untyped-def]
    def change(session):  # type: ignore[no-untyped-def]
        member = session.get(StaffMember, teller.member.id)
        signin.change_initial_password(session, member, teller.initial_password, "Wang-Own-Pass-77")

    run(change)
    assert _member(db, teller.member.id).password_must_change is False
    run(credentials.verify_login, Principal.staff(teller.member.id), "Wang-Own-Pass-77")


def _open(run, db, teller, *, pending: bool = False) -> str:  # type: ignore[no-untyped-def]
    def start(session):  # type: ignore[no-untyped-def]
        member = session.get(StaffMember, teller.member.id)
        return (signin.start_pending(session, member) if pending else signin.open_session(session, member)).token

    return run(start)


def test_a_signed_in_session_carries_role_and_branch(run, db, teller) -> None:  # type: ignore[no-untyped-def]
    token = _open(run, db, teller)
    resolved = run(signin.resolve, token)
    assert resolved.staff is not None
    staff = resolved.staff
    assert (staff.stage, staff.role, staff.branch_code, staff.branch_name("en"), staff.session.role,
            staff.session.branch_id) == ("signed_in", "teller", "0101", "Xicheng", "teller", teller.member.branch_id)


def test_a_session_after_the_password_alone_is_only_pending(run, db, teller) -> None:  # type: ignore[no-untyped-def]
    resolved = run(signin.resolve, _open(run, db, teller, pending=True))
    assert resolved.staff is not None and resolved.staff.stage == "second_factor"
    assert resolved.staff.session.role is None


def test_disabling_an_account_ends_a_session_read_afterwards(run, db, teller) -> None:  # type: ignore[no-untyped-def]
    token = _open(run, db, teller)
    run(disable_staff, teller.member.id, reason="离职", by=OPERATOR, channel="ops")
    assert run(signin.resolve, token).staff is None


def test_a_session_from_before_a_change_of_role_no_longer_counts(run, db, teller) -> None:  # type: ignore[no-untyped-def]
    token = _open(run, db, teller)
    with db.transaction() as session:
        session.get(StaffMember, teller.member.id).role = "supervisor"  # type: ignore[union-attr]
    assert run(signin.resolve, token).staff is None
    assert run(credentials.authenticate, token) is None, "the stale session was ended"


def test_a_customer_session_is_not_a_staff_session(run) -> None:  # type: ignore[no-untyped-def]
    started = run(credentials.start_session, Principal.customer(1))
    assert run(signin.resolve, started.token).staff is None


def test_an_idle_session_resolves_to_nobody_and_says_it_expired(run, db, teller, clock) -> None:  # type: ignore[no-untyped-def]
    token = _open(run, db, teller)
    clock.shift(timedelta(minutes=15))
    resolved = run(signin.resolve, token)
    assert (resolved.staff, resolved.expired) == (None, True)
