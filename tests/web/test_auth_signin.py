"""Staff sign-in in the web consoles: employee number + password, then TOTP (enrolled on the first sign-in),
a one-time password replaced, a session carrying role and branch; sign-out; every step audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from qianbao.audit.models import AuditEntry
from qianbao.settings import Settings
from qianbao.staff import disable_staff, signin
from qianbao.staff.models import StaffMember

HTML = {"accept": "text/html"}
NEW_PASSWORD = "Counter-Own-Pass-2026"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def enrol(db, staff) -> None:  # type: ignore[no-untyped-def]
    """Finish the account's TOTP enrolment and one-time password, as a first sign-in would."""
    with db.transaction() as session:
        member = session.get(StaffMember, staff.id)
        # The previous step's code, so that the current one is still fresh for the sign-in under test.
        previous = pyotp.TOTP(staff.totp_secret).at(datetime.now(UTC) - timedelta(seconds=30))
        signin.check_second_factor(session, member, previous)
        signin.change_initial_password(session, member, staff.password, NEW_PASSWORD)


def password_step(client, staff, console: str = "teller", password: str | None = None, next_path: str = ""):  # type: ignore[no-untyped-def]
    page = client.get(f"/{console}/login", headers=HTML)
    return client.post(f"/{console}/login", headers=HTML, follow_redirects=False, data={
        "employee_no": staff.employee_no, "password": password or staff.password, "next": next_path,
        "csrf_token": token_in(page.text),
    })


def code_step(client, console: str, code: str, next_path: str = ""):  # type: ignore[no-untyped-def]
    page = client.get(f"/{console}/login/totp", headers=HTML)
    return client.post(f"/{console}/login/totp", headers=HTML, follow_redirects=False,
                       data={"code": code, "next": next_path, "csrf_token": token_in(page.text)})


def audit_trail(db) -> list[tuple[str, str, str | None, dict]]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor_id, AuditEntry.details)
                               .where(AuditEntry.action.like("staff.sign%")).order_by(AuditEntry.seq))
        return [(r[0], r[1], r[2], r[3]) for r in rows]


@pytest.mark.parametrize(("path", "login"), [("/teller", "/teller/login"), ("/ops/audit", "/ops/login"),
                                             ("/teller/approvals", "/teller/login"), ("/ops/staff", "/ops/login")])
