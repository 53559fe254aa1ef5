"""Staff accounts: created with a role, a branch for branch staff, a one-time password and a TOTP enrolment;
disabled with a reason; password and TOTP reset by an operator. Every change audited."""

from __future__ import annotations

import pyotp
import pytest

from qianbao import audit, credentials
from qianbao.credentials import Principal
from qianbao.staff import create_branch, create_staff, disable_staff, get_staff, list_staff, reset_password, reset_totp
from qianbao.staff.members import generate_password

OPERATOR = audit.Actor.staff(900, None)


@pytest.fixture
def branches(run) -> None:  # type: ignore[no-untyped-def]
    for code, name in (("0101", "西城支行"), ("0102", "黄浦支行")):
        run(create_branch, code=code, name_zh=name, name_en=f"Branch {code}", address="路", by=OPERATOR,
            channel="system")


def _create(run, settings, employee_no="T0101", role="teller", branch_code="0101", name="王柜员"):  # type: ignore[no-untyped-def]
    return run(create_staff, employee_no=employee_no, name=name, role=role, branch_code=branch_code, by=OPERATOR,
               channel="ops", settings=settings)


def test_a_teller_is_created_in_a_branch_with_a_one_time_password_and_a_totp_enrolment(
    run, settings, branches  # type: ignore[no-untyped-def]
) -> None:
    created = _create(run, settings, employee_no=" t0101 ")
    member = created.member
    assert (member.employee_no, member.role, member.active, member.password_must_change) == ("T0101", "teller",
                                                                                          True, True)
    run(credentials.verify_login, Principal.staff(member.id), created.initial_password)
    assert created.totp.uri.startswith("otpauth://totp/") and "T0101" in created.totp.uri
    # The enrolment waits for the first code.
    assert run(credentials.has_totp, Principal.staff(member.id)) is False
    run(credentials.confirm_totp_enrolment, Principal.staff(member.id), pyotp.TOTP(created.totp.secret).now())
    assert run(credentials.has_totp, Principal.staff(member.id)) is True


def test_the_one_time_password_is_random_readable_and_passes_the_password_rules() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        credentials.check_password_rules(password)
        assert len(password) == 14 and password[4] == password[9] == "-"
        assert not set(password) & set("0O1lI")


def test_operators_and_auditors_may_sit_at_head_office(run, settings) -> None:  # type: ignore[no-untyped-def]
    operator = _create(run, settings, employee_no="OP001", role="operator", branch_code=None).member
    auditor = _create(run, settings, employee_no="AU001", role="auditor", branch_code=None).member
    assert operator.branch_id is None and auditor.branch_id is None


@pytest.mark.parametrize("role", ["teller", "supervisor"])
def test_tellers_and_supervisors_need_a_branch(refusal, settings, role: str) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_staff, employee_no="X001", name="某人", role=role, branch_code=None, by=OPERATOR,
                    channel="ops", settings=settings)
    assert (error.code, error.params) == ("STAFF_BRANCH_REQUIRED", {"role": role})


def test_a_role_outside_the_four_is_refused(refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_staff, employee_no="X001", name="某人", role="admin", branch_code="0101", by=OPERATOR,
                    channel="ops", settings=settings)
    assert error.code == "STAFF_ROLE_INVALID"
    assert error.params["roles"] == "teller, supervisor, operator, auditor"


def test_an_unknown_branch_is_refused(refusal, settings) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_staff, employee_no="X001", name="某人", role="teller", branch_code="0999", by=OPERATOR,
                    channel="ops", settings=settings)
    assert error.code == "BRANCH_NOT_FOUND"


@pytest.mark.parametrize("number", ["AB", "A" * 17, "T-0101", "王01", ""])
def test_an_employee_number_is_three_to_sixteen_letters_or_digits(refusal, settings, branches, number: str) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_staff, employee_no=number, name="某人", role="teller", branch_code="0101", by=OPERATOR,
                    channel="ops", settings=settings)
    assert error.code == "STAFF_NUMBER_INVALID"


