"""The customer JSON API for merchant payments: parse, pay with an Idempotency-Key, payment codes."""

from __future__ import annotations

import pytest
from customer_app_helpers import cheap
from customer_pay_helpers import PIN, YUAN, balance, holder, order_code, order_status, shop, signed, static_code
from fastapi.testclient import TestClient

from qianbao import credentials
from qianbao.credentials import Principal


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def world(app, db, settings):  # type: ignore[no-untyped-def]
    h = holder(db, settings, fund=1000 * YUAN)
    with db.transaction() as session:
        token = credentials.start_session(session, Principal.customer(h.customer_id), settings=settings).token
    client = TestClient(app)
    client.headers["authorization"] = f"Bearer {token}"
    client.headers["accept"] = "application/json"
    return client, h, shop(db, settings)


def test_parse_answers_the_registered_merchant_and_the_order(world, db):  # type: ignore[no-untyped-def]
    client, _h, s = world
    response = client.post("/api/v1/qr/parse", json={"payload": order_code(db, s, 2372)})
    assert response.status_code == 200
    body = response.json()
    assert body["merchant"]["name_zh"] == "老王面馆" and body["dynamic"] is True
    assert body["amount"] == {"fen": 2372, "yuan": "23.72"} and body["order"]["merchant_order_no"] == "T-1001"
    assert body["password_free_threshold"] is None


