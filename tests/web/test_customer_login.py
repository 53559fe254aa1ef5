"""Customer sign-in (SPEC §4): password, the new device's SMS code and notice, the dynamic password, lockout,
sign-out and the forgotten-password reset."""

from __future__ import annotations

import pyotp
import pytest
from customer_app_helpers import (
    HTML,
    PASSWORD,
    PHONE,
    cheap,
    delivered_code,
    device_csrf,
    device_id,
    form_error,
    open_wallet,
    session_of,
    sign_in,
    texts_to,
)

from qianbao import credentials
from qianbao.credentials import Principal
from qianbao.notices.delivery import deliver_due
from qianbao.web import auth


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def _login(client, csrf: str, password: str = PASSWORD, phone: str = PHONE, next: str = ""):  # type: ignore[no-untyped-def]
    return client.post("/app/login", data={"phone": phone, "password": password, "next": next, "csrf_token": csrf},
                       headers=HTML, follow_redirects=False)


def _ticket(page_text: str) -> str:
    import re

    match = re.search(r'name="ticket" value="([^"]+)"', page_text)
    assert match
    return match.group(1)


def _known_device(db, settings, client, customer_id: int) -> None:  # type: ignore[no-untyped-def]
    """Make the client's device one the customer has signed in from before."""
    with db.transaction() as session:
        credentials.start_session(session, Principal.customer(customer_id), device_id=device_id(client, settings),
                                  settings=settings)