def test_an_employee_number_is_taken_once_whatever_its_case(run, refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    _create(run, settings, employee_no="T0101")
    error = refusal(create_staff, employee_no="t0101", name="另一人", role="teller", branch_code="0101",
                    by=OPERATOR, channel="ops", settings=settings)
    assert (error.code, error.params) == ("STAFF_NUMBER_TAKEN", {"employee_no": "T0101"})


def test_a_name_is_required(refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_staff, employee_no="T0101", name="  ", role="teller", branch_code="0101", by=OPERATOR,
                    channel="ops", settings=settings)
    assert error.code == "STAFF_NAME_INVALID"


def test_a_refused_creation_leaves_no_account_and_no_audit_entry(refusal, run, settings, audit_actions) -> None:  # type: ignore[no-untyped-def]
    refusal(create_staff, employee_no="T0101", name="王柜员", role="teller", branch_code="0999", by=OPERATOR,
            channel="ops", settings=settings)
    assert run(list_staff) == []
    assert audit_actions() == []


def test_creation_is_audited_with_the_acting_operator(run, settings, branches, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from qianbao.audit.models import AuditEntry

    member = _create(run, settings).member
    with db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.created")).one()
    assert (entry.actor_type, entry.actor_id, entry.channel, entry.object_id) == ("staff", "900", "ops",
                                                                               str(member.id))
    assert entry.details == {"employee_no": "T0101", "role": "teller", "branch": "0101"}


def test_disabling_an_account_ends_its_sessions_and_is_audited(run, settings, branches, audit_actions) -> None:  # type: ignore[no-untyped-def]
    member = _create(run, settings).member
    run(credentials.start_session, Principal.staff(member.id), role="teller", branch_id=member.branch_id)
    run(disable_staff, member.id, reason="离职", by=OPERATOR, channel="ops", by_staff_id=900)
    disabled = run(get_staff, member.id)
    assert (disabled.active, disabled.disabled_reason, disabled.disabled_by) == (False, "离职", 900)
    assert run(credentials.list_sessions, Principal.staff(member.id)) == []
    assert audit_actions()[-1] == ("staff.disabled", "success", str(member.id))


def test_disabling_needs_a_reason(run, refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    member = _create(run, settings).member
    assert refusal(disable_staff, member.id, reason=" ", by=OPERATOR, channel="ops").code == "STAFF_REASON_REQUIRED"


def test_an_operator_cannot_disable_their_own_account(run, refusal, settings) -> None:  # type: ignore[no-untyped-def]
    member = _create(run, settings, employee_no="OP001", role="operator", branch_code=None).member
    error = refusal(disable_staff, member.id, reason="测试", by=OPERATOR, channel="ops", by_staff_id=member.id)
    assert error.code == "STAFF_CANNOT_DISABLE_SELF"


def test_an_account_is_disabled_once(run, refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    member = _create(run, settings).member
    run(disable_staff, member.id, reason="离职", by=OPERATOR, channel="ops")
    error = refusal(disable_staff, member.id, reason="离职", by=OPERATOR, channel="ops")
    assert error.code == "STAFF_ALREADY_DISABLED"


def test_a_password_reset_gives_a_new_one_time_password_lifts_the_lock_and_ends_sessions(
    run, refusal, settings, branches, audit_actions  # type: ignore[no-untyped-def]
) -> None:
    created = _create(run, settings)
    principal = Principal.staff(created.member.id)
    for _ in range(5):
        refusal(credentials.verify_login, principal, "wrong-password")
    assert run(credentials.login_locked_until, principal) is not None
    run(credentials.start_session, principal, role="teller", branch_id=created.member.branch_id)

    password = run(reset_password, created.member.id, by=OPERATOR, channel="ops", by_staff_id=900, settings=settings)

    assert password != created.initial_password
    assert run(credentials.login_locked_until, principal) is None
    run(credentials.verify_login, principal, password)
    assert refusal(credentials.verify_login, principal, created.initial_password).code == "LOGIN_FAILED"
    assert run(get_staff, created.member.id).password_must_change is True
    assert run(credentials.list_sessions, principal) == []
    assert audit_actions()[-1] == ("staff.password_reset", "success", str(created.member.id))


def test_a_totp_reset_removes_the_factor_and_ends_sessions(run, settings, branches, audit_actions) -> None:  # type: ignore[no-untyped-def]
    created = _create(run, settings)
    principal = Principal.staff(created.member.id)
    run(credentials.confirm_totp_enrolment, principal, pyotp.TOTP(created.totp.secret).now())
    run(credentials.start_session, principal, role="teller", branch_id=created.member.branch_id)

    run(reset_totp, created.member.id, by=OPERATOR, channel="ops")

    assert run(credentials.has_totp, principal) is False
    assert run(credentials.list_sessions, principal) == []
    assert audit_actions()[-1] == ("staff.totp_reset", "success", str(created.member.id))


def test_a_disabled_account_cannot_be_reset(run, refusal, settings, branches) -> None:  # type: ignore[no-untyped-def]
    member = _create(run, settings).member
    run(disable_staff, member.id, reason="离职", by=OPERATOR, channel="ops")
    assert refusal(reset_password, member.id, by=OPERATOR, channel="ops").code == "STAFF_DISABLED"
    assert refusal(reset_totp, member.id, by=OPERATOR, channel="ops").code == "STAFF_DISABLED"


def test_the_staff_list_puts_head_office_first_then_branches_by_number(run, settings, branches) -> None:  # type: ignore[no-untyped-def]
    _create(run, settings, employee_no="T0102", branch_code="0102")
    _create(run, settings, employee_no="T0101", branch_code="0101")
    _create(run, settings, employee_no="OP001", role="operator", branch_code=None)
    rows = run(list_staff)
    assert [(m.employee_no, b.code if b else None) for m, b in rows] == [
        ("OP001", None), ("T0101", "0101"), ("T0102", "0102")]
    branch_0102 = rows[2][1]
    assert [m.employee_no for m, _ in run(list_staff, branch_id=branch_0102.id)] == ["T0102"]
