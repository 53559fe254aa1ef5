"""The payment code end to end: the customer's page issues it, the merchant charges it over the signed API,
the customer confirms or declines on the page; expiry, reuse, and the merchant's polling."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from customer_app_helpers import cheap, sign_in
from customer_pay_helpers import HTML, PIN, YUAN, balance, holder, order_status, password_free, shop, signed
from fastapi.testclient import TestClient

from qianbao.errors import CATALOGUE

CHARGES = "/api/merchant/v1/paycode-payments"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def world(app, db, settings):  # type: ignore[no-untyped-def]
    customer = TestClient(app)
    h = holder(db, settings, fund=1000 * YUAN)
    csrf = sign_in(customer, db, settings, h.customer_id)
    return customer, TestClient(app), h, shop(db, settings), csrf


def show_code(client, csrf) -> str:  # type: ignore[no-untyped-def]
    fragment = client.post("/app/paycode/code", data={"csrf_token": csrf}, headers={**HTML, "HX-Request": "true"})
    assert fragment.status_code == 200
    digits = re.search(r'data-testid="paycode-digits">([0-9 ]+)<', fragment.text)
    assert digits and "<svg" in fragment.text
    return digits.group(1).replace(" ", "")


def charge(merchant_client, s, code, amount, number="P-1"):  # type: ignore[no-untyped-def]
    return signed(merchant_client, s, "POST", CHARGES,
                  {"code": code, "amount": amount, "merchant_order_no": number, "description": "便利店购物"})


def test_paycode_page_polls_a_new_code_every_60_seconds(world):  # type: ignore[no-untyped-def]
    customer, *_rest = world
    page = customer.get("/app/paycode", headers=HTML)
    assert page.status_code == 200
    assert 'hx-post="/app/paycode/code"' in page.text and "every 60s" in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None


def test_each_refresh_shows_a_new_code_and_the_old_one_stops_working(world):  # type: ignore[no-untyped-def]
    customer, merchant, _h, s, csrf = world
    first = show_code(customer, csrf)
    second = show_code(customer, csrf)
    assert first != second
    response = charge(merchant, s, first, 100)
    assert (response.status_code, response.json()["code"]) == (CATALOGUE["PAYMENT_CODE_EXPIRED"],
                                                               "PAYMENT_CODE_EXPIRED")


def test_small_charge_with_password_free_is_paid_at_once(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    password_free(db, h, 100 * YUAN)
    response = charge(merchant, s, show_code(customer, csrf), 3550)
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["amount"], body["amount_yuan"]) == ("succeeded", 3550, "35.50")
    assert balance(db, h.account_id) == 1000 * YUAN - 3550 and order_status(db, s, "P-1") == "paid"


def test_expired_code_is_refused(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    password_free(db, h, 100 * YUAN)
    code = show_code(customer, csrf)
    with time_machine.travel(timedelta(seconds=61)):
        response = charge(merchant, s, code, 100)
    assert (response.status_code, response.json()["code"]) == (409, "PAYMENT_CODE_EXPIRED")
    assert balance(db, h.account_id) == 1000 * YUAN


def test_reused_code_is_refused(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    password_free(db, h, 100 * YUAN)
    code = show_code(customer, csrf)
    assert charge(merchant, s, code, 100).status_code == 201
    response = charge(merchant, s, code, 100, number="P-2")
    assert (response.status_code, response.json()["code"]) == (409, "PAYMENT_CODE_REUSED")
    assert balance(db, h.account_id) == 1000 * YUAN - 100


def test_a_retried_charge_answers_200_with_the_same_payment(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    password_free(db, h, 100 * YUAN)
    code = show_code(customer, csrf)
    first = charge(merchant, s, code, 100).json()
    again = charge(merchant, s, code, 100)
    assert again.status_code == 200 and again.json()["reference"] == first["reference"]
    assert balance(db, h.account_id) == 1000 * YUAN - 100


def test_misread_code_is_invalid(world):  # type: ignore[no-untyped-def]
    customer, merchant, _h, s, csrf = world
    code = show_code(customer, csrf)
    response = charge(merchant, s, code[:-1] + str((int(code[-1]) + 1) % 10), 100)
    assert (response.status_code, response.json()["code"]) == (422, "PAYMENT_CODE_INVALID")


def test_unsigned_charge_is_refused(world):  # type: ignore[no-untyped-def]
    customer, merchant, _h, _s, csrf = world
    response = merchant.post(CHARGES, json={"code": show_code(customer, csrf), "amount": 100,
                                            "merchant_order_no": "P-1", "description": "x"})
    assert response.status_code == 401


def test_large_charge_waits_and_the_customer_confirms_with_the_pin(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    response = charge(merchant, s, show_code(customer, csrf), 300 * YUAN)
    assert response.status_code == 202 and response.json()["status"] == "awaiting"
    reference = response.json()["reference"]
    pending = customer.get("/app/paycode/pending", headers={**HTML, "HX-Request": "true"})
    assert "老王面馆" in pending.text and "¥300.00" in pending.text and reference in pending.text
    done = customer.post("/app/paycode/confirm", data={"csrf_token": csrf, "reference": reference, "pin": PIN},
                         headers={**HTML, "HX-Request": "true"})
    assert done.status_code == 204 and done.headers["HX-Redirect"].startswith("/app/pay/done?ref=")
    assert balance(db, h.account_id) == 700 * YUAN
    polled = signed(merchant, s, "GET", f"{CHARGES}?reference={reference}")
    assert polled.status_code == 200 and polled.json()["status"] == "succeeded"
    assert polled.json()["payment_reference"]


def test_wrong_pin_at_confirmation_moves_nothing(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    reference = charge(merchant, s, show_code(customer, csrf), 300 * YUAN).json()["reference"]
    page = customer.post("/app/paycode/confirm", data={"csrf_token": csrf, "reference": reference, "pin": "135792"},
                         headers={**HTML, "HX-Request": "true"})
    assert page.status_code == 200 and 'data-testid="form-error"' in page.text and reference in page.text
    assert balance(db, h.account_id) == 1000 * YUAN


def test_customer_declines_and_the_merchant_sees_it(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    reference = charge(merchant, s, show_code(customer, csrf), 300 * YUAN).json()["reference"]
    customer.post("/app/paycode/decline", data={"csrf_token": csrf, "reference": reference},
                  headers={**HTML, "HX-Request": "true"})
    polled = signed(merchant, s, "GET", f"{CHARGES}?reference={reference}").json()
    assert (polled["status"], polled["failure_code"]) == ("declined", "PAYMENT_CODE_DECLINED")
    assert order_status(db, s, "P-1") == "closed" and balance(db, h.account_id) == 1000 * YUAN


def test_unconfirmed_charge_expires_after_120_seconds(world, db):  # type: ignore[no-untyped-def]
    customer, merchant, h, s, csrf = world
    reference = charge(merchant, s, show_code(customer, csrf), 300 * YUAN).json()["reference"]
    with time_machine.travel(timedelta(seconds=121)):
        late = customer.post("/app/paycode/confirm", data={"csrf_token": csrf, "reference": reference, "pin": PIN},
                             headers={**HTML, "HX-Request": "true"})
        assert "没有在规定时间内确认" in late.text
        polled = signed(merchant, s, "GET", f"{CHARGES}?reference={reference}").json()
    assert (polled["status"], polled["failure_code"]) == ("expired", "PAYMENT_CODE_CONFIRMATION_EXPIRED")
    assert balance(db, h.account_id) == 1000 * YUAN


def test_another_merchant_cannot_poll_the_charge(world, db, settings):  # type: ignore[no-untyped-def]
    customer, merchant, _h, s, csrf = world
    reference = charge(merchant, s, show_code(customer, csrf), 300 * YUAN).json()["reference"]
    other = shop(db, settings, "隔壁小卖部", "Corner Shop")
    assert signed(merchant, other, "GET", f"{CHARGES}?reference={reference}").status_code == 404


def test_closing_the_page_stops_the_code(world):  # type: ignore[no-untyped-def]
    customer, merchant, _h, s, csrf = world
    code = show_code(customer, csrf)
    customer.post("/app/paycode/close", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert charge(merchant, s, code, 100).json()["code"] == "PAYMENT_CODE_EXPIRED"
