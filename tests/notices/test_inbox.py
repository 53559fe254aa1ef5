"""In-app notices: written once per outbox message, listed newest first, read only by their recipient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from qianbao.errors import QianbaoError
from qianbao.notices import delivery, inbox, outbox
from qianbao.notices.delivery import deliver_due
from qianbao.notices.models import DEAD, SENT, InboxNotice, OutboxMessage

ALICE, BOB = 101, 202


def deliver_inbox(db, settings) -> int:
    return deliver_due(db, settings)


def test_inbox_message_becomes_one_notice_for_its_recipient(db, settings):
    with db.transaction() as session:
        outbox.enqueue_inbox(session, ALICE, "notice.opened.title", "notice.opened.body", {"tier": 1})

    assert deliver_inbox(db, settings) == 1
    assert deliver_inbox(db, settings) == 0

    with db.read() as session:
        notices = inbox.list_notices(session, ALICE)
        assert [(n.title_key, n.body_key, n.params, n.is_read) for n in notices] == [
            ("notice.opened.title", "notice.opened.body", {"tier": 1}, False)
        ]
        assert inbox.list_notices(session, BOB) == []
        assert session.scalar(select(OutboxMessage.status)) == SENT


def test_inbox_notice_written_twice_for_one_message_is_kept_once(db, settings, monkeypatch, time_machine):
    time_machine.move_to(datetime(2026, 11, 25, 2, 0, tzinfo=UTC), tick=False)
    with db.transaction() as session:
        outbox.enqueue_inbox(session, ALICE, "notice.credit.title", "notice.credit.body", {"amount": 1000})

    class Crash(BaseException):
        pass

    def crash(*_args, **_kwargs):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_record_sent", crash)
        with pytest.raises(Crash):
            deliver_inbox(db, settings)
    time_machine.shift(timedelta(seconds=delivery.LEASE_SECONDS))
    assert deliver_inbox(db, settings) == 1

    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(InboxNotice)) == 1


def test_inbox_message_without_a_recipient_is_dead(db, settings):
    with db.transaction() as session:
        outbox.enqueue(session, outbox.INBOX, {"title_key": "t", "body_key": "b"})

    deliver_inbox(db, settings)

    with db.read() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.status == DEAD
        assert "PAYLOAD_INVALID" in (row.last_error or "")


def test_notices_are_listed_newest_first_and_marked_read_by_their_recipient(db, settings, time_machine):
    time_machine.move_to(datetime(2026, 11, 25, 2, 0, tzinfo=UTC), tick=False)
    for key in ("first", "second"):
        with db.transaction() as session:
            outbox.enqueue_inbox(session, ALICE, f"{key}.title", f"{key}.body")
        deliver_inbox(db, settings)
        time_machine.shift(timedelta(minutes=1))

    with db.read() as session:
        newest, oldest = inbox.list_notices(session, ALICE)
        assert (newest.title_key, oldest.title_key) == ("second.title", "first.title")
        assert inbox.unread_count(session, ALICE) == 2

    with db.transaction() as session:
        inbox.mark_read(session, ALICE, oldest.id)
    with db.read() as session:
        assert [n.title_key for n in inbox.list_notices(session, ALICE, unread_only=True)] == ["second.title"]

    with db.transaction() as session:
        assert inbox.mark_all_read(session, ALICE) == 1
    with db.read() as session:
        assert inbox.unread_count(session, ALICE) == 0


def test_someone_elses_notice_cannot_be_marked_read(db, settings):
    with db.transaction() as session:
        outbox.enqueue_inbox(session, ALICE, "t", "b")
    deliver_inbox(db, settings)
    with db.read() as session:
        (notice,) = inbox.list_notices(session, ALICE)

    with pytest.raises(QianbaoError) as refused, db.transaction() as session:
        inbox.mark_read(session, BOB, notice.id)

    assert refused.value.code == "NOT_FOUND"
    with db.read() as session:
        assert inbox.unread_count(session, ALICE) == 1
