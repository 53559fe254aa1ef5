"""Demo staff for `qianbao serve --demo`: two branches, one account of each role, known credentials."""

from __future__ import annotations

import pyotp

from qianbao import credentials
from qianbao.credentials import Principal
from qianbao.staff import list_branches, list_staff, signin
from qianbao.staff.demo import seed_demo_staff, sign_in_lines
from qianbao.staff.models import StaffMember


def test_the_demo_has_two_branches_and_every_role(run, settings) -> None:  # type: ignore[no-untyped-def]
    run(seed_demo_staff, settings=settings)
    assert [b.code for b in run(list_branches)] == ["0101", "0102"]
    roles = {(m.role, b.code if b else None) for m, b in run(list_staff)}
    assert roles == {("operator", None), ("auditor", None), ("teller", "0101"), ("supervisor", "0101"),
                     ("teller", "0102")}


def test_seeding_twice_adds_nothing_and_keeps_the_secrets(run, settings) -> None:  # type: ignore[no-untyped-def]
    first = run(seed_demo_staff, settings=settings)
    second = run(seed_demo_staff, settings=settings)
    assert len(run(list_staff)) == 5
    assert [(a.employee_no, a.totp_secret) for a in first] == [(a.employee_no, a.totp_secret) for a in second]


def test_demo_accounts_sign_in_at_once_with_their_password_and_current_code(run, settings) -> None:  # type: ignore[no-untyped-def]
    for account in run(seed_demo_staff, settings=settings):
        member = run(signin.check_password, account.employee_no, account.password)
        assert member.password_must_change is False

        def second_factor(session, member_id=member.id, account=account):  # type: ignore[no-untyped-def]
            signin.check_second_factor(session, session.get(StaffMember, member_id), account.totp_now())

        run(second_factor)
        assert run(credentials.has_totp, Principal.staff(member.id))


def test_the_sign_in_lines_say_where_and_how_each_account_signs_in(run, settings) -> None:  # type: ignore[no-untyped-def]
    accounts = run(seed_demo_staff, settings=settings)
    lines = sign_in_lines(accounts, "http://127.0.0.1:8000")
    text = "\n".join(lines)
    assert "http://127.0.0.1:8000/teller/login" in text and "qianbao staff totp" in text
    for account in accounts:
        line = next(line for line in lines if f" {account.employee_no} " in line)
        assert account.password in line and account.totp_secret in line
        assert ("/teller/login" in line) == (account.spec.role in ("teller", "supervisor"))
    assert pyotp.TOTP(accounts[0].totp_secret).now() == accounts[0].totp_now()


def test_the_demo_seed_prints_the_staff_sign_in_lines(db, settings) -> None:  # type: ignore[no-untyped-def]
    from qianbao import demo

    lines = demo.seed(db, settings)
    assert any("S0101" in line and "Supervisor-Demo-0101" in line for line in lines)
