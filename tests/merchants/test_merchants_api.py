"""The merchant API over HTTP: HMAC signatures (missing, wrong, stale, replayed → 401, nothing done), orders,
refunds, and each merchant reaching only its own orders."""

from __future__ import annotations

import time
from datetime import timedelta

from merchant_helpers import YUAN, signed_request

from qianbao.merchants.models import MerchantNonce, MerchantOrder, MerchantRefund
from qianbao.payments import emvqr

ORDERS = "/api/merchant/v1/orders"


def _order(number: str = "A-1", amount: int = 1250, **extra: object) -> dict[str, object]:
    return {"merchant_order_no": number, "amount": amount, "description": "高铁票 北京南→上海虹桥", **extra}


def test_a_signed_request_creates_an_order_with_a_dynamic_emvco_code(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    response = signed_request(client, m, "POST", ORDERS, _order())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "open" and body["amount"] == 1250 and body["merchant_no"] == m.merchant_no
    target = emvqr.qianbao_target(emvqr.parse(body["qr_payload"]))
    assert (target.merchant_no, target.amount, target.order_ref, target.dynamic) == (
        m.merchant_no, 1250, body["pay_token"], True)
    assert target.bill_number == "A-1"
    assert body["checkout_url"].endswith(f"/m/checkout/{body['pay_token']}")


def test_the_same_order_number_with_the_same_request_answers_with_the_same_order(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    first = signed_request(client, m, "POST", ORDERS, _order())
    again = signed_request(client, m, "POST", ORDERS, _order())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["pay_token"] == first.json()["pay_token"]
    other = signed_request(client, m, "POST", ORDERS, _order(amount=1300))
    assert other.status_code == 409 and other.json()["code"] == "ORDER_NO_TAKEN"
    assert shop.count(MerchantOrder) == 1


def test_a_request_without_signature_headers_is_401(client, shop) -> None:  # type: ignore[no-untyped-def]
    shop.merchant()
    response = client.post(ORDERS, json=_order())
    assert response.status_code == 401 and response.json()["code"] == "MERCHANT_SIGNATURE_MISSING"
    assert shop.count(MerchantOrder) == 0


def test_a_wrong_signature_is_401_and_creates_nothing(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    response = signed_request(client, m, "POST", ORDERS, _order(), secret="qbs_not-the-secret")
    assert response.status_code == 401 and response.json()["code"] == "MERCHANT_SIGNATURE_INVALID"
    assert shop.count(MerchantOrder) == 0 and shop.count(MerchantNonce) == 0


def test_a_body_changed_after_signing_is_401(client, shop) -> None:  # type: ignore[no-untyped-def]
    import json

    from qianbao.merchants import signing

    m = shop.merchant()
    signed_body = json.dumps(_order(amount=100)).encode()
    headers = signing.signed_headers(m.merchant_no, m.secret, "POST", ORDERS, signed_body, api_key=m.api_key)
    tampered = json.dumps(_order(amount=100000)).encode()
    response = client.post(ORDERS, content=tampered, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 401 and response.json()["code"] == "MERCHANT_SIGNATURE_INVALID"
    assert shop.count(MerchantOrder) == 0


def test_a_wrong_api_key_or_unknown_merchant_is_401_with_the_same_code(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    other = shop.merchant(name="别家")
    wrong_key = signed_request(client, m, "GET", ORDERS, api_key=other.api_key)
    unknown = signed_request(client, m, "GET", ORDERS, headers={"X-Qianbao-Merchant": "899999999999999"})
    assert wrong_key.status_code == unknown.status_code == 401
    assert wrong_key.json()["code"] == unknown.json()["code"] == "MERCHANT_SIGNATURE_INVALID"


def test_a_stale_timestamp_is_401(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    old = signed_request(client, m, "POST", ORDERS, _order(), timestamp=int(time.time()) - 301)
    future = signed_request(client, m, "POST", ORDERS, _order(), timestamp=int(time.time()) + 301)
    assert old.status_code == future.status_code == 401
    assert old.json()["code"] == future.json()["code"] == "MERCHANT_TIMESTAMP_STALE"
    assert shop.count(MerchantOrder) == 0


def test_a_replayed_request_is_401_and_does_nothing_twice(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 50 * YUAN, number="B-1")
    shop.pay(order, w)
    body = {"refund_no": "R-1", "amount": 10 * YUAN}
    first = signed_request(client, m, "POST", f"{ORDERS}/B-1/refunds", body, nonce="nonce-replay-000001")
    replay = signed_request(client, m, "POST", f"{ORDERS}/B-1/refunds", body, nonce="nonce-replay-000001")
    assert first.status_code == 201, first.text
    assert replay.status_code == 401 and replay.json()["code"] == "MERCHANT_NONCE_REPLAYED"
    assert shop.count(MerchantRefund) == 1 and shop.balance(w.account_id) == 60 * YUAN


def test_a_nonce_is_spent_even_when_its_request_is_refused(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    refused = signed_request(client, m, "POST", ORDERS, _order(amount=0), nonce="nonce-refused-00001")
    assert refused.status_code == 422
    replay = signed_request(client, m, "POST", ORDERS, _order(amount=0), nonce="nonce-refused-00001")
    assert replay.status_code == 401 and replay.json()["code"] == "MERCHANT_NONCE_REPLAYED"


def test_a_signature_made_with_a_rotated_out_secret_is_401(client, shop) -> None:  # type: ignore[no-untyped-def]
    from qianbao import merchants

    m = shop.merchant()
    creds = shop.run(merchants.rotate_secret, m.id, by=merchants.registry.audit.Actor.staff(1))
    old = signed_request(client, m, "GET", ORDERS)
    new = signed_request(client, m, "GET", ORDERS, secret=creds.secret)
    assert old.status_code == 401 and old.json()["code"] == "MERCHANT_SIGNATURE_INVALID"
    assert new.status_code == 200


def test_a_suspended_merchant_is_refused(client, shop) -> None:  # type: ignore[no-untyped-def]
    from qianbao import merchants

    m = shop.merchant()
    shop.run(merchants.suspend, m.id, "停业整顿", by=merchants.registry.audit.Actor.staff(1))
    response = signed_request(client, m, "POST", ORDERS, _order())
    assert response.status_code == 403 and response.json()["code"] == "MERCHANT_SUSPENDED"
    assert shop.count(MerchantOrder) == 0


def test_a_merchant_cannot_read_close_or_refund_another_merchants_order(client, shop) -> None:  # type: ignore[no-untyped-def]
    mine, other = shop.merchant(), shop.merchant(name="别家")
    w = shop.wallet(100 * YUAN)
    shop.pay(shop.order(mine, 20 * YUAN, number="C-1"), w)
    assert signed_request(client, other, "GET", f"{ORDERS}/C-1").status_code == 404
    assert signed_request(client, other, "POST", f"{ORDERS}/C-1/close").status_code == 404
    refund = signed_request(client, other, "POST", f"{ORDERS}/C-1/refunds", {"refund_no": "X", "amount": 1})
    assert refund.status_code == 404 and refund.json()["code"] == "ORDER_NOT_FOUND"
    assert shop.count(MerchantRefund) == 0


def test_query_close_confirm_and_list_over_the_api(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    signed_request(client, m, "POST", ORDERS, _order("D-1", 500))
    signed_request(client, m, "POST", ORDERS, _order("D-2", 700))
    assert signed_request(client, m, "POST", f"{ORDERS}/D-1/close").json()["status"] == "closed"
    assert signed_request(client, m, "POST", f"{ORDERS}/D-1/confirm").json()["code"] == "ORDER_NOT_PAID"
    shop.pay(shop.get(m, "D-2"), w)
    confirmed = signed_request(client, m, "POST", f"{ORDERS}/D-2/confirm").json()
    assert confirmed["status"] == "paid" and confirmed["confirmed_at"]
    listed = signed_request(client, m, "GET", f"{ORDERS}?limit=1").json()
    assert [o["merchant_order_no"] for o in listed["orders"]] == ["D-2"] and listed["next_before"] == "D-2"
    rest = signed_request(client, m, "GET", f"{ORDERS}?limit=1&before=D-2").json()
    assert [o["merchant_order_no"] for o in rest["orders"]] == ["D-1"]
    paid_only = signed_request(client, m, "GET", f"{ORDERS}?status=paid").json()
    assert [o["merchant_order_no"] for o in paid_only["orders"]] == ["D-2"]


def test_refunds_over_the_api_with_replay_by_refund_number(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    shop.pay(shop.order(m, 30 * YUAN, number="E-1"), w)
    first = signed_request(client, m, "POST", f"{ORDERS}/E-1/refunds", {"refund_no": "E-R1", "amount": 1000})
    again = signed_request(client, m, "POST", f"{ORDERS}/E-1/refunds", {"refund_no": "E-R1", "amount": 1000})
    too_much = signed_request(client, m, "POST", f"{ORDERS}/E-1/refunds", {"refund_no": "E-R2", "amount": 2001})
    assert (first.status_code, again.status_code) == (201, 200)
    assert too_much.status_code == 409 and too_much.json()["code"] == "REFUND_ABOVE_REMAINING"
    order = signed_request(client, m, "GET", f"{ORDERS}/E-1").json()
    assert order["status"] == "partially_refunded" and order["refundable_amount"] == 2000
    assert [r["refund_no"] for r in order["refunds"]] == ["E-R1"]


def test_amounts_must_be_whole_fen(client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    for bad in (12.5, "1250", True):
        response = signed_request(client, m, "POST", ORDERS, _order(amount=bad))  # type: ignore[arg-type]
        assert response.status_code == 422, bad
    assert shop.count(MerchantOrder) == 0


def test_an_order_expires_after_its_expiry(client, shop, clock) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    created = signed_request(client, m, "POST", ORDERS, _order(expires_in=120))
    assert created.status_code == 201
    clock.shift(timedelta(seconds=121))
    assert signed_request(client, m, "GET", f"{ORDERS}/A-1").json()["status"] == "expired"
    bad = signed_request(client, m, "POST", ORDERS, _order("A-2", expires_in=30))
    assert bad.json()["code"] == "ORDER_EXPIRY_INVALID"


def test_a_refused_signature_of_a_known_merchant_is_audited(client, shop) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from qianbao.audit.models import AuditEntry

    m = shop.merchant()
    signed_request(client, m, "GET", ORDERS, secret="qbs_wrong")
    with shop.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.api.refused"))
    assert entry is not None and entry.outcome == "refused" and entry.object_id == str(m.id)
    assert entry.details["code"] == "MERCHANT_SIGNATURE_INVALID"


def test_an_address_with_too_many_refused_signatures_is_rate_limited_even_with_a_right_one(client, shop) -> None:  # type: ignore[no-untyped-def]
    from qianbao.api import merchant_api

    m = shop.merchant()
    for _ in range(merchant_api.FAILURE_LIMIT):
        assert signed_request(client, m, "GET", ORDERS, secret="qbs_wrong").status_code == 401
    right = signed_request(client, m, "GET", ORDERS)
    assert right.status_code == 429 and right.json()["code"] == "RATE_LIMITED"