def test_a_console_page_sends_a_visitor_to_its_sign_in_page(client, path: str, login: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{login}?next={path.replace('/', '%2F')}"


@pytest.mark.parametrize(
    ("lang", "heading", "label"), [("zh-CN", "员工登录", "工号"), ("en", "Staff sign-in", "Employee number")]
)
def test_the_sign_in_page_is_in_the_visitors_language(client, lang: str, heading: str, label: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/teller/login", headers={**HTML, "accept-language": lang})
    assert page.status_code == 200
    assert f'<h1 id="signin-heading">{heading}</h1>' in page.text and label in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_first_sign_in_enrols_totp_with_a_qr_code_replaces_the_password_and_lands_on_the_desk(  # type: ignore[no-untyped-def]
    client, make_staff, db
) -> None:
    teller = make_staff("teller")
    response = password_step(client, teller, next_path="/teller")
    assert (response.status_code, response.headers["location"]) == (303, "/teller/login/totp?next=/teller")
    # Half signed in: the console is still closed.
    assert client.get("/teller", headers=HTML, follow_redirects=False).status_code == 303

    enrol_page = client.get("/teller/login/totp", headers=HTML)
    assert "绑定动态密码" in enrol_page.text and "生成新的二维码" in enrol_page.text
    new_qr = client.post("/teller/login/totp/new", headers=HTML, data={"csrf_token": token_in(enrol_page.text)})
    assert 'data-testid="totp-qr"' in new_qr.text and "<svg" in new_qr.text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', new_qr.text).group(1).replace(" ", "")  # type: ignore[union-attr]

    response = code_step(client, "teller", pyotp.TOTP(secret).now(), "/teller")
    assert response.headers["location"] == "/teller/login/password?next=/teller"
    page = client.get("/teller/login/password", headers=HTML)
    response = client.post("/teller/login/password", headers=HTML, follow_redirects=False, data={
        "current_password": teller.password, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
        "next": "/teller", "csrf_token": token_in(page.text),
    })
    assert (response.status_code, response.headers["location"]) == (303, "/teller")

    desk = client.get("/teller", headers=HTML)
    assert desk.status_code == 200
    assert re.search(r'role-text">测试teller · 柜员 · 0101<', desk.text)
    assert audit_trail(db)[-1] == ("staff.sign_in", "success", str(teller.id),
                                   {"step": "signed_in", "employee_no": teller.employee_no})


def test_the_qr_code_issued_with_the_account_can_be_used_at_the_first_sign_in(client, make_staff) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    password_step(client, teller)
    response = code_step(client, "teller", pyotp.TOTP(teller.totp_secret).now())
    assert response.headers["location"].startswith("/teller/login/password")


def test_an_enrolled_staff_member_signs_in_with_password_and_code(client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_staff("supervisor")
    enrol(db, supervisor)
    password_step(client, supervisor, password=NEW_PASSWORD, next_path="/teller/approvals")
    page = client.get("/teller/login/totp", headers=HTML)
    assert "输入动态密码" in page.text and "totp-qr" not in page.text
    response = code_step(client, "teller", pyotp.TOTP(supervisor.totp_secret).now(), "/teller/approvals")
    assert (response.status_code, response.headers["location"]) == (303, "/teller/approvals")
    assert client.get("/teller/approvals", headers=HTML).status_code == 200


def test_sign_in_rotates_the_session_token(client, make_staff, db, settings) -> None:  # type: ignore[no-untyped-def]
    from qianbao.web.auth import staff_cookie

    teller = make_staff("teller")
    enrol(db, teller)
    name = staff_cookie(settings).name
    client.cookies.set(name, "planted-by-an-attacker", domain="testserver.local")
    password_step(client, teller, password=NEW_PASSWORD)
    pending = client.cookies.get(name)
    assert pending and pending != "planted-by-an-attacker"
    code_step(client, "teller", pyotp.TOTP(teller.totp_secret).now())
    signed_in = client.cookies.get(name)
    assert signed_in and signed_in != pending
    with db.transaction() as session:
        assert signin.resolve(session, pending).staff is None, "the pending token was revoked"


@pytest.mark.parametrize(("role", "console", "landing"), [("operator", "teller", "/ops"), ("teller", "ops", "/teller"),
                                                           ("auditor", "ops", "/ops")])
def test_staff_land_on_their_own_console_whichever_sign_in_page_they_used(  # type: ignore[no-untyped-def]
    client, make_staff, db, role: str, console: str, landing: str
) -> None:
    staff = make_staff(role)
    enrol(db, staff)
    password_step(client, staff, console, password=NEW_PASSWORD, next_path="/ops/sms" if role == "teller" else "")
    response = code_step(client, console, pyotp.TOTP(staff.totp_secret).now(),
                         "/ops/sms" if role == "teller" else "")
    assert response.headers["location"] == landing


def test_a_wrong_password_is_refused_and_audited_and_the_fifth_locks(client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    for tries in range(4):
        response = password_step(client, teller, password=f"wrong-password-{tries}")
        assert response.status_code == 401
        assert "工号或密码不正确" in response.text and 'data-testid="signin-error"' in response.text
        assert f'value="{teller.employee_no}"' in response.text, "the number is kept for the next try"
    locked = password_step(client, teller, password="wrong-password-5")
    assert locked.status_code == 423 and "15 分钟" in locked.text
    assert password_step(client, teller).status_code == 423
    trail = audit_trail(db)
    assert len(trail) == 6 and all(outcome == "refused" for _, outcome, _, _ in trail)
    assert trail[0] == ("staff.sign_in", "refused", str(teller.id),
                        {"step": "password", "employee_no": teller.employee_no, "code": "STAFF_LOGIN_FAILED"})
    assert trail[-1][3]["code"] == "LOGIN_LOCKED"


def test_an_unknown_employee_number_is_refused_like_a_wrong_password_and_audited(client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    make_staff("teller")
    page = client.get("/ops/login", headers=HTML)
    response = client.post("/ops/login", headers=HTML, data={
        "employee_no": "nobody1", "password": "whatever-it-is", "csrf_token": token_in(page.text)})
    assert response.status_code == 401 and "工号或密码不正确" in response.text
    assert audit_trail(db) == [("staff.sign_in", "refused", None,
                                {"step": "password", "employee_no": "NOBODY1", "code": "STAFF_LOGIN_FAILED"})]


def test_a_wrong_code_is_refused_with_the_tries_left_and_audited(client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    enrol(db, teller)
    password_step(client, teller, password=NEW_PASSWORD)
    response = code_step(client, "teller", "000000")
    assert response.status_code == 401 and "还可尝试 4 次" in response.text
    assert audit_trail(db)[-1] == ("staff.sign_in", "refused", str(teller.id),
                                   {"step": "second_factor", "employee_no": teller.employee_no, "code": "TOTP_WRONG"})


def test_a_disabled_account_cannot_sign_in(client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    from qianbao import audit

    teller = make_staff("teller")
    with db.transaction() as session:
        disable_staff(session, teller.id, reason="离职", by=audit.Actor.staff(1), channel="ops")
    response = password_step(client, teller)
    assert response.status_code == 403 and "已停用" in response.text


def test_new_passwords_that_differ_are_refused(client, make_staff) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    password_step(client, teller)
    code_step(client, "teller", pyotp.TOTP(teller.totp_secret).now())
    page = client.get("/teller/login/password", headers=HTML)
    response = client.post("/teller/login/password", headers=HTML, data={
        "current_password": teller.password, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x",
        "csrf_token": token_in(page.text)})
    assert response.status_code == 422 and "两次输入的新密码不一致" in response.text


def test_a_sign_in_form_without_its_token_is_refused(client, make_staff) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    client.get("/teller/login", headers=HTML)
    response = client.post("/teller/login", headers=HTML,
                           data={"employee_no": teller.employee_no, "password": teller.password})
    assert response.status_code == 403
    assert 'data-code="CSRF_FAILED"' in response.text


def test_the_later_steps_without_a_pending_sign_in_go_back_to_the_start(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/teller/login/totp", "/ops/login/password"):
        response = client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == path.rsplit("/", 1)[0]


def test_a_signed_in_staff_member_opening_the_sign_in_page_goes_to_the_console(staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    response = operator.get("/ops/login", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/ops")


def test_sign_out_ends_the_session_clears_the_cookie_and_is_audited(staff_client, db, settings) -> None:  # type: ignore[no-untyped-def]
    from qianbao.web.auth import staff_cookie

    teller = staff_client("teller")
    old_token = teller.cookies.get(staff_cookie(settings).name)
    response = teller.post("/staff/logout", headers=HTML, follow_redirects=False,
                           data={"csrf_token": teller.csrf_token})
    assert (response.status_code, response.headers["location"]) == (303, "/teller/login")
    assert staff_cookie(settings).name + '=""' in response.headers["set-cookie"]
    assert teller.cookies.get(staff_cookie(settings).name) is None
    teller.cookies.set(staff_cookie(settings).name, old_token, domain="testserver.local")
    assert teller.get("/teller", headers=HTML, follow_redirects=False).status_code == 303
    assert audit_trail(db)[-1][:3] == ("staff.signed_out", "success", str(teller.staff.id))


def test_fifteen_idle_minutes_end_the_session_and_the_sign_in_page_says_so(staff_client) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel("2026-11-25 02:00:00+00:00", tick=False) as clock:
        teller = staff_client("teller")
        clock.shift(timedelta(minutes=14))
        assert teller.get("/teller", headers=HTML).status_code == 200, "each request restarts the idle clock"
        clock.shift(timedelta(minutes=15))
        response = teller.get("/teller", headers=HTML, follow_redirects=False)
        assert response.headers["location"] == "/teller/login?next=%2Fteller&expired=1"
        assert "登录已超时，请重新登录。" in teller.get(response.headers["location"], headers=HTML).text


def test_a_disabled_account_is_signed_out_at_its_next_request(staff_client, db) -> None:  # type: ignore[no-untyped-def]
    from qianbao import audit

    teller = staff_client("teller")
    assert teller.get("/teller", headers=HTML).status_code == 200
    with db.transaction() as session:
        disable_staff(session, teller.staff.id, reason="离职", by=audit.Actor.staff(1), channel="ops")
    assert teller.get("/teller", headers=HTML, follow_redirects=False).status_code == 303