def test_a_known_device_signs_in_with_phone_and_password(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    _known_device(db, settings, client, customer_id)
    response = _login(client, csrf, next="/app/security")
    assert (response.status_code, response.headers["location"]) == (303, "/app/security")
    assert client.cookies.get(auth.customer_cookie(settings).name)
    assert 'data-testid="wallet-card"' in client.get("/app", headers=HTML).text


def test_a_new_device_needs_the_sms_code_and_gets_a_security_notice(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    step = _login(client, csrf)
    assert step.status_code == 200 and "验证新设备" in step.text
    assert not client.cookies.get(auth.customer_cookie(settings).name), "no session before the code"
    code = delivered_code(db, settings, PHONE)
    done = client.post("/app/login/device", data={"ticket": _ticket(step.text), "code": code, "next": "",
                                                  "csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/app")
    assert any("新设备" in text for text in texts_to(db, settings, PHONE))
    deliver_due(db, settings)
    assert "新设备登录提醒" in client.get("/app/notices", headers=HTML).text


def test_a_wrong_new_device_code_is_refused_and_keeps_the_step(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    step = _login(client, csrf)
    code = delivered_code(db, settings, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/app/login/device", data={"ticket": _ticket(step.text), "code": wrong,
                                                      "csrf_token": csrf}, headers=HTML)
    assert response.status_code == 422 and "还可尝试 4 次" in form_error(response.text)
    assert 'name="ticket"' in response.text


def test_a_ticket_from_another_browser_is_refused(client, db, settings, app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    ticket = _ticket(_login(client, csrf).text)
    with TestClient(app) as other:
        other_csrf = device_csrf(other, settings)
        response = other.post("/app/login/device", data={"ticket": ticket, "code": "123456",
                                                         "csrf_token": other_csrf}, headers=HTML)
    assert response.status_code == 400 and "重新输入手机号和密码" in form_error(response.text)


def test_a_wrong_password_says_so_and_an_unknown_number_gets_the_same_answer(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    wrong = _login(client, csrf, password="Not-The-Password-1")
    unknown = _login(client, csrf, phone="13700000000")
    assert wrong.status_code == unknown.status_code == 401
    assert form_error(wrong.text) == form_error(unknown.text)
    assert 'value="13912345678"' in wrong.text, "the phone number typed is kept"


def test_the_fifth_wrong_password_locks_sign_in_for_15_minutes(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    for _ in range(4):
        assert _login(client, csrf, password="Not-The-Password-1").status_code == 401
    locked = _login(client, csrf, password="Not-The-Password-1")
    assert locked.status_code == 423 and "15 分钟" in form_error(locked.text)
    assert _login(client, csrf).status_code == 423, "even the right password waits for the lock to end"


def test_with_the_dynamic_password_enrolled_sign_in_asks_for_it(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    with db.transaction() as session:
        enrolment = credentials.begin_totp_enrolment(session, Principal.customer(customer_id), account_name="x")
    with credentials.transaction(db) as session:
        credentials.confirm_totp_enrolment(session, Principal.customer(customer_id),
                                           pyotp.TOTP(enrolment.secret).now())
    csrf = device_csrf(client, settings)
    _known_device(db, settings, client, customer_id)
    step = _login(client, csrf)
    assert step.status_code == 200 and "动态密码" in step.text
    wrong = client.post("/app/login/totp", data={"ticket": _ticket(step.text), "code": "000000",
                                                 "csrf_token": csrf}, headers=HTML)
    assert wrong.status_code == 401 and 'name="ticket"' in wrong.text
    # The code of the next time step: the enrolment used the current one, and a step is never reused.
    import time

    code = pyotp.TOTP(enrolment.secret).at(int(time.time()) + 30)
    done = client.post("/app/login/totp", data={"ticket": _ticket(step.text), "code": code, "csrf_token": csrf},
                       headers=HTML, follow_redirects=False)
    assert done.status_code == 303


def test_sign_out_ends_the_session(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    csrf = sign_in(client, db, settings, customer_id)
    token = client.cookies.get(auth.customer_cookie(settings).name)
    response = client.post("/app/logout", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert response.headers["location"] == "/app/login?done=signed_out"
    with db.transaction() as session:
        assert credentials.authenticate(session, token, settings=settings) is None


def test_a_signed_in_page_sends_a_visitor_to_sign_in_and_back(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/app/security", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/app/login?next=%2Fapp%2Fsecurity")


def test_a_forgotten_password_is_reset_with_an_sms_code_and_signs_out_every_session(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    other_token, _ = session_of(db, settings, customer_id)
    csrf = device_csrf(client, settings)
    step = client.post("/app/password/reset/code", data={"phone": PHONE, "csrf_token": csrf}, headers=HTML)
    assert step.status_code == 200 and "139****5678" in step.text
    new = "Quiet-River-Morning-7"
    response = client.post("/app/password/reset", data={
        "phone": PHONE, "code": delivered_code(db, settings, PHONE), "password": new, "password_confirm": new,
        "csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert response.headers["location"] == "/app/login?done=reset"
    with db.transaction() as session:
        assert credentials.authenticate(session, other_token, settings=settings) is None
    with credentials.transaction(db) as session:
        credentials.verify_login(session, Principal.customer(customer_id), new, settings=settings)


def test_a_reset_refuses_a_weak_new_password_and_a_wrong_code(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    client.post("/app/password/reset/code", data={"phone": PHONE, "csrf_token": csrf}, headers=HTML)
    code = delivered_code(db, settings, PHONE)
    weak = client.post("/app/password/reset", data={"phone": PHONE, "code": code, "password": "woaini1314",
                                                    "password_confirm": "woaini1314", "csrf_token": csrf}, headers=HTML)
    assert weak.status_code == 422 and "过于常见" in form_error(weak.text)
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/app/password/reset", data={"phone": PHONE, "code": wrong, "password": "Quiet-River-7",
                                                       "password_confirm": "Quiet-River-7", "csrf_token": csrf},
                          headers=HTML)
    assert refused.status_code == 422 and "验证码不正确" in form_error(refused.text)


def test_a_reset_for_an_unknown_number_looks_the_same_and_texts_nothing(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    page = client.post("/app/password/reset/code", data={"phone": "13700000000", "csrf_token": csrf}, headers=HTML)
    assert page.status_code == 200 and 'data-testid="code-sent"' in page.text
    assert 'data-countdown="60"' in page.text, "the same wait as for a registered number"
    assert texts_to(db, settings, "13700000000") == []


def test_a_new_device_code_can_be_sent_again_after_the_minute(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    import time_machine

    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        step = _login(client, csrf)
        first = delivered_code(db, settings, PHONE)
        too_soon = client.post("/app/login/device/resend", data={"ticket": _ticket(step.text), "csrf_token": csrf},
                               headers=HTML)
    assert too_soon.status_code == 429 and "秒后再重新获取" in form_error(too_soon.text)
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        again = client.post("/app/login/device/resend", data={"ticket": _ticket(step.text), "csrf_token": csrf},
                            headers=HTML)
        assert again.status_code == 200 and 'data-testid="code-sent"' in again.text
        second = delivered_code(db, settings, PHONE)
        old = client.post("/app/login/device", data={"ticket": _ticket(step.text), "code": first,
                                                     "csrf_token": csrf}, headers=HTML)
        assert old.status_code == 422 or first == second, "the replaced code no longer works"
        done = client.post("/app/login/device", data={"ticket": _ticket(step.text), "code": second,
                                                      "csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303
