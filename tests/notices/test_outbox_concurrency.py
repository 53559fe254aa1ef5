"""Several workers deliver the same outbox at once without ever sending a message twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import event, select

from qianbao.db import Database
from qianbao.notices import outbox
from qianbao.notices.delivery import deliver_due
from qianbao.notices.models import SENT, OutboxMessage

MESSAGES = 24


def test_two_workers_delivering_concurrently_never_send_a_message_twice(db, settings, scripted, sandbox_texts):
    with db.transaction() as session:
        for n in range(MESSAGES):
            outbox.enqueue_sms(session, f"1380013{n:04d}", text=f"第 {n} 条通知")

    # Each worker's first send waits until the other worker is sending too, so both hold leases on
    # messages at the same moment: the case where a double claim would show.
    both_sending = threading.Barrier(2)
    first_send = threading.local()

    def rendezvous() -> None:
        if not getattr(first_send, "done", False):
            first_send.done = True
            both_sending.wait(timeout=30)

    gateway = scripted(before_send=rendezvous)
    delivered = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            while done := deliver_due(db, settings, limit=3, gateway=gateway):
                delivered[name] += done
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in delivered]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert delivered["a"] > 0 and delivered["b"] > 0
    assert sum(delivered.values()) == MESSAGES
    sends = Counter(gateway.calls)
    assert len(sends) == MESSAGES and set(sends.values()) == {1}
    assert len(sandbox_texts()) == MESSAGES
    with db.read() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {SENT}


def test_a_worker_skips_messages_another_worker_is_still_claiming(backend, database_url, db, settings, dev_gateway):
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole claims with BEGIN IMMEDIATE")
    with db.transaction() as session:
        held = outbox.enqueue_sms(session, "13800138000", text="一")
        free = outbox.enqueue_sms(session, "13800138001", text="二")

    # A second worker whose claim would fail fast, rather than hang, if it waited on the held row.
    other = Database(database_url)
    event.listen(other.engine, "connect", lambda conn, _rec: conn.execute("SET lock_timeout = '5s'"))
    try:
        with db.transaction() as claiming:
            claiming.execute(select(OutboxMessage).where(OutboxMessage.id == held).with_for_update())
            assert deliver_due(other, settings, gateway=dev_gateway) == 1
        with db.read() as session:
            assert session.get(OutboxMessage, free).status == SENT
            assert session.get(OutboxMessage, held).status != SENT
    finally:
        other.dispose()
