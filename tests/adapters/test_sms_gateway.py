"""The dev SMS gateway behaves like a provider: one text per message id, mainland mobiles only,
a length cap, simulated failures worth retrying, and a record tests and the demo can read, kept
encrypted because it sits in the wallet's own database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from qianbao.adapters.sms import (
    MAX_TEXT_CHARS,
    SmsPermanentError,
    SmsTransientError,
    gateway_from_settings,
    latest_messages,
    recipient,
)
from qianbao.adapters.sms.dev import DevSmsGateway
from qianbao.pii.hashing import lookup_hash

# The rows are encrypted and the filter by number hashes it: both need the keys.
pytestmark = pytest.mark.usefixtures("keyring")


def read_all(db, phone=None):
    with db.read() as session:
        return [(m.message_id, m.phone, m.text) for m in latest_messages(session, phone=phone)]


def test_a_message_id_is_sent_once_however_often_it_is_handed_over(db):
    gateway = DevSmsGateway(db)

    first = gateway.send("m-1", "13800138000", "验证码 111111")
    again = gateway.send("m-1", "13800138000", "验证码 111111")

    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.provider_id == again.provider_id
    assert read_all(db) == [("m-1", "+8613800138000", "验证码 111111")]


@pytest.mark.parametrize(
    "phone", ["12345", "010-12345678", "+85291234567", "+853 6612 3456", "+1 650 253 0000", "手机号", ""]
)
def test_a_number_that_is_not_a_mainland_mobile_is_refused_for_good(db, phone):
    with pytest.raises(SmsPermanentError) as refused:
        DevSmsGateway(db).send("m-1", phone, "您好")

    assert refused.value.reason == "PHONE_INVALID"
    assert read_all(db) == []


@pytest.mark.parametrize("spelling", ["13800138000", "+86 138 0013 8000", "8613800138000", "138-0013-8000"])
def test_common_spellings_of_a_mobile_number_are_accepted_and_kept_in_e164(db, spelling):
    DevSmsGateway(db).send("m-1", spelling, "您好")

    assert read_all(db, phone="13800138000") == [("m-1", "+8613800138000", "您好")]


def test_a_text_over_the_length_cap_is_refused_for_good(db):
    gateway = DevSmsGateway(db)

    with pytest.raises(SmsPermanentError) as refused:
        gateway.send("m-1", "13800138000", "长" * (MAX_TEXT_CHARS + 1))

    assert refused.value.reason == "TEXT_TOO_LONG"
    gateway.send("m-2", "13800138000", "长" * MAX_TEXT_CHARS)
    assert [m[0] for m in read_all(db)] == ["m-2"]


def test_an_empty_text_is_refused_for_good(db):
    with pytest.raises(SmsPermanentError) as refused:
        DevSmsGateway(db).send("m-1", "13800138000", "  ")
    assert refused.value.reason == "TEXT_EMPTY"


def test_simulated_provider_failures_are_transient_and_send_nothing(db):
    always_down = DevSmsGateway(db, failure_rate=1.0)

    with pytest.raises(SmsTransientError) as failed:
        always_down.send("m-1", "13800138000", "您好")

    assert failed.value.reason == "GATEWAY_UNAVAILABLE"
    assert read_all(db) == []


def test_failure_rate_fails_about_that_share_of_sends(db):
    gateway = DevSmsGateway(db, failure_rate=0.3, rng=random.Random(7))
    failures = 0
    for n in range(200):
        try:
            gateway.send(f"m-{n}", "13800138000", "您好")
        except SmsTransientError:
            failures += 1
    assert 40 <= failures <= 80
    with db.read() as session:
        assert len(latest_messages(session, limit=500)) == 200 - failures


def test_latest_messages_are_newest_first_and_filter_by_phone(db, time_machine):
    gateway = DevSmsGateway(db)
    start = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    for n, phone in enumerate(["13800138000", "13900139000", "13800138000"]):
        time_machine.move_to(start + timedelta(minutes=n), tick=False)
        gateway.send(f"m-{n}", phone, f"第 {n} 条")

    assert [m[0] for m in read_all(db)] == ["m-2", "m-1", "m-0"]
    assert [m[0] for m in read_all(db, phone="+86 138 0013 8000")] == ["m-2", "m-0"]
    with db.read() as session:
        assert [m.message_id for m in latest_messages(session, limit=1)] == ["m-2"]


def test_the_factory_builds_the_dev_gateway_from_settings(db, settings):
    gateway = gateway_from_settings(settings.model_copy(update={"sms_latency_ms": 7, "sms_failure_rate": 0.25}), db)

    assert isinstance(gateway, DevSmsGateway)
    assert (gateway.latency_ms, gateway.failure_rate) == (7, 0.25)


def test_the_gateway_applies_the_wallets_mobile_number_rule():
    assert recipient("+86 199 1234 5678") == "+8619912345678"
    with pytest.raises(SmsPermanentError) as landline:
        recipient("010 6552 9988")
    assert landline.value.reason == "PHONE_INVALID"


def test_a_filter_that_is_not_a_mobile_number_matches_nothing(db):
    DevSmsGateway(db).send("m-1", "13800138000", "您好")

    assert read_all(db, phone="138") == []
    assert read_all(db, phone="不是号码") == []


def test_the_number_and_the_text_are_stored_encrypted_and_found_by_their_look_up_hash(db, keyring):
    DevSmsGateway(db).send("m-1", "138 0013 8000", "【钱包】您的验证码为 975310")

    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT phone, phone_hash, text FROM sandbox_sms_message")).one()
    assert row.phone.startswith(f"v1:{keyring.active}:") and row.text.startswith(f"v1:{keyring.active}:")
    assert "13800138000" not in row.phone and "975310" not in row.text
    assert row.phone_hash == lookup_hash("phone", "+8613800138000")


def test_sent_at_reads_back_as_aware_utc(db, time_machine):
    sent = datetime(2026, 11, 25, 2, 0, 0, 123456, tzinfo=UTC)
    time_machine.move_to(sent, tick=False)
    DevSmsGateway(db).send("m-1", "13800138000", "您好")

    with db.read() as session:
        assert latest_messages(session)[0].created_at == sent
        assert latest_messages(session)[0].created_at.utcoffset() == timedelta(0)
