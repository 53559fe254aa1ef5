"""Transfers (转账): the recipient by wallet number or mobile, masked name first, refusals; pages and API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from payments_helpers import PIN, YUAN, Pay, W
from sqlalchemy import select

from qianbao import credentials, payments, wallets
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.payments import transfers
from qianbao.payments.models import PaymentOperation
from qianbao.web import auth


def preview(pay: Pay, payer: W, text: str, amount: int | None = None) -> transfers.TransferPreview:
    return pay.run(transfers.preview, payer.wallet_id, text, amount)


def send(pay: Pay, payer: W, text: str, amount: int, **options: Any) -> payments.Operation:
    options.setdefault("key", pay.key())
    options.setdefault("confirmation", "pin")
    return pay.run(transfers.transfer, payer_wallet_id=payer.wallet_id, recipient=text, amount=amount, **options)


def test_the_recipient_is_found_by_wallet_number_and_shown_masked(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    shown = preview(pay, a, f"{b.number[:4]} {b.number[4:8]} {b.number[8:12]} {b.number[12:]}", 10 * YUAN)
    assert shown.recipient.wallet_id == b.wallet_id
    assert shown.recipient.masked_name == f"{b.phone[3:6]}****{b.phone[-4:]}"  # no real name: masked phone
    assert shown.recipient.masked_number == f"{b.number[:4]} **** **** {b.number[-4:]}"
    assert shown.fee == 0 and shown.total == 10 * YUAN


def test_the_recipient_is_found_by_registered_mobile_number(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    assert preview(pay, a, b.phone[3:]).recipient.wallet_id == b.wallet_id
    assert preview(pay, a, f"+86 {b.phone[3:6]} {b.phone[6:10]} {b.phone[10:]}").recipient.via == "phone"


def test_a_real_named_recipient_is_shown_by_masked_name(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    with pay.db.transaction() as session:
        holder = wallets.get_customer(session, b.customer_id)
        holder.legal_name = "张三丰"
    assert preview(pay, a, b.number).recipient.masked_name == "张*丰"


@pytest.mark.parametrize("text", ["", "abc", "12345", "6217000000000001x", "+1 202 555 0100", "010-12345678"])
def test_a_recipient_that_is_neither_a_wallet_number_nor_a_mobile_is_refused(pay: Pay, text: str) -> None:
    a = pay.open()
    assert pay.refusal(transfers.preview, a.wallet_id, text).code == "TRANSFER_RECIPIENT_INVALID"


def test_a_wallet_number_with_a_wrong_check_digit_is_refused(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    wrong = b.number[:-1] + str((int(b.number[-1]) + 1) % 10)
    assert pay.refusal(transfers.preview, a.wallet_id, wrong).code == "WALLET_NUMBER_INVALID"


def test_an_unknown_recipient_is_refused(pay: Pay) -> None:
    a = pay.open()
    assert pay.refusal(transfers.preview, a.wallet_id, "13700000000").code == "TRANSFER_RECIPIENT_NOT_FOUND"


def test_transferring_to_yourself_is_refused(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 10 * YUAN)
    assert pay.refusal(transfers.preview, a.wallet_id, a.number).code == "TRANSFER_TO_SELF"
    error = pay.refusal(transfers.transfer, payer_wallet_id=a.wallet_id, recipient=a.phone, amount=1,
                        key="self", confirmation="pin")
    assert error.code == "TRANSFER_TO_SELF" and pay.balance(a) == 10 * YUAN


def test_a_frozen_recipient_is_refused_at_preview_and_at_transfer(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 10 * YUAN)
    pay.run(wallets.report_loss, b.wallet_id, customer_id=b.customer_id)
    assert pay.refusal(transfers.preview, a.wallet_id, b.number).code == "RECIPIENT_CANNOT_RECEIVE"
    error = pay.refusal(transfers.transfer, payer_wallet_id=a.wallet_id, recipient=b.number, amount=1,
                        key="frozen", confirmation="pin")
    assert error.code == "RECIPIENT_CANNOT_RECEIVE" and pay.balance(a) == 10 * YUAN


def test_recipient_look_ups_are_rate_limited(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    for _ in range(transfers.LOOKUPS_PER_HOUR):
        preview(pay, a, b.number)
    assert pay.refusal(transfers.preview, a.wallet_id, b.number).code == "RATE_LIMITED"


def test_a_transfer_with_a_note_reaches_the_recipient(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 100 * YUAN)
    op = send(pay, a, b.phone, 30 * YUAN, note="房租")
    assert op.status == "succeeded" and op.note == "房租"
    assert op.counterparty_label == f"{b.phone[3:6]}****{b.phone[-4:]} · {b.number[-4:]}"
    assert pay.balance(a) == 70 * YUAN and pay.balance(b) == 30 * YUAN


def test_a_transfer_over_the_single_limit_is_refused(pay: Pay) -> None:
    a, b = pay.open(), pay.open(tier=1)
    pay.fund(a, 3_000 * YUAN)
    with pytest.raises(QianbaoError) as caught:
        send(pay, a, b.number, 2_000 * YUAN + 1)
    assert caught.value.code == "LIMIT_EXCEEDED" and caught.value.params["limit"] == "single"
    assert pay.balance(b) == 0


def test_a_retried_transfer_is_answered_even_after_the_recipient_was_frozen(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 100 * YUAN)
    first = send(pay, a, b.number, 10 * YUAN, key="retry")
    pay.run(wallets.report_loss, b.wallet_id, customer_id=b.customer_id)
    again = send(pay, a, b.number, 10 * YUAN, key="retry")
    assert again.replayed and again.id == first.id and pay.balance(a) == 90 * YUAN


# ----------------------------------------------------------------------------------------------- pages

HTML = {"accept": "text/html"}


def signed_in(client: Any, pay: Pay, w: W) -> str:
    with pay.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(w.customer_id), settings=pay.settings)
        token, csrf = started.token, credentials.csrf_token(started.record)
    client.cookies.set(auth.customer_cookie(pay.settings).name, token)
    return csrf


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def test_the_transfer_page_walks_preview_confirm_result(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    csrf = signed_in(client, pay, a)
    assert client.get("/app/transfer", headers=HTML).status_code == 200
    page = client.post("/app/transfer/preview", headers=HTML, data={
        "csrf_token": csrf, "recipient": b.phone[3:], "amount": "12.34", "note": "咖啡"})
    assert page.status_code == 200
    assert f"{b.phone[3:6]}****{b.phone[-4:]}" in page.text and "12.34" in page.text
    done = client.post("/app/transfer", headers=HTML, follow_redirects=False, data={
        "csrf_token": csrf, "recipient": field(page.text, "recipient"), "amount": field(page.text, "amount"),
        "note": field(page.text, "note"), "client_key": field(page.text, "client_key"), "pin": PIN})
    assert done.status_code == 303
    result = client.get(done.headers["location"], headers=HTML)
    assert result.status_code == 200 and 'data-status="succeeded"' in result.text
    assert pay.balance(a) == 100 * YUAN - 1234 and pay.balance(b) == 1234
    # the same confirm form posted again (a double click) is one transfer
    again = client.post("/app/transfer", headers=HTML, follow_redirects=False, data={
        "csrf_token": csrf, "recipient": b.phone[3:], "amount": "12.34", "note": "咖啡",
        "client_key": field(page.text, "client_key"), "pin": PIN})
    assert again.headers["location"] == done.headers["location"] and pay.balance(b) == 1234


def test_the_transfer_page_shows_a_wrong_pin_and_moves_nothing(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    csrf = signed_in(client, pay, a)
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": "5"})
    wrong = client.post("/app/transfer", headers=HTML, data={
        "csrf_token": csrf, "recipient": b.number, "amount": "5.00", "note": "",
        "client_key": field(page.text, "client_key"), "pin": "000000"})
    assert wrong.status_code == 403 and "支付密码" in wrong.text
    assert pay.balance(a) == 100 * YUAN and pay.operations() == 1  # the top-up only


@pytest.mark.parametrize(("amount", "message"), [("12.345", "两位小数"), ("0", "大于"), ("abc", "金额")])
def test_the_transfer_form_refuses_a_bad_amount_next_to_its_field(client, pay: Pay, amount: str,  # type: ignore[no-untyped-def]
                                                                  message: str) -> None:
    a, b = pay.open(pin=True), pay.open()
    csrf = signed_in(client, pay, a)
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": amount})
    assert page.status_code == 422 and 'id="amount-error"' in page.text


def test_the_transfer_form_refuses_an_unknown_recipient(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a = pay.open(pin=True)
    csrf = signed_in(client, pay, a)
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": "13700000000", "amount": "1"})
    assert page.status_code == 404 and 'id="recipient-error"' in page.text


def test_password_free_transfers_need_no_pin_within_the_threshold(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 500 * YUAN)
    csrf = signed_in(client, pay, a)
    saved = client.post("/app/settings/payments", headers=HTML, follow_redirects=False,
                        data={"csrf_token": csrf, "enabled": "on", "threshold": "50", "pin": PIN})
    assert saved.status_code == 303
    assert "已开启" in client.get("/app/settings/payments", headers=HTML).text
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": "50"})
    assert 'data-testid="password-free-hint"' in page.text
    done = client.post("/app/transfer", headers=HTML, follow_redirects=False, data={
        "csrf_token": csrf, "recipient": b.number, "amount": "50.00", "note": "",
        "client_key": field(page.text, "client_key"), "pin": ""})
    assert done.status_code == 303 and pay.balance(b) == 50 * YUAN
    with pay.db.read() as session:
        op = session.scalar(select(PaymentOperation).where(PaymentOperation.kind == "transfer"))
    assert op is not None and op.confirmation == "password_free"
    over = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": "50.01"})
    refused = client.post("/app/transfer", headers=HTML, data={
        "csrf_token": csrf, "recipient": b.number, "amount": "50.01", "note": "",
        "client_key": field(over.text, "client_key"), "pin": ""})
    assert refused.status_code == 422 and pay.balance(b) == 50 * YUAN


def test_payment_settings_need_the_pin(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a = pay.open(pin=True)
    csrf = signed_in(client, pay, a)
    refused = client.post("/app/settings/payments", headers=HTML,
                          data={"csrf_token": csrf, "enabled": "on", "threshold": "50", "pin": "000000"})
    assert refused.status_code == 403
    assert not pay.run(payments.payment_settings, a.customer_id).password_free_enabled
    over = client.post("/app/settings/payments", headers=HTML,
                       data={"csrf_token": csrf, "enabled": "on", "threshold": "1000.01", "pin": PIN})
    assert over.status_code == 422


def test_another_customers_transfer_result_is_not_found(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b, c = pay.open(), pay.open(), pay.open(pin=True)
    pay.fund(a, 10 * YUAN)
    op = send(pay, a, b.number, 1 * YUAN)
    signed_in(client, pay, c)
    assert client.get(f"/app/transfer/{op.reference}", headers=HTML).status_code == 404


# ------------------------------------------------------------------------------------------------- API


def bearer(pay: Pay, w: W, key: str | None = None) -> dict[str, str]:
    with pay.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(w.customer_id), settings=pay.settings)
    headers = {"accept": "application/json", "authorization": f"Bearer {started.token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def test_the_api_previews_and_transfers_with_an_idempotency_key(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    headers = bearer(pay, a, "k-0000000000000001")
    shown = client.get("/api/v1/transfers/preview", params={"recipient": b.number, "amount": "10.50"},
                       headers=headers)
    assert shown.status_code == 200
    assert shown.json()["recipient"]["masked_name"] == f"{b.phone[3:6]}****{b.phone[-4:]}"
    assert shown.json()["fee"] == {"fen": 0, "yuan": "0.00"}
    body = {"recipient": b.number, "amount": "10.50", "note": "书", "pin": PIN}
    first = client.post("/api/v1/transfers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["amount"] == {"fen": 1050, "yuan": "10.50"} and not first.json()["replayed"]
    again = client.post("/api/v1/transfers", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["replayed"]
    assert again.json()["reference"] == first.json()["reference"]
    other = client.post("/api/v1/transfers", json={**body, "amount": "11.00"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert pay.balance(a) == 100 * YUAN - 1050
    got = client.get(f"/api/v1/transfers/{first.json()['reference']}", headers=headers)
    assert got.status_code == 200 and got.json()["note"] == "书"


@pytest.mark.parametrize(("amount", "code"), [("1.001", "AMOUNT_TOO_MANY_DECIMALS"), ("-1", "AMOUNT_NOT_POSITIVE"),
                                              ("1e3", "AMOUNT_INVALID"), ("", "AMOUNT_INVALID")])
def test_the_api_refuses_a_bad_amount(client, pay: Pay, amount: str, code: str) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    response = client.post("/api/v1/transfers", json={"recipient": b.number, "amount": amount, "pin": PIN},
                           headers=bearer(pay, a, "k-0000000000000002"))
    assert response.status_code == 422 and response.json()["code"] == code
    assert pay.balance(a) == 100 * YUAN


def test_the_api_needs_an_idempotency_key(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    response = client.post("/api/v1/transfers", json={"recipient": b.number, "amount": "1", "pin": PIN},
                           headers=bearer(pay, a))
    assert response.status_code == 400 and response.json()["code"] == "IDEMPOTENCY_KEY_MISSING"


def test_the_api_refuses_a_transfer_over_the_balance_naming_nothing_of_the_recipient(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 1 * YUAN)
    response = client.post("/api/v1/transfers", json={"recipient": b.number, "amount": "2", "pin": PIN},
                           headers=bearer(pay, a, "k-0000000000000003"))
    assert response.status_code == 422 and response.json()["code"] == "INSUFFICIENT_BALANCE"


def test_the_api_without_pin_asks_for_a_confirmation(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 10 * YUAN)
    response = client.post("/api/v1/transfers", json={"recipient": b.number, "amount": "2"},
                           headers=bearer(pay, a, "k-0000000000000004"))
    assert response.status_code == 422 and response.json()["code"] == "CONFIRMATION_REQUIRED"
    assert pay.balance(a) == 10 * YUAN


# --------------------------------------------------------------------------------------------- passkey


def _soft_authenticator() -> Any:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "credentials"))
    from soft_authenticator import SoftAuthenticator

    return SoftAuthenticator()


def _with_passkey(pay: Pay, w: W) -> Any:
    from qianbao.credentials import passkeys

    authenticator = _soft_authenticator()
    principal = Principal.customer(w.customer_id)
    options = pay.run(passkeys.registration_options, principal, rp_id="testserver", user_name="x",
                      user_display_name="x")
    pay.run(passkeys.register_passkey, principal, authenticator.create(options, "http://testserver"),
            rp_id="testserver", origin="http://testserver", name="test")
    return authenticator


def test_a_transfer_is_confirmed_with_a_passkey_bound_to_it(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    import json

    from qianbao.credentials import passkeys

    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    authenticator = _with_passkey(pay, a)
    csrf = signed_in(client, pay, a)
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": "7"})
    assert 'data-testid="transfer-passkey"' in page.text
    client_key = field(page.text, "client_key")
    form = {"csrf_token": csrf, "recipient": b.number, "amount": "7.00", "note": "", "client_key": client_key,
            "pin": ""}
    # an assertion made for another operation is refused
    other = pay.run(passkeys.step_up_options, Principal.customer(a.customer_id), rp_id="testserver",
                    binding="transfer:another-key-0000000")
    refused = client.post("/app/transfer", headers=HTML, data={
        **form, "passkey": json.dumps(authenticator.get(other, "http://testserver"))})
    assert refused.status_code == 400 and pay.balance(b) == 0
    options = pay.run(passkeys.step_up_options, Principal.customer(a.customer_id), rp_id="testserver",
                      binding=f"transfer:{client_key}")
    done = client.post("/app/transfer", headers=HTML, follow_redirects=False, data={
        **form, "passkey": json.dumps(authenticator.get(options, "http://testserver"))})
    assert done.status_code == 303 and pay.balance(b) == 7 * YUAN
    with pay.db.read() as session:
        op = session.scalar(select(PaymentOperation).where(PaymentOperation.kind == "transfer"))
    assert op is not None and op.confirmation == "passkey"


def test_the_transfer_form_shows_the_balance_and_what_the_limits_leave(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 6_000 * YUAN)
    pay.execute(pay.order(a, b, 1_500 * YUAN))
    pay.execute(pay.order(a, b, 1_600 * YUAN))
    signed_in(client, pay, a)
    page = client.get("/app/transfer", headers=HTML)
    shown = re.search(r'data-testid="transfer-available">([^<]*)<', page.text)
    assert shown and "¥2,900.00" in shown.group(1) and "¥1,900.00" in shown.group(1)  # daily 5,000 − 3,100


def test_a_confirm_form_reposted_with_another_amount_is_refused(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    csrf = signed_in(client, pay, a)
    page = client.post("/app/transfer/preview", headers=HTML,
                       data={"csrf_token": csrf, "recipient": b.number, "amount": "5"})
    form = {"csrf_token": csrf, "recipient": b.number, "amount": "5.00", "note": "",
            "client_key": field(page.text, "client_key"), "pin": PIN}
    assert client.post("/app/transfer", headers=HTML, follow_redirects=False, data=form).status_code == 303
    forged = client.post("/app/transfer", headers=HTML, data={**form, "amount": "50.00"})
    assert forged.status_code == 409 and pay.balance(b) == 5 * YUAN
