"""Self-service registration in the customer app (SPEC §3.1 step 1): pages, refusals, the signed-in landing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from customer_app_helpers import HTML, PASSWORD, PHONE, cheap, delivered_code, device_csrf, form_error, open_wallet

from qianbao.identity import parse_mobile
from qianbao.notices.delivery import deliver_due
from qianbao.wallets import customer_by_phone


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def _send_code(client, csrf: str, phone: str = PHONE, **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/app/register/code", data={"phone": phone, "csrf_token": csrf}, headers={**HTML, **headers})


def _register(client, csrf: str, code: str, *, phone: str = PHONE, password: str = PASSWORD,  # type: ignore[no-untyped-def]
              confirm: str | None = None, terms: bool = True):
    data = {"phone": phone, "code": code, "password": password,
            "password_confirm": password if confirm is None else confirm, "csrf_token": csrf}
    if terms:
        data["terms"] = "yes"
    return client.post("/app/register", data=data, headers=HTML, follow_redirects=False)


def _has_wallet(db, phone: str = PHONE) -> bool:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return customer_by_phone(session, parse_mobile(phone)) is not None


def test_registration_opens_a_tier4_wallet_signs_in_and_lands_home_with_an_opening_notice(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    page = _send_code(client, csrf)
    assert page.status_code == 200
    assert "139****5678" in page.text and PHONE not in re.sub(r'name="phone" value="\d+"', "", page.text)
    response = _register(client, csrf, delivered_code(db, settings, PHONE))
    assert (response.status_code, response.headers["location"]) == (303, "/app?welcome=1")

    home = client.get("/app?welcome=1", headers=HTML).text
    assert 'data-testid="wallet-card"' in home and "四类" in home
    assert re.search(r'data-testid="wallet-number">\d{4} \d{4} \d{4} \d{4}<', home)
    assert "139****5678" in home and "¥0.00" in home
    deliver_due(db, settings)
    assert "钱包开通成功" in client.get("/app/notices", headers=HTML).text


def test_a_wrong_sms_code_is_refused_with_the_tries_left_and_opens_nothing(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    _send_code(client, csrf)
    code = delivered_code(db, settings, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    response = _register(client, csrf, wrong)
    assert response.status_code == 422
    assert form_error(response.text) == "验证码不正确，还可尝试 4 次。"
    assert not _has_wallet(db)


def test_a_weak_password_is_refused_without_spending_the_code(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    _send_code(client, csrf)
    code = delivered_code(db, settings, PHONE)
    response = _register(client, csrf, code, password="12345678")
    assert response.status_code == 422
    assert "过于常见" in form_error(response.text)
    assert f'value="{code}"' in response.text, "the code is kept for the next try"
    assert not _has_wallet(db)
    assert _register(client, csrf, code).status_code == 303


def test_a_password_containing_the_phone_number_is_refused(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    _send_code(client, csrf)
    response = _register(client, csrf, delivered_code(db, settings, PHONE), password=f"x{PHONE}!")
    assert response.status_code == 422 and "手机号" in form_error(response.text)


def test_the_password_must_be_typed_twice_the_same(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    _send_code(client, csrf)
    response = _register(client, csrf, delivered_code(db, settings, PHONE), confirm=PASSWORD + "x")
    assert response.status_code == 422
    assert form_error(response.text) == "两次输入的密码不一致，请重新输入。"
    assert not _has_wallet(db)


def test_the_terms_must_be_accepted(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    _send_code(client, csrf)
    response = _register(client, csrf, delivered_code(db, settings, PHONE), terms=False)
    assert response.status_code == 422
    assert "服务协议" in form_error(response.text)
    assert not _has_wallet(db)


def test_a_number_that_is_not_a_mainland_mobile_is_refused_on_the_first_step(client, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    response = _send_code(client, csrf, phone="010-6552 1234")
    assert response.status_code == 422
    assert "手机号" in form_error(response.text)
    assert 'value="010-6552 1234"' in response.text, "the number typed is kept"


def test_a_registered_number_is_sent_to_sign_in(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    csrf = device_csrf(client, settings)
    response = _send_code(client, csrf)
    assert response.status_code == 409
    assert 'href="/app/login"' in response.text


def test_asking_for_another_code_within_60_seconds_shows_the_seconds_left(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    assert 'data-countdown="60"' in _send_code(client, csrf).text
    again = _send_code(client, csrf)
    assert again.status_code == 429
    assert re.search(r"请 \d+ 秒后再重新获取", form_error(again.text))
    assert re.search(r'data-countdown="(\d+)"', again.text).group(1) != "0"  # type: ignore[union-attr]


def test_the_sixth_code_in_an_hour_for_one_number_is_rate_limited(client, settings) -> None:  # type: ignore[no-untyped-def]
    csrf = device_csrf(client, settings)
    start = datetime.now(UTC)
    for attempt in range(5):
        with time_machine.travel(start + timedelta(seconds=61 * attempt), tick=False):
            assert _send_code(client, csrf).status_code == 200
    with time_machine.travel(start + timedelta(seconds=61 * 5), tick=False):
        response = _send_code(client, csrf)
    assert response.status_code == 429
    assert "操作过于频繁" in form_error(response.text)


def test_a_registration_form_without_its_csrf_token_is_refused(client, settings) -> None:  # type: ignore[no-untyped-def]
    device_csrf(client, settings)
    response = client.post("/app/register/code", data={"phone": PHONE}, headers=HTML)
    assert response.status_code == 403


def test_the_terms_page_is_public_and_names_its_version(client) -> None:  # type: ignore[no-untyped-def]
    from qianbao.wallets import TERMS_VERSION

    page = client.get("/app/terms", headers=HTML)
    assert page.status_code == 200 and TERMS_VERSION in page.text and "隐私政策" in page.text


def test_registration_speaks_english_to_an_english_browser(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    english = {"accept-language": "en-US,en;q=0.9"}
    client.get("/app/login", headers={**HTML, **english})
    from qianbao import credentials
    from qianbao.web import auth

    csrf = credentials.csrf_token(client.cookies.get(auth.device_cookie(settings).name))
    page = _send_code(client, csrf, **english)
    assert "A code has been sent to 139****5678" in page.text
    response = client.post("/app/register", data={
        "phone": PHONE, "code": delivered_code(db, settings, PHONE), "password": PASSWORD,
        "password_confirm": PASSWORD, "csrf_token": csrf}, headers={**HTML, **english})
    assert "Please read and accept the service agreement" in form_error(response.text)
