"""The customer's security page, payment PIN page, inbox and "me" page (SPEC §4): what they show, what they
refuse, and that another customer's sessions, passkeys and notices are NOT_FOUND."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from customer_app_helpers import HTML, PASSWORD, PHONE, cheap, form_error, open_wallet, session_of, sign_in, texts_to

from qianbao import credentials
from qianbao.credentials import Principal
from qianbao.credentials.models import TotpSecret
from qianbao.notices.delivery import deliver_due
from qianbao.web import auth

OTHER_PHONE = "13987654321"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0 Mobile Safari/537.36")


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def holder(client, db, settings):  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    return customer_id, sign_in(client, db, settings, customer_id, ip="198.51.100.23", user_agent="TestBrowser")


def _alive(db, settings, token: str) -> bool:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return credentials.authenticate(session, token, settings=settings) is not None


# ---- sessions ---------------------------------------------------------------------------------------

def test_sessions_are_listed_with_device_masked_ip_shanghai_time_and_this_device(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, _csrf = holder
    session_of(db, settings, customer_id, user_agent=CHROME_ANDROID, ip="203.0.113.77")
    page = client.get("/app/security", headers=HTML).text
    assert page.count('data-testid="session"') == 2
    assert "Chrome · Android" in page and "203.0.113.*" in page and "203.0.113.77" not in page
    assert re.search(r'data-current="1">.*?本机', page, re.S)
    assert re.search(r"最近活动 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", page)


def test_revoking_another_session_signs_that_device_out(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    token, public_id = session_of(db, settings, customer_id)
    response = client.post(f"/app/security/sessions/{public_id}/revoke", data={"csrf_token": csrf}, headers=HTML,
                           follow_redirects=False)
    assert response.headers["location"] == "/app/security?done=revoked"
    assert not _alive(db, settings, token)
    assert _alive(db, settings, client.cookies.get(auth.customer_cookie(settings).name))


def test_sign_out_everywhere_else_keeps_this_session(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    tokens = [session_of(db, settings, customer_id)[0] for _ in range(2)]
    client.post("/app/security/sessions/revoke-others", data={"csrf_token": csrf}, headers=HTML)
    assert [_alive(db, settings, token) for token in tokens] == [False, False]
    assert _alive(db, settings, client.cookies.get(auth.customer_cookie(settings).name))


def test_another_customers_session_cannot_be_revoked(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    _customer_id, csrf = holder
    other = open_wallet(db, settings, phone=OTHER_PHONE)
    token, public_id = session_of(db, settings, other)
    response = client.post(f"/app/security/sessions/{public_id}/revoke", data={"csrf_token": csrf}, headers=HTML)
    assert response.status_code == 404
    assert _alive(db, settings, token)


def test_a_security_form_without_the_csrf_token_is_refused(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, _csrf = holder
    _token, public_id = session_of(db, settings, customer_id)
    response = client.post(f"/app/security/sessions/{public_id}/revoke", headers=HTML)
    assert response.status_code == 403


# ---- password ---------------------------------------------------------------------------------------

def _change(client, csrf: str, current: str, new: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/app/security/password", data={
        "current_password": current, "new_password": new, "confirm_password": new if confirm is None else confirm,
        "csrf_token": csrf}, headers=HTML, follow_redirects=False)


def test_changing_the_password_signs_out_the_other_sessions_and_texts_the_holder(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    other_token, _ = session_of(db, settings, customer_id)
    response = _change(client, csrf, PASSWORD, "Autumn-Harbour-Light-3")
    assert response.headers["location"] == "/app/security?done=password"
    assert not _alive(db, settings, other_token)
    assert _alive(db, settings, client.cookies.get(auth.customer_cookie(settings).name))
    assert any("登录密码已修改" in text for text in texts_to(db, settings, PHONE))


@pytest.mark.parametrize(
    ("current", "new", "confirm", "status", "message"),
    [
        ("Wrong-Password-9", "Autumn-Harbour-Light-3", None, 403, "还可尝试"),
        (PASSWORD, "Autumn-Harbour-Light-3", "Autumn-Harbour-Light-4", 422, "两次输入的密码不一致"),
        (PASSWORD, "qwerty123", None, 422, "过于常见"),
        (PASSWORD, PASSWORD, None, 422, "相同"),
    ],
    ids=["old_wrong", "mismatch", "weak", "unchanged"],
)
def test_a_refused_password_change_says_why(  # type: ignore[no-untyped-def]
    client, holder, current: str, new: str, confirm: str | None, status: int, message: str
) -> None:
    _customer_id, csrf = holder
    response = _change(client, csrf, current, new, confirm)
    assert response.status_code == status
    assert message in form_error(response.text)


# ---- dynamic password -------------------------------------------------------------------------------

def test_the_dynamic_password_is_enrolled_with_a_qr_image_confirmed_and_turned_off(  # type: ignore[no-untyped-def]
    client, db, settings, holder
) -> None:
    customer_id, csrf = holder
    page = client.post("/app/security/totp/begin", data={"csrf_token": csrf}, headers=HTML)
    assert re.search(r'<img src="/app/security/totp/qr.svg\?v=[^"]+"', page.text)
    assert "<svg" not in page.text.split('data-testid="totp-qr"')[1].split("</figure>")[0], "the QR is an image"
    image = client.get("/app/security/totp/qr.svg")
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert image.text.lstrip().startswith("<svg") and "<script" not in image.text

    with db.read() as session:
        secret = session.query(TotpSecret).filter_by(principal_id=customer_id).one().secret
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in page.text
    wrong = client.post("/app/security/totp/confirm", data={"code": "000000", "csrf_token": csrf}, headers=HTML)
    assert wrong.status_code == 401 and "totp/qr.svg" in wrong.text
    confirmed = client.post("/app/security/totp/confirm", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf},
                            headers=HTML, follow_redirects=False)
    assert confirmed.headers["location"] == "/app/security?done=totp_on"
    with db.read() as session:
        assert credentials.has_totp(session, Principal.customer(customer_id))

    later = pyotp.TOTP(secret).at(int(time.time()) + 30)
    off = client.post("/app/security/totp/disable", data={"code": later, "csrf_token": csrf}, headers=HTML,
                      follow_redirects=False)
    assert off.headers["location"] == "/app/security?done=totp_off"


def test_the_qr_image_needs_a_pending_enrolment(client, holder) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/app/security/totp/qr.svg").status_code == 409


# ---- payment PIN ------------------------------------------------------------------------------------

def _set_pin(client, csrf: str, pin: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/app/pin", data={"pin": pin, "pin_confirm": pin if confirm is None else confirm,
                                         "csrf_token": csrf}, headers=HTML, follow_redirects=False)


@pytest.mark.parametrize(
    ("pin", "confirm", "message"),
    [
        ("123456", None, "连续的数字"),
        ("888888", None, "相同的数字"),
        ("12345", None, "6"),
        ("258036", "258037", "两次输入的支付密码不一致"),
    ],
    ids=["run", "repeated", "too_short", "mismatch"],
)
def test_a_refused_pin_says_which_rule_it_breaks(client, holder, pin: str, confirm: str | None, message: str) -> None:  # type: ignore[no-untyped-def]
    _customer_id, csrf = holder
    response = _set_pin(client, csrf, pin, confirm)
    assert response.status_code == 422
    assert message in form_error(response.text)


def test_the_pin_is_set_then_changed_with_the_old_one(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    assert _set_pin(client, csrf, "258036").headers["location"] == "/app/pin?done=set"
    assert 'data-testid="pin-change-form"' in client.get("/app/pin", headers=HTML).text
    wrong = client.post("/app/pin/change", data={"old_pin": "111222", "pin": "369147", "pin_confirm": "369147",
                                                 "csrf_token": csrf}, headers=HTML)
    assert wrong.status_code == 403 and "还可尝试" in form_error(wrong.text)
    changed = client.post("/app/pin/change", data={"old_pin": "258036", "pin": "369147", "pin_confirm": "369147",
                                                   "csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert changed.headers["location"] == "/app/pin?done=changed"
    with credentials.transaction(db) as session:
        credentials.verify_pin(session, Principal.customer(customer_id), "369147", settings=settings)


# ---- inbox, home, me --------------------------------------------------------------------------------

def test_the_inbox_lists_notices_newest_first_and_marks_them_read(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    _customer_id, csrf = holder
    deliver_due(db, settings)
    page = client.get("/app/notices", headers=HTML).text
    assert "钱包开通成功" in page and "全部标为已读" in page
    client.post("/app/notices/read-all", data={"csrf_token": csrf}, headers=HTML)
    assert "全部标为已读" not in client.get("/app/notices", headers=HTML).text


def test_another_customers_notice_cannot_be_marked_read(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    from qianbao.notices import inbox

    _customer_id, csrf = holder
    other = open_wallet(db, settings, phone=OTHER_PHONE)
    deliver_due(db, settings)
    with db.read() as session:
        notice_id = inbox.list_notices(session, other)[0].id
    response = client.post(f"/app/notices/{notice_id}/read", data={"csrf_token": csrf}, headers=HTML)
    assert response.status_code == 404


def test_the_home_page_shows_the_signed_in_wallet_masked_and_grouped(client, db, settings, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, _csrf = holder
    from qianbao import wallets

    with db.read() as session:
        number = wallets.wallet_of_customer(session, customer_id).number
    page = client.get("/app", headers=HTML).text
    grouped = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    assert grouped in page and number not in page
    assert "139****5678" in page and PHONE not in page
    assert "¥10,000.00" in page and "¥2,000.00" in page, "the tier-4 balance cap and single-payment limit"


def test_the_me_page_links_every_setting_and_signs_out(client, holder) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/app/me", headers=HTML).text
    for href in ("/app/realname", "/app/pin", "/app/security", "/app/notices", "/app/terms"):
        assert f'href="{href}"' in page
    assert 'action="/app/logout"' in page
