"""The customer app's scan-to-pay pages: scan (text, picture), confirm (PIN, 小额免密), result, every refusal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from customer_app_helpers import cheap, sign_in
from customer_pay_helpers import (
    HTML,
    PIN,
    YUAN,
    balance,
    count,
    holder,
    order_code,
    order_status,
    password_free,
    shop,
    static_code,
)
from fastapi.testclient import TestClient

from qianbao.errors import CATALOGUE
from qianbao.payments import emvqr
from qianbao.payments.models import PaymentOperation


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def world(app, db, settings):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    h = holder(db, settings, fund=1000 * YUAN)
    csrf = sign_in(client, db, settings, h.customer_id)
    return client, h, shop(db, settings), csrf


def scan(client, csrf, payload="", files=None):  # type: ignore[no-untyped-def]
    return client.post("/app/pay/scan", data={"csrf_token": csrf, "payload": payload}, files=files, headers=HTML)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1).replace("&#34;", '"').replace("&amp;", "&")


def confirm(client, csrf, page, **fields):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf, "payload": hidden(page, "payload"), "client_key": hidden(page, "client_key"),
            "pin": "", "amount": "", "note": ""}
    data.update(fields)
    return client.post("/app/pay/confirm", data=data, headers=HTML, follow_redirects=False)


def test_scan_page_needs_sign_in(client):  # type: ignore[no-untyped-def]
    response = client.get("/app/pay", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/app/login?next=")


def test_scan_page_loads_the_vendored_decoder_with_wasm_allowed_and_no_inline_script(world):  # type: ignore[no-untyped-def]
    client, *_ = world
    response = client.get("/app/pay", headers=HTML)
    assert response.status_code == 200
    assert '<script src="/static/vendor/zxing-wasm/zxing-reader.js" defer></script>' in response.text
    assert "script-src 'self' 'wasm-unsafe-eval'" in response.headers["content-security-policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) is None
    assert " style=" not in response.text


def test_only_the_scan_page_allows_webassembly(world):  # type: ignore[no-untyped-def]
    client, *_ = world
    assert "wasm-unsafe-eval" not in client.get("/app/paycode", headers=HTML).headers["content-security-policy"]


def test_home_scan_entry_leads_to_the_scan_page(world):  # type: ignore[no-untyped-def]
    client, *_ = world
    response = client.get("/app/scan", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/app/pay")


def test_dynamic_code_shows_registered_merchant_and_order_amount(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 2372))
    assert page.status_code == 200
    assert 'data-testid="pay-merchant">老王面馆<' in page.text
    assert 'data-testid="pay-amount">¥23.72<' in page.text
    assert 'name="amount"' not in page.text


def test_merchant_name_comes_from_our_records_not_the_code(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    forged = emvqr.qianbao_code(merchant_no=s.merchant_no, name="Trusted Bank", city="Beijing", mcc="5812",
                                name_zh="某某银行")
    page = scan(client, csrf, forged)
    assert 'data-testid="pay-merchant">老王面馆<' in page.text
    shown = page.text.replace(hidden(page.text, "payload"), "")
    assert "某某银行" not in shown and "Trusted Bank" not in shown


def test_static_code_asks_for_the_amount(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    page = scan(client, csrf, static_code(db, s))
    assert 'name="amount"' in page.text and 'data-testid="pay-merchant">老王面馆<' in page.text


def test_uploaded_picture_is_decoded_on_the_server(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    picture = emvqr.png(order_code(db, s, 500))
    page = scan(client, csrf, files={"image": ("code.png", picture, "image/png")})
    assert page.status_code == 200 and 'data-testid="pay-amount">¥5.00<' in page.text


def test_picture_without_a_code_is_refused(world):  # type: ignore[no-untyped-def]
    from customer_app_helpers import png

    client, _h, _s, csrf = world
    page = scan(client, csrf, files={"image": ("blank.png", png(), "image/png")})
    assert page.status_code == 422 and "没有识别到二维码" in page.text


def test_bad_crc_is_shown_and_nothing_happens(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    payload = order_code(db, s, 500)
    page = scan(client, csrf, payload[:-4] + ("0000" if payload[-4:] != "0000" else "0001"))
    assert page.status_code == 422 and "校验失败" in page.text


def test_foreign_scheme_code_is_refused(world):  # type: ignore[no-untyped-def]
    client, _h, _s, csrf = world
    page = scan(client, csrf, "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
                              "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.72"
                              "53031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708"
                              "123456786304A13A")
    assert page.status_code == 422 and "其他支付机构" in page.text


def test_unknown_merchant_is_refused(world):  # type: ignore[no-untyped-def]
    client, _h, _s, csrf = world
    page = scan(client, csrf, emvqr.qianbao_code(merchant_no="899999999999999", name="X", city="Y", mcc="5812"))
    assert page.status_code == 404 and "收款商户不存在" in page.text


def test_dynamic_code_paid_with_the_pin(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 2372)).text
    response = confirm(client, csrf, page, pin=PIN)
    assert response.status_code == 303 and response.headers["location"].startswith("/app/pay/done?ref=")
    done = client.get(response.headers["location"], headers=HTML)
    assert 'data-status="succeeded"' in done.text and "¥23.72" in done.text
    assert balance(db, h.account_id) == 1000 * YUAN - 2372
    assert balance(db, s.account_id) == 2372
    assert order_status(db, s, "T-1001") == "paid"


def test_wrong_pin_is_refused_and_nothing_moves(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 2372)).text
    response = confirm(client, csrf, page, pin="135792")
    assert response.status_code == CATALOGUE["PIN_WRONG"] and 'id="pin-error"' in response.text
    assert balance(db, h.account_id) == 1000 * YUAN and order_status(db, s, "T-1001") == "open"


def test_without_pin_and_without_password_free_confirmation_is_required(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 100)).text
    response = confirm(client, csrf, page)
    assert response.status_code == CATALOGUE["CONFIRMATION_REQUIRED"] and 'id="pin-error"' in response.text
    assert balance(db, h.account_id) == 1000 * YUAN


def test_static_code_password_free_within_threshold(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    password_free(db, h, 50 * YUAN)
    page = scan(client, csrf, static_code(db, s)).text
    assert 'data-testid="pay-password-free"' in page
    response = confirm(client, csrf, page, amount="18.50")
    assert response.status_code == 303
    assert balance(db, h.account_id) == 1000 * YUAN - 1850
    with db.read() as session:
        op = session.query(PaymentOperation).filter_by(kind="merchant_payment").one()
        assert (op.confirmation, op.static_qr) == ("password_free", True)


def test_static_code_above_the_password_free_threshold_needs_the_pin(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    password_free(db, h, 50 * YUAN)
    page = scan(client, csrf, static_code(db, s)).text
    response = confirm(client, csrf, page, amount="50.01")
    assert response.status_code == CATALOGUE["CONFIRMATION_REQUIRED"] and balance(db, h.account_id) == 1000 * YUAN


def test_static_qr_daily_cap_is_enforced(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, static_code(db, s)).text
    assert confirm(client, csrf, page, amount="400", pin=PIN).status_code == 303
    page = scan(client, csrf, static_code(db, s)).text
    response = confirm(client, csrf, page, amount="100.01", pin=PIN)
    assert response.status_code == CATALOGUE["LIMIT_EXCEEDED"]
    assert "超出静态收款码当日累计限额" in response.text
    assert "100.00" in response.text.split("超出静态收款码", 1)[1][:60]
    assert balance(db, h.account_id) == 600 * YUAN


def test_static_amount_with_three_decimals_is_refused(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, static_code(db, s)).text
    response = confirm(client, csrf, page, amount="1.001", pin=PIN)
    assert response.status_code == 422 and 'id="amount-error"' in response.text
    assert balance(db, h.account_id) == 1000 * YUAN


def test_paid_order_scanned_again_is_refused(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    payload = order_code(db, s, 300)
    page = scan(client, csrf, payload).text
    assert confirm(client, csrf, page, pin=PIN).status_code == 303
    again = scan(client, csrf, payload)
    assert again.status_code == CATALOGUE["ORDER_ALREADY_PAID"] and 'data-testid="form-error"' in again.text


def test_expired_order_is_refused(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    payload = order_code(db, s, 300, expires_in=60)
    with time_machine.travel(timedelta(seconds=61)):
        page = scan(client, csrf, payload)
    assert page.status_code == CATALOGUE["ORDER_EXPIRED"] and 'data-testid="form-error"' in page.text
    assert balance(db, h.account_id) == 1000 * YUAN


def test_insufficient_balance_is_refused(world, db, settings):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 1500 * YUAN)).text
    response = confirm(client, csrf, page, pin=PIN)
    assert response.status_code == CATALOGUE["INSUFFICIENT_BALANCE"] and "余额不足" in response.text
    assert balance(db, h.account_id) == 1000 * YUAN and order_status(db, s, "T-1001") == "open"


def test_a_double_submit_pays_once(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, static_code(db, s)).text
    first = confirm(client, csrf, page, amount="10", pin=PIN)
    second = confirm(client, csrf, page, amount="10", pin=PIN)
    assert first.headers["location"] == second.headers["location"]
    assert balance(db, h.account_id) == 990 * YUAN
    assert count(db, PaymentOperation) == 2  # the funding top-up and one payment


def test_result_page_of_someone_elses_payment_is_not_found(world, db, app, settings):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 300)).text
    location = confirm(client, csrf, page, pin=PIN).headers["location"]
    other = TestClient(app)
    stranger = holder(db, settings)
    sign_in(other, db, settings, stranger.customer_id)
    assert other.get(location, headers=HTML).status_code == 404


def test_english_page(world, db):  # type: ignore[no-untyped-def]
    client, _h, s, csrf = world
    client.cookies.set("lang", "en")
    page = scan(client, csrf, order_code(db, s, 300))
    assert "Confirm payment" in page.text and "Lao Wang Noodles" in page.text


def test_a_double_submit_of_a_dynamic_code_shows_the_same_result(world, db):  # type: ignore[no-untyped-def]
    client, h, s, csrf = world
    page = scan(client, csrf, order_code(db, s, 300)).text
    first = confirm(client, csrf, page, pin=PIN)
    second = confirm(client, csrf, page, pin=PIN)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert balance(db, h.account_id) == 997 * YUAN
