"""Debits and credits at the sandbox bank: idempotency keys, the card's balance, failures, latency and errors."""

from __future__ import annotations

import pytest
from sandbox_bank_helpers import bind, new_card

from qianbao.errors import QianbaoError


@pytest.fixture
def card(sandbox_bank):  # type: ignore[no-untyped-def]
    """(number, token) of a bound debit card holding 1,000.00 yuan."""
    number = new_card(sandbox_bank, balance=100_000)
    return number, bind(sandbox_bank, sandbox_bank.connector(), number).token


def _callback(sandbox_bank, key: str) -> dict:  # type: ignore[no-untyped-def]
    (callback,) = sandbox_bank.callbacks(key)
    return callback["body"]  # type: ignore[no-any-return]


def test_a_debit_is_accepted_then_takes_the_money_from_the_card(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    accepted = sandbox_bank.connector().debit(token, 30_000, key="topup:1", reference="T1")
    assert (accepted.status, accepted.replayed) == ("processing", False)
    assert sandbox_bank.card(number)["balance"] == 100_000, "nothing moves before the bank settles"
    sandbox_bank.settle()
    assert sandbox_bank.card(number)["balance"] == 70_000
    event = _callback(sandbox_bank, "topup:1")
    assert (event["kind"], event["status"], event["amount"], event["key"], event["reference"]) == (
        "debit", "succeeded", 30_000, "topup:1", "T1")
    assert event["bank_ref"] == accepted.bank_ref


def test_a_credit_pays_the_card(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    sandbox_bank.connector().credit(token, 12_345, key="wd:1")
    sandbox_bank.settle()
    assert sandbox_bank.card(number)["balance"] == 112_345
    assert _callback(sandbox_bank, "wd:1")["kind"] == "credit"


def test_the_same_key_gives_the_same_answer_and_moves_once(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    connector = sandbox_bank.connector()
    first = connector.debit(token, 10_000, key="topup:same", reference="T")
    again = connector.debit(token, 10_000, key="topup:same", reference="T")
    assert again.bank_ref == first.bank_ref and again.replayed
    sandbox_bank.settle()
    assert connector.debit(token, 10_000, key="topup:same", reference="T").status == "succeeded"
    assert sandbox_bank.card(number)["balance"] == 90_000
    assert len(sandbox_bank.callbacks("topup:same")) == 1


def test_the_same_key_with_another_request_is_refused(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    _number, token = card
    connector = sandbox_bank.connector()
    connector.debit(token, 10_000, key="topup:k")
    with pytest.raises(QianbaoError) as refusal:
        connector.debit(token, 10_001, key="topup:k")
    assert refusal.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert len(sandbox_bank.operations("topup:k")) == 1


def test_a_debit_above_the_cards_balance_fails_with_insufficient_funds(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    sandbox_bank.connector().debit(token, 100_001, key="topup:big")
    sandbox_bank.settle()
    event = _callback(sandbox_bank, "topup:big")
    assert (event["status"], event["reason"]) == ("failed", "INSUFFICIENT_FUNDS")
    assert sandbox_bank.card(number)["balance"] == 100_000


def test_a_card_frozen_after_binding_fails_its_debits(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    sandbox_bank.update_card(number, frozen=True)
    sandbox_bank.connector().debit(token, 1_000, key="topup:frozen")
    sandbox_bank.settle()
    assert _callback(sandbox_bank, "topup:frozen")["reason"] == "CARD_FROZEN"
    assert sandbox_bank.card(number)["balance"] == 100_000


def test_the_failure_rate_declines_what_would_succeed(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    sandbox_bank.configure(failure_rate=1.0)
    sandbox_bank.connector().debit(token, 1_000, key="topup:declined")
    sandbox_bank.settle()
    assert _callback(sandbox_bank, "topup:declined")["reason"] == "DECLINED"
    assert sandbox_bank.card(number)["balance"] == 100_000


def test_a_revoked_token_is_refused(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    _number, token = card
    connector = sandbox_bank.connector()
    connector.unbind(token)
    with pytest.raises(QianbaoError) as refusal:
        connector.debit(token, 1_000, key="topup:revoked")
    assert refusal.value.code == "BANK_TOKEN_INVALID"
    assert sandbox_bank.operations("topup:revoked") == []


def test_an_amount_the_bank_cannot_take_is_refused(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    from sandbox_bank_helpers import signed_request

    _number, token = card
    for amount in (0, -5, 1.5, "100"):
        answer = signed_request(sandbox_bank.url, "POST", "/v1/debits", {"token": token, "amount": amount, "key": "a"})
        assert (answer.status_code, answer.json()["code"]) == (422, "AMOUNT_INVALID")


def test_query_tells_the_operation_by_its_key(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    _number, token = card
    connector = sandbox_bank.connector()
    assert connector.query("topup:q") is None
    connector.debit(token, 2_500, key="topup:q", reference="T9")
    assert connector.query("topup:q").status == "processing"  # type: ignore[union-attr]
    sandbox_bank.settle(status="failed", reason="INSUFFICIENT_FUNDS")
    found = connector.query("topup:q")
    assert found is not None and (found.status, found.reason, found.amount, found.reference) == (
        "failed", "BANK_INSUFFICIENT_FUNDS", 2_500, "T9")
    assert found.completed_at is not None


def test_an_erroring_bank_is_unavailable_after_the_retries_and_keeps_nothing(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    _number, token = card
    sandbox_bank.configure(error_rate=1.0)
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector(retries=2).debit(token, 1_000, key="topup:err")
    assert refusal.value.code == "BANK_UNAVAILABLE"
    sandbox_bank.configure(error_rate=0.0)
    assert sandbox_bank.operations("topup:err") == []


def test_a_debit_that_timed_out_is_retried_with_its_key_and_moves_once(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    number, token = card
    sandbox_bank.configure(latency_ms=1_500)
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector(timeout=0.3, retries=0).debit(token, 4_000, key="topup:slow")
    assert refusal.value.code == "BANK_UNAVAILABLE"
    sandbox_bank.configure(latency_ms=0)
    again = sandbox_bank.connector().debit(token, 4_000, key="topup:slow")
    sandbox_bank.settle()
    assert len(sandbox_bank.operations("topup:slow")) == 1
    assert sandbox_bank.connector().query("topup:slow").bank_ref == again.bank_ref  # type: ignore[union-attr]
    assert sandbox_bank.card(number)["balance"] == 96_000


def test_the_configuration_can_be_read_and_changed_at_run_time(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    import httpx

    changed = sandbox_bank.configure(latency_ms=5, failure_rate=0.25, processing_ms=10)
    assert (changed["latency_ms"], changed["failure_rate"], changed["processing_ms"]) == (5, 0.25, 10)
    for bad in ({"failure_rate": 2}, {"no_such_setting": 1}):
        with pytest.raises(httpx.HTTPStatusError):
            sandbox_bank.configure(**bad)
    assert sandbox_bank.config()["failure_rate"] == 0.25


def test_the_settlement_file_is_downloaded_through_the_signed_api(sandbox_bank, card) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io
    from datetime import datetime

    from qianbao.sandbox_bank.service import SHANGHAI

    _number, token = card
    connector = sandbox_bank.connector()
    first = connector.debit(token, 1_500, key="topup:file", reference="T-file")
    connector.credit(token, 700, key="wd:file")
    sandbox_bank.settle()
    today = datetime.now(SHANGHAI).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(connector.settlement_file(today))))
    by_key = {row["merchant_key"]: row for row in rows}
    assert by_key["topup:file"]["bank_ref"] == first.bank_ref
    assert (by_key["topup:file"]["type"], by_key["topup:file"]["amount_fen"], by_key["topup:file"]["status"]) == (
        "debit", "1500", "succeeded")
    assert by_key["wd:file"]["type"] == "credit" and by_key["topup:file"]["reference"] == "T-file"
    with pytest.raises(QianbaoError) as refusal:
        connector.settlement_file("2026-13-45")
    assert refusal.value.code == "VALIDATION_FAILED"
