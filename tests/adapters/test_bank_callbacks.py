"""The wallet's bank-callback endpoint (POST /api/bank/callbacks): a forged, stale or replayed callback is 401 and
changes nothing; a genuine one is accepted once and handed to the handler registered for its kind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from qianbao.adapters.bank import callbacks, signing
from qianbao.adapters.bank.models import BankCallbackEvent, BankCallbackNonce

PATH = "/api/bank/callbacks"


@pytest.fixture
def handled() -> Iterator[list[callbacks.BankEvent]]:
    """A debit handler that records the events it is given (and writes an audit entry, to see rollbacks)."""
    seen: list[callbacks.BankEvent] = []
    previous = callbacks.handler_for("debit")

    def on_debit(session: Any, event: callbacks.BankEvent) -> None:
        from qianbao import audit

        audit.record(session, action="test.bank_event", actor=audit.Actor.system("test"), details={"key": event.key})
        seen.append(event)

    callbacks.register("debit", on_debit)
    yield seen
    if previous is not None:
        callbacks.register("debit", previous)
    else:
        callbacks.unregister("debit")


def event(**overrides: Any) -> dict[str, Any]:
    body = {"event_id": "evt_1", "kind": "debit", "key": "topup:1", "bank_ref": "BR1", "reference": "T1",
            "amount": 10_000, "status": "succeeded", "reason": None, "occurred_at": datetime.now(UTC).isoformat(),
            "merchant": "QIANBAO-DEV"}
    body.update(overrides)
    return body


def post(client: Any, settings: Any, payload: Any, *, secret: str | None = None, now: float | None = None,
         headers: dict[str, str] | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = headers if headers is not None else signing.sign(
        secret or settings.bank_callback_secret, settings.bank_merchant_id, "POST", PATH, body,
        now=time.time() if now is None else now)
    return client.post(PATH, content=body, headers={**sent, "content-type": "application/json"})


def counts(db: Any) -> tuple[int, int]:
    with db.read() as session:
        return (session.scalar(select(func.count()).select_from(BankCallbackEvent)) or 0,
                session.scalar(select(func.count()).select_from(BankCallbackNonce)) or 0)


def test_a_genuine_callback_is_accepted_and_handled(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    response = post(client, settings, event(status="failed", reason="INSUFFICIENT_FUNDS"))
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    (got,) = handled
    assert (got.kind, got.key, got.amount, got.status, got.reason, got.bank_reason) == (
        "debit", "topup:1", 10_000, "failed", "BANK_INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS")
    assert counts(db) == (1, 1)


def test_the_same_event_delivered_again_changes_nothing(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    post(client, settings, event())
    again = post(client, settings, event())  # the bank's retry: a new nonce, the same event
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(handled) == 1
    assert counts(db)[0] == 1


def test_a_forged_signature_is_refused_and_changes_nothing(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    response = post(client, settings, event(), secret="not-the-secret")
    assert (response.status_code, response.json()["code"]) == (401, "BANK_CALLBACK_SIGNATURE_INVALID")
    assert handled == [] and counts(db) == (0, 0)


def test_a_callback_signed_with_the_request_secret_is_refused(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    response = post(client, settings, event(), secret=settings.bank_api_secret)
    assert (response.status_code, response.json()["code"]) == (401, "BANK_CALLBACK_SIGNATURE_INVALID")
    assert handled == []


def test_a_changed_body_is_refused(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(event()).encode()
    headers = signing.sign(settings.bank_callback_secret, settings.bank_merchant_id, "POST", PATH, body)
    response = post(client, settings, body.replace(b"10000", b"99999"), headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "BANK_CALLBACK_SIGNATURE_INVALID")
    assert handled == [] and counts(db) == (0, 0)


def test_an_unsigned_callback_is_refused(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    response = post(client, settings, event(), headers={})
    assert (response.status_code, response.json()["code"]) == (401, "BANK_CALLBACK_SIGNATURE_INVALID")
    assert handled == []


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_stale_timestamp_is_refused_and_changes_nothing(client, db, settings, handled, skew) -> None:  # type: ignore[no-untyped-def]
    response = post(client, settings, event(), now=time.time() + skew)
    assert (response.status_code, response.json()["code"]) == (401, "BANK_CALLBACK_STALE")
    assert handled == [] and counts(db) == (0, 0)


def test_a_replayed_nonce_is_refused_and_changes_nothing(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(event()).encode()
    headers = signing.sign(settings.bank_callback_secret, settings.bank_merchant_id, "POST", PATH, body)
    assert post(client, settings, body, headers=headers).status_code == 200
    before = counts(db)
    # the same request again, and the same nonce on another event
    other = json.dumps(event(event_id="evt_2")).encode()
    forged = signing.sign(settings.bank_callback_secret, settings.bank_merchant_id, "POST", PATH, other,
                          nonce=headers[signing.NONCE])
    for replay in (post(client, settings, body, headers=headers), post(client, settings, other, headers=forged)):
        assert (replay.status_code, replay.json()["code"]) == (401, "BANK_CALLBACK_REPLAYED")
    assert len(handled) == 1 and counts(db) == before


def test_a_malformed_body_is_refused(client, db, settings, handled) -> None:  # type: ignore[no-untyped-def]
    for bad in (b"not json", event(amount=-1), event(kind="refund"), event(status="maybe"), event(occurred_at="x")):
        response = post(client, settings, bad)
        assert (response.status_code, response.json()["code"]) == (400, "BANK_CALLBACK_MALFORMED")
    assert handled == [] and counts(db) == (0, 0)


def test_without_a_handler_the_bank_is_asked_to_deliver_again_later(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    previous = callbacks.handler_for("credit")
    callbacks.unregister("credit")
    try:
        response = post(client, settings, event(kind="credit"))
    finally:
        if previous is not None:
            callbacks.register("credit", previous)
    assert (response.status_code, response.json()["code"]) == (503, "BANK_CALLBACK_UNHANDLED")
    assert counts(db) == (0, 0), "nothing kept: the next delivery is handled as new"


def test_a_handler_that_fails_rolls_the_event_back_for_a_later_delivery(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    previous = callbacks.handler_for("debit")
    calls: list[int] = []

    def broken(session: Any, got: callbacks.BankEvent) -> None:
        from qianbao.errors import QianbaoError

        calls.append(1)
        raise QianbaoError("NOT_FOUND")

    callbacks.register("debit", broken)
    try:
        first = post(client, settings, event())
        second = post(client, settings, event())
    finally:
        callbacks.unregister("debit")
        if previous is not None:
            callbacks.register("debit", previous)
    assert first.status_code == second.status_code == 404
    assert len(calls) == 2 and counts(db) == (0, 0)


def test_old_nonces_are_forgotten(db) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(BankCallbackNonce(merchant="M", nonce="old" * 6, received_at=now - timedelta(minutes=11)))
        session.add(BankCallbackNonce(merchant="M", nonce="new" * 6, received_at=now - timedelta(minutes=9)))
    with db.transaction() as session:
        assert callbacks.prune_nonces(session) == 1
    assert counts(db)[1] == 1


def test_an_unknown_kind_cannot_be_registered() -> None:
    with pytest.raises(ValueError):
        callbacks.register("refund", lambda session, event: None)