def test_parse_refusal_is_problem_json(world):  # type: ignore[no-untyped-def]
    client, *_ = world
    response = client.post("/api/v1/qr/parse", json={"payload": "000201"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "QR_INVALID"


def test_parse_needs_the_bearer_token(app, db):  # type: ignore[no-untyped-def]
    response = TestClient(app).post("/api/v1/qr/parse", json={"payload": "x"})
    assert response.status_code == 401


def test_pay_dynamic_code_with_pin_and_replay(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    payload = order_code(db, s, 2372)
    first = client.post("/api/v1/qr-payments", json={"payload": payload, "pin": PIN},
                        headers={"Idempotency-Key": "pay-0001"})
    assert first.status_code == 201
    assert (first.json()["status"], first.json()["amount"]["fen"], first.json()["confirmation"]) == (
        "succeeded", 2372, "pin")
    again = client.post("/api/v1/qr-payments", json={"payload": payload, "pin": PIN},
                        headers={"Idempotency-Key": "pay-0001"})
    assert again.status_code == 200 and again.json()["reference"] == first.json()["reference"]
    assert balance(db, h.account_id) == 1000 * YUAN - 2372 and order_status(db, s, "T-1001") == "paid"


def test_pay_needs_an_idempotency_key(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    response = client.post("/api/v1/qr-payments", json={"payload": order_code(db, s, 100), "pin": PIN})
    assert response.status_code == 400 and response.json()["code"] == "IDEMPOTENCY_KEY_MISSING"
    assert balance(db, h.account_id) == 1000 * YUAN


def test_pay_static_code_with_amount(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    response = client.post("/api/v1/qr-payments", json={"payload": static_code(db, s), "amount": "12.30", "pin": PIN},
                           headers={"Idempotency-Key": "pay-0002"})
    assert response.status_code == 201 and response.json()["amount"]["fen"] == 1230
    assert balance(db, h.account_id) == 1000 * YUAN - 1230


def test_pay_over_the_static_cap_is_refused_with_the_limit_named(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    response = client.post("/api/v1/qr-payments", json={"payload": static_code(db, s), "amount": "500.01", "pin": PIN},
                           headers={"Idempotency-Key": "pay-0003"})
    assert response.status_code == 422
    assert response.json()["code"] == "LIMIT_EXCEEDED" and response.json()["params"]["limit"] == "static_qr"
    assert balance(db, h.account_id) == 1000 * YUAN


def test_pay_without_confirmation_is_refused(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    response = client.post("/api/v1/qr-payments", json={"payload": order_code(db, s, 100)},
                           headers={"Idempotency-Key": "pay-0004"})
    assert response.json()["code"] == "CONFIRMATION_REQUIRED" and balance(db, h.account_id) == 1000 * YUAN


def test_paycode_over_the_api_and_confirmation(world, db, app):  # type: ignore[no-untyped-def]
    client, h, s = world
    issued = client.post("/api/v1/paycodes")
    assert issued.status_code == 201 and len(issued.json()["code"]) == 18 and issued.json()["refresh_seconds"] == 60
    merchant = TestClient(app)
    charged = signed(merchant, s, "POST", "/api/merchant/v1/paycode-payments",
                     {"code": issued.json()["code"], "amount": 200 * YUAN, "merchant_order_no": "P-9",
                      "description": "x"})
    assert charged.status_code == 202
    pending = client.get("/api/v1/paycodes/pending").json()["charge"]
    assert pending["reference"] == charged.json()["reference"] and pending["amount"]["fen"] == 200 * YUAN
    done = client.post("/api/v1/paycodes/confirm", json={"reference": pending["reference"], "pin": PIN})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert balance(db, h.account_id) == 800 * YUAN
    assert client.get("/api/v1/paycodes/pending").json()["charge"] is None


def test_paycode_confirmation_without_pin_is_refused(world, db, app):  # type: ignore[no-untyped-def]
    client, h, s = world
    code = client.post("/api/v1/paycodes").json()["code"]
    charged = signed(TestClient(app), s, "POST", "/api/merchant/v1/paycode-payments",
                     {"code": code, "amount": 100, "merchant_order_no": "P-9", "description": "x"})
    reference = charged.json()["reference"]
    response = client.post("/api/v1/paycodes/confirm", json={"reference": reference})
    assert response.json()["code"] == "CONFIRMATION_REQUIRED" and balance(db, h.account_id) == 1000 * YUAN


def test_paycode_decline_over_the_api(world, db, app):  # type: ignore[no-untyped-def]
    client, _h, s = world
    code = client.post("/api/v1/paycodes").json()["code"]
    charged = signed(TestClient(app), s, "POST", "/api/merchant/v1/paycode-payments",
                     {"code": code, "amount": 100, "merchant_order_no": "P-9", "description": "x"})
    reference = charged.json()["reference"]
    response = client.post("/api/v1/paycodes/decline", json={"reference": reference})
    assert response.status_code == 200 and response.json()["status"] == "declined"
    assert order_status(db, s, "P-9") == "closed"


def _passkey(db, h):  # type: ignore[no-untyped-def]
    import sys
    from pathlib import Path

    from qianbao.credentials import passkeys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "credentials"))
    from soft_authenticator import SoftAuthenticator

    authenticator = SoftAuthenticator()
    principal = Principal.customer(h.customer_id)
    with db.transaction() as session:
        options = passkeys.registration_options(session, principal, rp_id="testserver", user_name="x",
                                                user_display_name="x")
    with db.transaction() as session:
        passkeys.register_passkey(session, principal, authenticator.create(options, "http://testserver"),
                                  rp_id="testserver", origin="http://testserver", name="test")
    return authenticator


def _assertion(db, h, authenticator, binding):  # type: ignore[no-untyped-def]
    from qianbao.credentials import passkeys

    with db.transaction() as session:
        options = passkeys.step_up_options(session, Principal.customer(h.customer_id), rp_id="testserver",
                                           binding=binding)
    return authenticator.get(options, "http://testserver")


def test_pay_with_a_passkey_bound_to_the_idempotency_key(world, db):  # type: ignore[no-untyped-def]
    client, h, s = world
    authenticator = _passkey(db, h)
    payload = order_code(db, s, 2372)
    wrong = _assertion(db, h, authenticator, "payment:pay-other")
    refused = client.post("/api/v1/qr-payments", json={"payload": payload, "passkey": wrong},
                          headers={"Idempotency-Key": "pay-pk-1"})
    assert refused.json()["code"] == "PASSKEY_CHALLENGE_INVALID" and balance(db, h.account_id) == 1000 * YUAN
    right = _assertion(db, h, authenticator, "payment:pay-pk-1")
    paid = client.post("/api/v1/qr-payments", json={"payload": payload, "passkey": right},
                       headers={"Idempotency-Key": "pay-pk-1"})
    assert paid.status_code == 201 and paid.json()["confirmation"] == "passkey"
    assert balance(db, h.account_id) == 1000 * YUAN - 2372


def test_paycode_charge_confirmed_with_a_passkey(world, db, app):  # type: ignore[no-untyped-def]
    client, h, s = world
    authenticator = _passkey(db, h)
    code = client.post("/api/v1/paycodes").json()["code"]
    charged = signed(TestClient(app), s, "POST", "/api/merchant/v1/paycode-payments",
                     {"code": code, "amount": 100 * YUAN, "merchant_order_no": "P-9", "description": "x"})
    reference = charged.json()["reference"]
    answer = _assertion(db, h, authenticator, f"payment:{reference}")
    done = client.post("/api/v1/paycodes/confirm", json={"reference": reference, "passkey": answer})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert balance(db, h.account_id) == 900 * YUAN
