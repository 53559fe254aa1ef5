"""Concurrent writers append to one chain: no fork, no duplicate number, no gap (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from qianbao import audit
from qianbao.audit.models import AuditEntry
from qianbao.audit.verify import verify
from qianbao.db import Database

THREADS = 8
PER_THREAD = 15


def _run_writers(db: Database, body) -> list[BaseException]:  # type: ignore[no-untyped-def]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(PER_THREAD):
                body(n, i)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_writers_never_fork_the_chain(db: Database) -> None:
    def body(n: int, i: int) -> None:
        with db.transaction() as session:
            audit.record(session, action="staff.login", actor=audit.Actor.staff(n, "BJ001"), channel="counter",
                         details={"attempt": i})

    assert _run_writers(db, body) == []
    result = verify(db)
    assert result.ok, result.problem
    assert result.checked == result.last_seq == THREADS * PER_THREAD
    with db.read() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert sorted((e.actor_id, e.details["attempt"]) for e in entries) == sorted(
        (str(n), i) for n in range(THREADS) for i in range(PER_THREAD)
    )


def test_concurrent_writers_some_rolling_back_leave_a_gapless_chain(db: Database) -> None:
    class Abandoned(Exception):
        pass

    def body(n: int, i: int) -> None:
        try:
            with db.transaction() as session:
                audit.record(session, action="wallet.freeze", actor=audit.Actor.staff(n), channel="ops")
                if (n + i) % 3 == 0:
                    raise Abandoned
        except Abandoned:
            pass

    assert _run_writers(db, body) == []
    kept = sum(1 for n in range(THREADS) for i in range(PER_THREAD) if (n + i) % 3)
    result = verify(db)
    assert result.ok, result.problem
    assert result.checked == result.last_seq == kept
