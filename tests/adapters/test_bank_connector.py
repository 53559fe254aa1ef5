"""The HTTP bank connector (qianbao.adapters.bank.http): signed requests, retries with the same key, the bank's
refusals as the wallet's codes. The bank here is an httpx mock transport, so each answer is chosen by the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from qianbao.adapters.bank import signing
from qianbao.adapters.bank.http import HttpBankConnector
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

SECRET = "test-api-secret"


class FakeBank:
    """Records every request (after checking its signature) and answers from a script."""

    def __init__(self, answers: list[Callable[[httpx.Request], httpx.Response]]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        signing.verify({"M1": SECRET}, request.headers, request.method, request.url.raw_path.decode(),
                       request.content)
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request)


def _connector(bank: FakeBank, **options: object) -> HttpBankConnector:
    return HttpBankConnector("http://bank.test", "M1", SECRET, transport=httpx.MockTransport(bank),
                             retries=int(options.pop("retries", 2)), backoff=0.0, **options)  # type: ignore[arg-type]


def accepted(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(202, json={"bank_ref": "BR1", "key": body["key"], "status": "processing",
                                     "replayed": False})


def unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"code": "SERVICE_UNAVAILABLE"})


def refused(code: str, status: int = 422, **params: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"code": code, **params})


def test_a_debit_retried_after_a_503_keeps_its_key_with_a_fresh_nonce() -> None:
    bank = FakeBank([unavailable, unavailable, accepted])
    result = _connector(bank).debit("tok_1", 10_000, key="topup:1", reference="T1")
    assert result.bank_ref == "BR1" and result.status == "processing"
    assert len(bank.requests) == 3
    assert {json.loads(r.content)["key"] for r in bank.requests} == {"topup:1"}
    assert len({r.headers[signing.NONCE] for r in bank.requests}) == 3


def test_a_connection_failure_is_retried() -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return accepted(request)

    result = _connector(FakeBank([flaky])).credit("tok_1", 500, key="wd:1")
    assert result.key == "wd:1" and len(calls) == 2


def test_a_bank_that_keeps_failing_is_unavailable_after_the_retries() -> None:
    bank = FakeBank([unavailable])
    with pytest.raises(QianbaoError) as refusal:
        _connector(bank, retries=3).debit("tok_1", 100, key="k")
    assert refusal.value.code == "BANK_UNAVAILABLE"
    assert len(bank.requests) == 4


def test_a_refusal_is_not_retried_and_keeps_its_meaning() -> None:
    bank = FakeBank([refused("OTP_WRONG", tries_left=3)])
    with pytest.raises(QianbaoError) as refusal:
        _connector(bank).confirm_binding("BND1", "000000")
    assert (refusal.value.code, refusal.value.params) == ("BANK_OTP_WRONG", {"tries_left": 3})
    assert len(bank.requests) == 1


@pytest.mark.parametrize(("bank_code", "wallet_code"), [
    ("HOLDER_MISMATCH", "BANK_HOLDER_MISMATCH"), ("PHONE_MISMATCH", "BANK_PHONE_MISMATCH"),
    ("CARD_UNKNOWN", "BANK_CARD_UNKNOWN"), ("CARD_INVALID", "BANK_CARD_INVALID"),
    ("OTP_TOO_MANY_TRIES", "BANK_OTP_TOO_MANY_TRIES"), ("IDEMPOTENCY_CONFLICT", "IDEMPOTENCY_KEY_REUSED"),
    ("SIGNATURE_INVALID", "BANK_AUTH_FAILED"), ("SOMETHING_NEW", "BANK_UNAVAILABLE"),
])
def test_the_banks_codes_map_to_the_wallets(bank_code: str, wallet_code: str) -> None:
    with pytest.raises(QianbaoError) as refusal:
        _connector(FakeBank([refused(bank_code)])).start_binding("6217991000000000018", "李明", "x", "13800000003")
    assert refusal.value.code == wallet_code


def test_start_binding_sends_the_same_request_id_on_a_retry() -> None:
    def challenge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"binding_ref": "BND1", "masked_phone": "138****0003",
                                         "expires_at": "2026-11-25T10:05:00+00:00"})

    bank = FakeBank([unavailable, challenge])
    result = _connector(bank).start_binding("6217 9910 0000 0000 018", "李明", "440305199210110058", "13800000003")
    assert result.ref == "BND1" and result.masked_phone == "138****0003"
    sent = [json.loads(r.content) for r in bank.requests]
    assert sent[0]["request_id"] == sent[1]["request_id"]
    assert sent[0]["card_number"] == "6217991000000000018"


def test_query_of_an_unknown_key_is_none() -> None:
    assert _connector(FakeBank([refused("NOT_FOUND", 404)])).query("nope") is None


def test_query_reads_the_operation_and_its_failure_reason() -> None:
    def operation(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={
            "bank_ref": "BR1", "key": "topup:1", "kind": "debit", "amount": 100, "reference": None,
            "status": "failed", "reason": "INSUFFICIENT_FUNDS", "created_at": "2026-11-25T10:00:00+00:00",
            "completed_at": "2026-11-25T10:00:01+00:00"})

    bank = FakeBank([operation])
    found = _connector(bank).query("topup:1")
    assert found is not None and (found.status, found.reason) == ("failed", "BANK_INSUFFICIENT_FUNDS")
    assert bank.requests[0].url.raw_path == b"/v1/operations/topup%3A1"


def test_an_amount_that_is_not_positive_never_reaches_the_bank() -> None:
    bank = FakeBank([accepted])
    for amount in (0, -1):
        with pytest.raises(QianbaoError) as refusal:
            _connector(bank).debit("tok_1", amount, key="k")
        assert refusal.value.code == "AMOUNT_NOT_POSITIVE"
    assert bank.requests == []


def test_the_debit_names_the_wallets_callback_url() -> None:
    bank = FakeBank([accepted])
    _connector(bank, notify_url="https://wallet.test/api/bank/callbacks").debit("tok_1", 100, key="k")
    assert json.loads(bank.requests[0].content)["notify_url"] == "https://wallet.test/api/bank/callbacks"


def test_production_refuses_the_sandbox_default_secrets(tmp_path: Path) -> None:
    settings = Settings(environment="production", data_dir=tmp_path)
    with pytest.raises(QianbaoError) as refusal:
        HttpBankConnector.from_settings(settings)
    assert refusal.value.code == "CONFIG_BANK_SECRET_DEFAULT"
    own = settings.model_copy(update={"bank_api_secret": "a" * 40, "bank_callback_secret": "b" * 40})
    HttpBankConnector.from_settings(own).close()
