"""The transactional outbox: a message exists exactly when the change that caused it committed,
and the worker delivers it once, retrying with backoff and dead-lettering what cannot go."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from qianbao.notices import delivery, outbox
from qianbao.notices.delivery import backoff_seconds, deliver_due
from qianbao.notices.models import DEAD, PENDING, SENT, OutboxMessage

PHONE = "13800138000"
SENT_TO = "+8613800138000"  # the gateway keeps the number in E.164
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def count_messages(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(db, settings, dev_gateway, sandbox_texts):
    class BusinessRefusal(Exception):
        pass

    with pytest.raises(BusinessRefusal), db.transaction() as session:
        outbox.enqueue_sms(session, PHONE, text="您的钱包已开通")
        raise BusinessRefusal

    assert count_messages(db) == 0
    assert deliver_due(db, settings, gateway=dev_gateway) == 0
    assert sandbox_texts() == []


def test_enqueue_does_not_commit_the_callers_transaction(db):
    session = db.session()
    try:
        session.begin()
        outbox.enqueue(session, "inbox", {"recipient_id": 1, "title_key": "a", "body_key": "b"})
        session.execute(text("SELECT 1"))
        assert count_messages(db) == 0  # another session does not see it yet
        session.rollback()
    finally:
        session.close()
    assert count_messages(db) == 0


def test_committed_message_is_delivered_once(db, settings, dev_gateway, sandbox_texts, outbox_row):
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="您的钱包已开通")

    assert deliver_due(db, settings, gateway=dev_gateway) == 1
    assert deliver_due(db, settings, gateway=dev_gateway) == 0

    assert sandbox_texts() == [(SENT_TO, "您的钱包已开通")]
    row = outbox_row(message_id)
    assert row.status == SENT
    assert row.attempts == 0
    assert row.sent_at is not None
    assert row.claim_token is None and row.locked_until is None


def test_the_same_dedupe_key_enqueues_one_message(db, settings, dev_gateway, sandbox_texts):
    with db.transaction() as session:
        first = outbox.enqueue_sms(session, PHONE, text="开户通知", dedupe_key="wallet-opened:42")
    with db.transaction() as session:
        second = outbox.enqueue_sms(session, PHONE, text="开户通知", dedupe_key="wallet-opened:42")

    assert first == second
    assert count_messages(db) == 1
    deliver_due(db, settings, gateway=dev_gateway)
    assert len(sandbox_texts()) == 1


def test_sms_text_from_a_catalogue_key_is_rendered_in_the_requested_language(db, settings, dev_gateway, sandbox_texts):
    with db.transaction() as session:
        outbox.enqueue_sms(session, PHONE, key="ops.sms.outbox", params={"pending": 1, "sent": 2, "dead": 3}, lang="en")

    deliver_due(db, settings, gateway=dev_gateway)

    assert sandbox_texts() == [(SENT_TO, "Outbox: 1 pending · 2 sent · 3 failed")]


def test_transient_failures_are_retried_with_growing_backoff_then_delivered(
    db, settings, scripted, sandbox_texts, outbox_row, time_machine
):
    time_machine.move_to(START, tick=False)
    gateway = scripted(failures=3)
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="验证码 123456")

    waits: list[float] = []
    for attempt in (1, 2, 3):
        now = datetime.now(UTC)
        assert deliver_due(db, settings, gateway=gateway) == 1
        row = outbox_row(message_id)
        assert (row.status, row.attempts) == (PENDING, attempt)
        assert "GATEWAY_UNAVAILABLE" in (row.last_error or "")
        wait = (row.available_at - now).total_seconds()
        ceiling = min(settings.outbox_backoff_max_seconds, settings.outbox_backoff_base_seconds * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
        waits.append(wait)
        # Not due yet: a worker passing by now leaves it alone.
        time_machine.move_to(row.available_at - timedelta(milliseconds=1), tick=False)
        assert deliver_due(db, settings, gateway=gateway) == 0
        time_machine.move_to(row.available_at, tick=False)

    assert waits == sorted(waits)
    assert waits[0] < waits[2]
    assert deliver_due(db, settings, gateway=gateway) == 1
    assert outbox_row(message_id).status == SENT
    assert sandbox_texts() == [(SENT_TO, "验证码 123456")]
    assert len(gateway.calls) == 4


def test_backoff_doubles_and_is_capped_by_settings(settings):
    capped = settings.model_copy(update={"outbox_backoff_base_seconds": 2.0, "outbox_backoff_max_seconds": 10.0})
    lowest = random.Random()
    lowest.random = lambda: 0.0  # type: ignore[method-assign]
    highest = random.Random()
    highest.random = lambda: 1.0  # type: ignore[method-assign]

    assert [backoff_seconds(n, capped, highest) for n in range(1, 7)] == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert [backoff_seconds(n, capped, lowest) for n in range(1, 5)] == [1.0, 2.0, 4.0, 5.0]
    assert backoff_seconds(5000, capped, highest) == 10.0


def test_permanent_failure_is_dead_at_once_with_its_error(db, settings, scripted, sandbox_texts, outbox_row):
    gateway = scripted()
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, "12345", text="您的钱包已开通")

    assert deliver_due(db, settings, gateway=gateway) == 1

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == (DEAD, 1)
    assert "PHONE_INVALID" in (row.last_error or "")
    assert sandbox_texts() == []
    assert deliver_due(db, settings, gateway=gateway) == 0


def test_message_of_an_unknown_kind_is_dead(db, settings, dev_gateway, outbox_row):
    with db.transaction() as session:
        message_id = outbox.enqueue(session, "carrier-pigeon", {"to": "somewhere"})

    deliver_due(db, settings, gateway=dev_gateway)

    row = outbox_row(message_id)
    assert row.status == DEAD
    assert "UNKNOWN_KIND" in (row.last_error or "")


def test_message_is_dead_after_the_maximum_attempts(db, settings, scripted, sandbox_texts, outbox_row, time_machine):
    time_machine.move_to(START, tick=False)
    limited = settings.model_copy(update={"outbox_max_attempts": 3})
    gateway = scripted(failures=100)
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="验证码 654321")

    for _ in range(3):
        assert deliver_due(db, limited, gateway=gateway) == 1
        time_machine.move_to(outbox_row(message_id).available_at, tick=False)

    row = outbox_row(message_id)
    assert (row.status, row.attempts) == (DEAD, 3)
    assert "GATEWAY_UNAVAILABLE" in (row.last_error or "")
    time_machine.shift(timedelta(days=1))
    assert deliver_due(db, limited, gateway=gateway) == 0
    assert len(gateway.calls) == 3
    assert sandbox_texts() == []


def test_retry_dead_gives_dead_messages_a_fresh_start(db, settings, scripted, sandbox_texts, outbox_row):
    limited = settings.model_copy(update={"outbox_max_attempts": 1})
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="账户变动提醒")
    deliver_due(db, limited, gateway=scripted(failures=1))
    assert outbox_row(message_id).status == DEAD

    with db.transaction() as session:
        assert outbox.retry_dead(session) == 1
    deliver_due(db, limited, gateway=scripted())

    assert outbox_row(message_id).status == SENT
    assert sandbox_texts() == [(SENT_TO, "账户变动提醒")]


def test_crash_after_sending_before_marking_sent_produces_no_second_message(
    db, settings, scripted, sandbox_texts, outbox_row, time_machine, monkeypatch
):
    time_machine.move_to(START, tick=False)
    gateway = scripted()
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="验证码 246810")

    class Crash(BaseException):
        pass

    def crash(*_args, **_kwargs):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_record_sent", crash)
        with pytest.raises(Crash):
            deliver_due(db, settings, gateway=gateway)

    assert sandbox_texts() == [(SENT_TO, "验证码 246810")]
    assert outbox_row(message_id).status == PENDING
    # The dead worker's lease still holds: nobody takes the message over yet.
    assert deliver_due(db, settings, gateway=gateway) == 0

    time_machine.shift(timedelta(seconds=delivery.LEASE_SECONDS))
    assert deliver_due(db, settings, gateway=gateway) == 1

    assert gateway.calls == [delivery.idempotency_key(message_id)] * 2
    assert sandbox_texts() == [(SENT_TO, "验证码 246810")]
    assert outbox_row(message_id).status == SENT


def test_sent_sms_no_longer_keeps_the_number_or_the_text_in_the_outbox(db, settings, dev_gateway, outbox_row):
    with db.transaction() as session:
        literal = outbox.enqueue_sms(session, PHONE, text="验证码 135790")
        templated = outbox.enqueue_sms(session, PHONE, key="ops.sms.empty")

    deliver_due(db, settings, gateway=dev_gateway)

    assert outbox_row(literal).payload == {"redacted": True}
    assert outbox_row(templated).payload == {"redacted": True, "key": "ops.sms.empty"}


def test_status_counts_tell_pending_sent_and_dead(db, settings, dev_gateway):
    with db.transaction() as session:
        outbox.enqueue_sms(session, PHONE, text="一")
        outbox.enqueue_sms(session, "12345", text="二")
    deliver_due(db, settings, gateway=dev_gateway)
    with db.transaction() as session:
        outbox.enqueue_sms(session, PHONE, text="三")

    with db.read() as session:
        assert outbox.status_counts(session) == {PENDING: 1, SENT: 1, DEAD: 1}


def test_a_pending_payload_is_stored_encrypted_and_read_back_whole(db, keyring, outbox_row):
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="【钱包】您的验证码为 864209")

    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT payload FROM outbox_message")).scalar_one()
    assert stored.startswith(f"v1:{keyring.active}:")
    assert PHONE not in stored and "864209" not in stored
    assert outbox_row(message_id).payload == {"phone": PHONE, "text": "【钱包】您的验证码为 864209"}


def test_outbox_times_read_back_as_aware_utc(db, settings, dev_gateway, outbox_row, time_machine):
    time_machine.move_to(START, tick=False)
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, PHONE, text="您好")
    deliver_due(db, settings, gateway=dev_gateway)

    row = outbox_row(message_id)
    assert (row.created_at, row.available_at, row.sent_at) == (START, START, START)
    assert {t.utcoffset() for t in (row.created_at, row.available_at, row.sent_at)} == {timedelta(0)}
