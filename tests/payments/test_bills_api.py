"""The customer JSON API for bills, parcels and withholding agreements (bearer token, Idempotency-Key)."""

from __future__ import annotations

from bills_helpers import PIN, WATER_DUE, WATER_PAID_UP, YUAN, Kit, bearer

from qianbao.payments import parcels
from qianbao.payments.bills_models import BillPayment, WithholdingAgreement


def _due(client, headers, reference: str = WATER_DUE) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = client.post("/api/v1/bills/lookup", json={"biller": "SH-WATER", "reference": reference},
                           headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_billers_are_listed(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(kit, kit.open())
    listed = bills_client.get("/api/v1/billers", headers=headers).json()
    assert [b["category"] for b in listed] == ["water", "electricity", "gas", "telecom"]


def test_lookup_and_pay_with_an_idempotency_key(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    headers = bearer(kit, w)
    due = _due(bills_client, headers)
    assert due["nothing_due"] is False and "*" in due["holder"]
    body = {"biller": "SH-WATER", "reference": WATER_DUE, "bill_id": due["bill_id"],
            "amount_fen": due["amount"]["fen"], "pin": PIN}
    paid = bills_client.post("/api/v1/bills/payments", json=body, headers={**headers, "Idempotency-Key": "pay-1"})
    assert paid.status_code == 201, paid.text
    assert (paid.json()["status"], paid.json()["replayed"]) == ("succeeded", False)
    again = bills_client.post("/api/v1/bills/payments", json=body, headers={**headers, "Idempotency-Key": "pay-1"})
    assert again.json()["replayed"] is True and again.json()["reference"] == paid.json()["reference"]
    assert kit.posted(w) == 500 * YUAN - due["amount"]["fen"]
    fetched = bills_client.get(f"/api/v1/bills/payments/{paid.json()['reference']}", headers=headers)
    assert fetched.json()["biller_confirmation"]


def test_paying_needs_an_idempotency_key(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    headers = bearer(kit, w)
    due = _due(bills_client, headers)
    response = bills_client.post("/api/v1/bills/payments", headers=headers, json={
        "biller": "SH-WATER", "reference": WATER_DUE, "bill_id": due["bill_id"], "amount_fen": due["amount"]["fen"],
        "pin": PIN})
    assert (response.status_code, response.json()["code"]) == (400, "IDEMPOTENCY_KEY_MISSING")
    assert kit.count(BillPayment) == 0


def test_refusals_are_problem_json_with_their_code(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(kit, kit.open())
    response = bills_client.post("/api/v1/bills/lookup", json={"biller": "SH-WATER", "reference": "123"},
                                 headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "BILL_REFERENCE_INVALID"
    assert _due(bills_client, headers, WATER_PAID_UP)["nothing_due"] is True


def test_saved_billers_over_the_api(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    headers = bearer(kit, w)
    saved = bills_client.post("/api/v1/bills/saved", json={"biller": "SH-WATER", "reference": WATER_DUE,
                                                           "label": "家"}, headers=headers)
    assert saved.status_code == 201 and saved.json()["reference_masked"].startswith("3100")
    assert len(bills_client.get("/api/v1/bills/saved", headers=headers).json()) == 1
    assert bills_client.delete(f"/api/v1/bills/saved/{saved.json()['id']}", headers=headers).status_code == 204
    other = bearer(kit, kit.open())
    assert bills_client.get("/api/v1/bills/saved", headers=other).json() == []


def test_pay_a_parcel_over_the_api(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=100 * YUAN)
    order = kit.run(parcels.create_shipping_order, customer_id=w.customer_id, receiver_city="上海", weight_grams=500)
    headers = bearer(kit, w)
    [listed] = bills_client.get("/api/v1/parcels", headers=headers).json()
    assert (listed["order_no"], listed["status"]) == (order.order_no, "awaiting_payment")
    paid = bills_client.post(f"/api/v1/parcels/{order.order_no}/pay", json={"pin": PIN},
                             headers={**headers, "Idempotency-Key": "parcel-1"})
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["paid_via"]) == ("paid", "app")
    assert kit.posted(w) == 90 * YUAN


def test_someone_elses_parcel_is_not_found_over_the_api(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=100 * YUAN)
    order = kit.run(parcels.create_shipping_order, customer_id=w.customer_id, receiver_city="上海", weight_grams=500)
    other = bearer(kit, kit.open(fund=100 * YUAN))
    response = bills_client.post(f"/api/v1/parcels/{order.order_no}/pay", json={"pin": PIN},
                                 headers={**other, "Idempotency-Key": "x"})
    assert response.status_code == 404
    assert kit.posted(w) == 100 * YUAN


def test_sign_retry_and_cancel_an_agreement_over_the_api(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    headers = {**bearer(kit, w), "Idempotency-Key": "sign-1"}
    body = {"per_payment_cap": "80", "monthly_cap": "300.00", "pin": PIN}
    signed = bills_client.post("/api/v1/agreements", json=body, headers=headers)
    assert signed.status_code == 201, signed.text
    again = bills_client.post("/api/v1/agreements", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == signed.json()["id"]
    assert kit.count(WithholdingAgreement) == 1
    cancelled = bills_client.post(f"/api/v1/agreements/{signed.json()['id']}/cancel", headers=headers)
    assert cancelled.json()["status"] == "cancelled"
    assert bills_client.get("/api/v1/agreements", headers=headers).json()[0]["status"] == "cancelled"


def test_signing_without_the_pin_is_refused_over_the_api(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    response = bills_client.post("/api/v1/agreements", json={"per_payment_cap": "80", "monthly_cap": "300"},
                                 headers={**bearer(kit, w), "Idempotency-Key": "sign-2"})
    assert (response.status_code, response.json()["code"]) == (422, "CONFIRMATION_REQUIRED")
    assert kit.count(WithholdingAgreement) == 0
