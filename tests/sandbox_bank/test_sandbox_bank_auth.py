"""The sandbox bank authenticates every merchant call: signature, timestamp, nonce (a replay does nothing)."""

from __future__ import annotations

import time

from sandbox_bank_helpers import bind, new_card, signed_request

from qianbao.adapters.bank import signing


def _debit_payload(token: str, key: str) -> dict[str, object]:
    return {"token": token, "amount": 1_000, "key": key, "reference": "T1"}


def test_an_unsigned_request_is_refused(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    response = signed_request(sandbox_bank.url, "POST", "/v1/debits", {"token": "x"}, headers={})
    assert (response.status_code, response.json()["code"]) == (401, "SIGNATURE_MISSING")


def test_a_request_signed_with_another_secret_is_refused_and_does_nothing(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    connector = sandbox_bank.connector()
    token = bind(sandbox_bank, connector, new_card(sandbox_bank)).token
    response = signed_request(sandbox_bank.url, "POST", "/v1/debits", _debit_payload(token, "k-secret"),
                              secret="not-the-secret")
    assert (response.status_code, response.json()["code"]) == (401, "SIGNATURE_INVALID")
    assert sandbox_bank.operations("k-secret") == []


def test_a_body_changed_after_signing_is_refused(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    import json

    import httpx

    body = json.dumps({"token": "tok_x", "amount": 1, "key": "k"}).encode()
    headers = signing.sign("sandbox-bank-api-secret-dev-only", "QIANBAO-DEV", "POST", "/v1/debits", body)
    tampered = body.replace(b'"amount": 1', b'"amount": 1000')
    response = httpx.post(sandbox_bank.url + "/v1/debits", content=tampered, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "SIGNATURE_INVALID")


def test_a_stale_timestamp_is_refused(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    for skew in (-400, 400):  # the exact edge is tested in tests/adapters/test_bank_signing.py
        response = signed_request(sandbox_bank.url, "GET", "/v1/operations/k", now=time.time() + skew)
        assert (response.status_code, response.json()["code"]) == (401, "TIMESTAMP_STALE")


def test_a_replayed_request_is_refused_and_moves_nothing(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    import json

    import httpx

    connector = sandbox_bank.connector()
    number = new_card(sandbox_bank, balance=50_000)
    token = bind(sandbox_bank, connector, number).token
    body = json.dumps(_debit_payload(token, "k-replay")).encode()
    headers = signing.sign("sandbox-bank-api-secret-dev-only", "QIANBAO-DEV", "POST", "/v1/debits", body)
    first = httpx.post(sandbox_bank.url + "/v1/debits", content=body, headers=headers)
    again = httpx.post(sandbox_bank.url + "/v1/debits", content=body, headers=headers)
    assert first.status_code == 202
    assert (again.status_code, again.json()["code"]) == (401, "NONCE_REPLAYED")
    assert len(sandbox_bank.operations("k-replay")) == 1
    sandbox_bank.settle()
    assert sandbox_bank.card(number)["balance"] == 49_000


def test_admin_calls_need_the_admin_token(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    import httpx

    response = httpx.get(sandbox_bank.url + "/admin/config", headers={"authorization": "Bearer wrong"})
    assert (response.status_code, response.json()["code"]) == (401, "ADMIN_TOKEN_INVALID")
