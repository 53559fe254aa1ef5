"""The customer pages /app/bills, /app/parcels and /app/agreements: each flow and its refusals in the page."""

from __future__ import annotations

import re

from bills_helpers import HTML, PIN, WATER_DUE, WATER_REFUSING, YUAN, Kit, form_value, signed_in

from qianbao.payments import bills, parcels, withholding
from qianbao.payments.bills_models import BillPayment


def _lookup(client, csrf: str, reference: str = WATER_DUE, biller: str = "SH-WATER"):  # type: ignore[no-untyped-def]
    return client.post("/app/bills/lookup", data={"biller": biller, "reference": reference, "csrf_token": csrf},
                       headers=HTML)


def _pay_form(page: str, csrf: str, pin: str = PIN) -> dict[str, str]:
    fields = {name: form_value(page, name) for name in ("client_key", "biller", "reference", "bill_id", "amount")}
    return {**fields, "pin": pin, "save": "1", "csrf_token": csrf}


def test_the_bills_page_offers_the_billers(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    signed_in(bills_client, kit, w)
    page = bills_client.get("/app/bills", headers=HTML)
    assert page.status_code == 200
    for name in ("上海市自来水", "国网上海市电力公司", "上海燃气", "中国电信"):
        assert name in page.text


def test_look_up_then_pay_with_the_pin_shows_the_receipt(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    csrf = signed_in(bills_client, kit, w)
    due = _lookup(bills_client, csrf)
    assert due.status_code == 200 and 'data-testid="due-amount"' in due.text
    paid = bills_client.post("/app/bills/pay", data=_pay_form(due.text, csrf), headers=HTML, follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"].startswith("/app/bills/payments/")
    receipt = bills_client.get(paid.headers["location"], headers=HTML)
    assert 'data-status="succeeded"' in receipt.text
    amount = int(form_value(due.text, "amount"))
    assert kit.posted(w) == 500 * YUAN - amount
    # saved for next time
    assert [s.reference for s in kit.read(bills.saved_billers, w.customer_id)] == [WATER_DUE]
    # and in the transaction history, with the biller and the masked account
    records = bills_client.get("/app/records", headers=HTML)
    assert records.status_code == 200 and "上海市自来水" in records.text and WATER_DUE not in records.text


def test_a_mistyped_account_number_is_shown_next_to_its_field(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    csrf = signed_in(bills_client, kit, w)
    page = _lookup(bills_client, csrf, reference="12345")
    assert page.status_code == 422
    assert 'id="reference-error"' in page.text and 'aria-invalid="true"' in page.text


def test_a_wrong_pin_is_shown_on_the_confirmation_page_and_nothing_moves(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    csrf = signed_in(bills_client, kit, w)
    due = _lookup(bills_client, csrf)
    page = bills_client.post("/app/bills/pay", data=_pay_form(due.text, csrf, pin="135792"), headers=HTML)
    assert page.status_code == 403 and 'id="pin-error"' in page.text
    assert kit.posted(w) == kit.available(w) == 500 * YUAN and kit.count(BillPayment) == 0


def test_a_refusal_by_the_biller_shows_a_failed_receipt(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=500 * YUAN)
    csrf = signed_in(bills_client, kit, w)
    due = _lookup(bills_client, csrf, reference=WATER_REFUSING)
    receipt = bills_client.post("/app/bills/pay", data=_pay_form(due.text, csrf), headers=HTML)
    assert 'data-status="failed"' in receipt.text and 'data-testid="bill-failure"' in receipt.text
    assert kit.available(w) == 500 * YUAN


def test_another_customers_receipt_is_not_found(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w, other = kit.open(fund=500 * YUAN), kit.open()
    csrf = signed_in(bills_client, kit, w)
    due = _lookup(bills_client, csrf)
    location = bills_client.post("/app/bills/pay", data=_pay_form(due.text, csrf), headers=HTML,
                                 follow_redirects=False).headers["location"]
    signed_in(bills_client, kit, other)
    assert bills_client.get(location, headers=HTML).status_code == 404


def test_pay_a_parcel_in_one_tap(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open(fund=100 * YUAN)
    order = kit.run(parcels.create_shipping_order, customer_id=w.customer_id, receiver_city="北京", weight_grams=900)
    csrf = signed_in(bills_client, kit, w)
    page = bills_client.get("/app/parcels", headers=HTML)
    assert order.order_no in page.text
    key = re.search(rf'action="/app/parcels/{order.order_no}/pay".*?name="client_key" value="([^"]+)"', page.text,
                    re.S)
    assert key
    done = bills_client.post(f"/app/parcels/{order.order_no}/pay",
                             data={"client_key": key.group(1), "pin": PIN, "csrf_token": csrf}, headers=HTML,
                             follow_redirects=False)
    assert done.status_code == 303
    assert kit.read(parcels.get_order, w.customer_id, order.order_no).status == "paid"
    assert kit.posted(w) == 82 * YUAN


def test_sign_and_cancel_an_agreement_on_the_agreements_page(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    csrf = signed_in(bills_client, kit, w)
    refused = bills_client.post("/app/agreements", data={"per_payment_cap": "9999", "monthly_cap": "10000",
                                                         "pin": PIN, "csrf_token": csrf}, headers=HTML)
    assert refused.status_code == 422 and 'id="per_payment_cap-error"' in refused.text
    signed = bills_client.post("/app/agreements", data={"per_payment_cap": "50", "monthly_cap": "200", "pin": PIN,
                                                        "csrf_token": csrf}, headers=HTML)
    assert signed.status_code == 200 and 'data-status="active"' in signed.text
    [agreement] = kit.read(withholding.list_agreements, w.customer_id)
    assert (agreement.per_payment_cap, agreement.monthly_cap) == (50 * YUAN, 200 * YUAN)
    cancelled = bills_client.post(f"/app/agreements/{agreement.public_id}/cancel", data={"csrf_token": csrf},
                                  headers=HTML)
    assert 'data-status="cancelled"' in cancelled.text


def test_signing_an_agreement_with_a_wrong_pin_is_refused(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    csrf = signed_in(bills_client, kit, w)
    page = bills_client.post("/app/agreements", data={"per_payment_cap": "50", "monthly_cap": "200",
                                                      "pin": "135792", "csrf_token": csrf}, headers=HTML)
    assert page.status_code == 403 and 'id="pin-error"' in page.text
    assert kit.read(withholding.list_agreements, w.customer_id) == []


def test_the_pages_work_in_english(kit: Kit, bills_client) -> None:  # type: ignore[no-untyped-def]
    w = kit.open()
    signed_in(bills_client, kit, w)
    for path in ("/app/bills", "/app/parcels", "/app/agreements"):
        page = bills_client.get(path + "?lang=en", headers=HTML)
        assert page.status_code == 200 and 'lang="en"' in page.text
