"""The cashier's payment-code page in the merchant's pages: charge a code, wait for the customer, refusals."""

from __future__ import annotations

import re

import pytest
from customer_app_helpers import cheap
from customer_pay_helpers import YUAN, balance, holder, password_free, shop
from fastapi.testclient import TestClient

from qianbao.payments import paycode

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def portal(app, s):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    page = client.get("/m/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/m/login", data={"merchant_no": s.merchant_no, "password": s.password, "next": "/m",
                                             "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    return client


@pytest.fixture
def world(app, db, settings):  # type: ignore[no-untyped-def]
    h = holder(db, settings, fund=500 * YUAN)
    s = shop(db, settings)
    client = portal(app, s)
    page = client.get("/m/paycode")
    return client, CSRF.search(page.text).group(1), h, s  # type: ignore[union-attr]


def issue(db, h) -> str:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return paycode.issue(session, h.customer_id, h.wallet_id).code


def test_the_page_needs_the_merchant_signed_in(app):  # type: ignore[no-untyped-def]
    response = TestClient(app).get("/m/paycode", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/m/login?next=")


def test_the_page_can_use_the_camera_decoder(world):  # type: ignore[no-untyped-def]
    client, *_ = world
    page = client.get("/m/paycode")
    assert "wasm-unsafe-eval" in page.headers["content-security-policy"]
    assert '<script src="/static/vendor/zxing-wasm/zxing-reader.js" defer></script>' in page.text


def test_a_small_charge_is_paid_at_once(world, db):  # type: ignore[no-untyped-def]
    client, csrf, h, _s = world
    password_free(db, h, 100 * YUAN)
    page = client.post("/m/paycode", data={"csrf_token": csrf, "payload": issue(db, h), "amount": "12.80",
                                           "description": "饮料"})
    assert page.status_code == 200 and 'data-status="succeeded"' in page.text and "¥12.80" in page.text
    assert balance(db, h.account_id) == 500 * YUAN - 1280


def test_a_large_charge_waits_and_the_page_polls_until_the_customer_confirms(world, db):  # type: ignore[no-untyped-def]
    client, csrf, h, _s = world
    page = client.post("/m/paycode", data={"csrf_token": csrf, "payload": issue(db, h), "amount": "300",
                                           "description": "大米"})
    assert 'data-status="awaiting"' in page.text
    poll = re.search(r'hx-get="(/m/paycode/status\?reference=PC[0-9A-F]+)"', page.text)
    assert poll
    with db.transaction() as session:
        waiting = paycode.awaiting_charge(session, h.customer_id)
        assert waiting is not None
        paycode.confirm_charge(session, h.customer_id, waiting.reference, "pin")
    status = client.get(poll.group(1))
    assert 'data-status="succeeded"' in status.text and balance(db, h.account_id) == 200 * YUAN


def test_a_reused_code_is_refused_on_the_page(world, db):  # type: ignore[no-untyped-def]
    client, csrf, h, _s = world
    password_free(db, h, 100 * YUAN)
    code = issue(db, h)
    client.post("/m/paycode", data={"csrf_token": csrf, "payload": code, "amount": "1", "description": "x"})
    again = client.post("/m/paycode", data={"csrf_token": csrf, "payload": code, "amount": "1", "description": "x"})
    assert again.status_code == 409 and 'data-code="PAYMENT_CODE_REUSED"' in again.text
    assert balance(db, h.account_id) == 500 * YUAN - 100


def test_another_merchant_cannot_poll_the_charge(world, db, app, settings):  # type: ignore[no-untyped-def]
    client, csrf, h, _s = world
    page = client.post("/m/paycode", data={"csrf_token": csrf, "payload": issue(db, h), "amount": "300",
                                           "description": "x"})
    poll = re.search(r'hx-get="(/m/paycode/status\?reference=PC[0-9A-F]+)"', page.text)
    assert poll
    other = portal(app, shop(db, settings, "隔壁小卖部", "Corner Shop"))
    assert other.get(poll.group(1)).status_code == 404
